#!/usr/bin/env bash
# Install into .venv (once) with the test tools and the LLM tests' llama.cpp server, and run every test, slow ones included.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh test,app,llm
. "${QA_VENV:-.venv}/bin/activate"
exec python -m pytest "$@"
