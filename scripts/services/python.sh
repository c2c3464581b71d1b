#!/usr/bin/env bash
# A Python virtual environment for the tests: the python the GCS emulator of gcs.sh runs on, and the
# readers that check what pinpipe writes (deltalake reads Delta tables, pyarrow, duckdb).
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
STAMP="$PINPIPE_VENV/pinpipe-requirements.txt"

# Pinned: change a version here and the next `install` brings the venv up to it.
REQUIREMENTS="deltalake==1.6.6
pyarrow==26.0.1
duckdb==2.0.1"

die() {
  echo "python.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

up_to_date() {
  [ -x "$PINPIPE_VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$REQUIREMENTS" ] \
    && "$PINPIPE_VENV/bin/python" -c 'import sys' 2>/dev/null
}

# `python3 -m venv` needs ensurepip, which Debian ships apart (python3-venv).
ensure_venv_module() {
  command -v "$PYTHON" >/dev/null 2>&1 || {
    echo "no $PYTHON: installing Debian's python3"
    apt_install python3
  }
  local probe
  probe="$(mktemp -d)"
  if "$PYTHON" -m venv "$probe/v" >/dev/null 2>&1 && [ -x "$probe/v/bin/pip" ]; then
    rm -rf "$probe"
    return 0
  fi
  rm -rf "$probe"
  echo "'$PYTHON -m venv' cannot make a venv with pip: installing Debian's python3-venv python3-pip"
  apt_install python3-venv python3-pip
  # Debian's python3 may not be the one $PYTHON names (e.g. a pyenv shim): fall back to it.
  probe="$(mktemp -d)"
  if ! { "$PYTHON" -m venv "$probe/v" >/dev/null 2>&1 && [ -x "$probe/v/bin/pip" ]; }; then
    PYTHON=/usr/bin/python3
    "$PYTHON" -m venv "$probe/v" >/dev/null 2>&1 && [ -x "$probe/v/bin/pip" ] \
      || { rm -rf "$probe"; die "'python3 -m venv' still fails after installing python3-venv"; }
  fi
  rm -rf "$probe"
}

apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

cmd_install() {
  if up_to_date; then
    echo "python venv up to date: $PINPIPE_VENV"
    return 0
  fi
  ensure_venv_module
  if [ ! -x "$PINPIPE_VENV/bin/python" ] || ! "$PINPIPE_VENV/bin/python" -c 'import sys' 2>/dev/null; then
    echo "creating the venv $PINPIPE_VENV"
    rm -rf "$PINPIPE_VENV"
    mkdir -p "$(dirname "$PINPIPE_VENV")"
    "$PYTHON" -m venv "$PINPIPE_VENV" || die "could not create $PINPIPE_VENV"
  fi
  rm -f "$STAMP"
  local req
  req="$(mktemp)"
  printf '%s\n' "$REQUIREMENTS" >"$req"
  echo "pip-installing into $PINPIPE_VENV: $(echo $REQUIREMENTS)"
  "$PINPIPE_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --only-binary :all: -r "$req" || { rm -f "$req"; die "pip install failed (see above)"; }
  rm -f "$req"
  "$PINPIPE_VENV/bin/python" -c 'import deltalake, pyarrow, duckdb' || die "an installed package fails to import"
  printf '%s' "$REQUIREMENTS" >"$STAMP"
  echo "python venv ready: $PINPIPE_VENV/bin"
}

case "${1:-}" in
  install) cmd_install ;;
  path) echo "$PINPIPE_VENV/bin" ;;
  *) usage ;;
esac
