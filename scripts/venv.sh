#!/usr/bin/env bash
# Create .venv (once) and install the project with its test tools; CPU torch comes from this pin.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${QA_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
. "$VENV/bin/activate"
# An unpinned torch pulls a multi-GB CUDA build; 2.13.0 is the CPU build.
pip install --quiet --disable-pip-version-check torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
pip install --quiet --disable-pip-version-check -e '.[test,app]' 2>&1 | grep -v "^WARNING: Location" || true
python -c "import qa, torch, faiss, sentence_transformers" 
