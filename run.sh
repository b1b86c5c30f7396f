#!/usr/bin/env bash
# Install the app into .venv (once), then start the chat on 127.0.0.1:7860; it builds the index of seeds/ first when
# missing or stale. Flags go to the app (./run.sh --help); --debug shows the libraries' log lines too.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh app
. "${QA_VENV:-.venv}/bin/activate"
exec python app.py "$@"
