# Shared by python.sh and airflow.sh: a pinned Python virtual environment, created with
# `python3 -m venv` (Debian's python3-venv installed when ensurepip is missing) and filled by pip
# from PyPI. Not run on its own: a script sources it with
#
#   source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
#
# and sets these before calling venv_install or venv_up_to_date:
#
#   VENV_SCRIPT        the script's name, prefix of its error messages (python.sh)
#   VENV_DIR           the venv's folder
#   VENV_REQUIREMENTS  the pinned requirements, one per line; the stamp file keeps what was installed
#   VENV_PIP_FLAGS     extra pip flags (--only-binary :all: or --prefer-binary)
#   VENV_IMPORTS       a Python statement that must run in the finished venv (import ...)
#   VENV_BINS          programs that must exist in the venv's bin dir ("" for python only)
#   PYTHON             the python that makes the venv (python3)

die() {
  echo "$VENV_SCRIPT: $*" >&2
  exit 1
}

venv_stamp() { echo "$VENV_DIR/pinpipe-requirements.txt"; }

venv_up_to_date() {
  local b
  [ -x "$VENV_DIR/bin/python" ] || return 1
  for b in $VENV_BINS; do [ -x "$VENV_DIR/bin/$b" ] || return 1; done
  [ -f "$(venv_stamp)" ] && [ "$(cat "$(venv_stamp)")" = "$VENV_REQUIREMENTS" ] \
    && "$VENV_DIR/bin/python" -c 'import sys' 2>/dev/null
}

apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# True when $PYTHON can make a venv that has pip.
venv_module_works() {
  local probe rc=0
  probe="$(mktemp -d)"
  { "$PYTHON" -m venv "$probe/v" >/dev/null 2>&1 && [ -x "$probe/v/bin/pip" ]; } || rc=1
  rm -rf "$probe"
  return "$rc"
}

# `python3 -m venv` needs ensurepip, which Debian ships apart (python3-venv).
ensure_venv_module() {
  command -v "$PYTHON" >/dev/null 2>&1 || {
    echo "no $PYTHON: installing Debian's python3"
    apt_install python3
  }
  venv_module_works && return 0
  echo "'$PYTHON -m venv' cannot make a venv with pip: installing Debian's python3-venv python3-pip"
  apt_install python3-venv python3-pip
  venv_module_works && return 0
  # Debian's python3 may not be the one $PYTHON names (e.g. a pyenv shim): fall back to it.
  PYTHON=/usr/bin/python3
  venv_module_works || die "'python3 -m venv' still fails after installing python3-venv"
}

venv_install() {
  if venv_up_to_date; then
    echo "venv up to date: $VENV_DIR"
    return 0
  fi
  ensure_venv_module
  if [ ! -x "$VENV_DIR/bin/python" ] || ! "$VENV_DIR/bin/python" -c 'import sys' 2>/dev/null; then
    echo "creating the venv $VENV_DIR"
    rm -rf "$VENV_DIR"
    mkdir -p "$(dirname "$VENV_DIR")"
    "$PYTHON" -m venv "$VENV_DIR" || die "could not create $VENV_DIR"
  fi
  rm -f "$(venv_stamp)"
  local req
  req="$(mktemp)"
  printf '%s\n' "$VENV_REQUIREMENTS" >"$req"
  echo "pip-installing into $VENV_DIR: $(echo $VENV_REQUIREMENTS)"
  # shellcheck disable=SC2086 # VENV_PIP_FLAGS is a list of flags
  "$VENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    $VENV_PIP_FLAGS -r "$req" || { rm -f "$req"; die "pip install failed (see above)"; }
  rm -f "$req"
  "$VENV_DIR/bin/python" -c "$VENV_IMPORTS" || die "an installed package fails to import"
  printf '%s' "$VENV_REQUIREMENTS" >"$(venv_stamp)"
  echo "venv ready: $VENV_DIR/bin"
}
