#!/usr/bin/env bash
# Install into .venv (once) and run every test, slow ones included.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh
. "${QA_VENV:-.venv}/bin/activate"
exec python -m pytest "$@"
