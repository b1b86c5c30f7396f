#!/usr/bin/env bash
# Install into .venv (once), then start the chat app on 127.0.0.1:7860; it builds the index of seeds/ first when missing or stale.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh
. "${QA_VENV:-.venv}/bin/activate"
exec python app.py "$@"
