#!/usr/bin/env bash
# A Python virtual environment for the tests: the python the GCS emulator of gcs.sh runs on, and the
# readers that check what pinpipe writes (deltalake reads Delta tables, pyarrow, duckdb), and
# selenium, which drives Debian's chromium through chromedriver for the dashboard's live test.
#
#   scripts/services/python.sh install   # create the venv and pip-install the pinned packages
#                                        # (skipped when the stamp file already lists them)
#   scripts/services/python.sh path      # print the venv's bin dir
#
# Environment: PINPIPE_VENV (default ~/.cache/pinpipe/venv), PYTHON (default python3).
# All packages come from PyPI as binary wheels (pip --only-binary :all:), nothing is compiled.
set -euo pipefail

PINPIPE_VENV="${PINPIPE_VENV:-$HOME/.cache/pinpipe/venv}"
PYTHON="${PYTHON:-python3}"
# Pinned: change a version here and the next `install` brings the venv up to it.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
VENV_SCRIPT=python.sh
VENV_DIR="$PINPIPE_VENV"
VENV_REQUIREMENTS="deltalake==1.6.6
pyarrow==26.0.1
duckdb==2.0.1
selenium==4.51.0"
VENV_PIP_FLAGS="--only-binary :all:"
VENV_IMPORTS="import deltalake, pyarrow, duckdb, selenium"
VENV_BINS=""

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

case "${1:-}" in
  install) venv_install ;;
  path) echo "$PINPIPE_VENV/bin" ;;
  *) usage ;;
esac
