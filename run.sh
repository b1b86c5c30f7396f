#!/usr/bin/env bash
# Install into .venv (once), build the index of seeds/ when it is missing or stale, then ask a question.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh
. "${QA_VENV:-.venv}/bin/activate"
qa build seeds
qa search "${1:-متى يزور أولوند موسكو؟}" -k 3
