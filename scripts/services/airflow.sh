#!/usr/bin/env bash
# Apache Airflow 3 in its own Python virtual environment, to run the DAG file that
# `pinpipe airflow-dag` writes with `airflow dags test` (no webserver, no scheduler, SQLite).
#
#   scripts/services/airflow.sh install   # create the venv, pip-install apache-airflow (skipped
#                                         # when the stamp file already lists it)
#   scripts/services/airflow.sh path      # print the venv's bin dir
#   scripts/services/airflow.sh dags-test DAG_FILE DAG_ID LOGICAL_DATE AIRFLOW_HOME_DIR
#                                         # copy DAG_FILE into AIRFLOW_HOME_DIR/dags, `airflow db
#                                         # migrate`, `airflow dags test DAG_ID LOGICAL_DATE`; exits
#                                         # with its code (1 when a task fails)
#
# Environment: PINPIPE_AIRFLOW_VENV (default ~/.cache/pinpipe/airflow-venv), PYTHON (default python3).
# Packages come from PyPI, as binary wheels where one exists (pip --prefer-binary). Everything runs
# locally: SQLite in AIRFLOW_HOME_DIR, tasks in-process, no example DAGs, no usage data sent.
set -euo pipefail

PINPIPE_AIRFLOW_VENV="${PINPIPE_AIRFLOW_VENV:-$HOME/.cache/pinpipe/airflow-venv}"
PYTHON="${PYTHON:-python3}"
# Pinned: change the version here and the next `install` brings the venv up to it.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
VENV_SCRIPT=airflow.sh
VENV_DIR="$PINPIPE_AIRFLOW_VENV"
VENV_REQUIREMENTS="apache-airflow==3.3.2"
VENV_PIP_FLAGS="--prefer-binary"
VENV_IMPORTS="import airflow, airflow.sdk, airflow.providers.standard.operators.bash"
VENV_BINS="airflow"

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Prints the last lines of the `dags test` output and of any task log Airflow wrote (for a failure).
show_logs() {
  local home="$1" f
  while IFS= read -r f; do
    echo "----- $f (tail) -----" >&2
    tail -n 60 "$f" >&2
  done < <({ echo "$home/dags-test.log"; find "$home/logs" -type f -name '*.log' 2>/dev/null | sort; } \
    | while IFS= read -r f; do [ -f "$f" ] && echo "$f"; done)
}

cmd_dags_test() {
  [ $# -eq 4 ] || usage
  local dag_file="$1" dag_id="$2" logical_date="$3" home="$4"
  [ -f "$dag_file" ] || die "no DAG file $dag_file"
  venv_up_to_date || die "airflow is not installed: run '$0 install' first"
  mkdir -p "$home/dags"
  home="$(cd "$home" && pwd -P)"
  cp "$dag_file" "$home/dags/"

  local bin="$PINPIPE_AIRFLOW_VENV/bin"
  export AIRFLOW_HOME="$home"
  export AIRFLOW__CORE__LOAD_EXAMPLES=False
  export AIRFLOW__CORE__DAGS_FOLDER="$home/dags"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$home/airflow.db"
  # Stay offline: no telemetry, no version check.
  export AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False
  export SCARF_ANALYTICS=false
  export DO_NOT_TRACK=1

  echo "airflow db migrate (log: $home/db-migrate.log)"
  if ! "$bin/airflow" db migrate >"$home/db-migrate.log" 2>&1; then
    echo "airflow.sh: 'airflow db migrate' failed; $home/db-migrate.log:" >&2
    cat "$home/db-migrate.log" >&2
    exit 1
  fi

  echo "airflow dags test $dag_id $logical_date (log: $home/dags-test.log)"
  local rc=0
  "$bin/airflow" dags test "$dag_id" "$logical_date" 2>&1 | tee "$home/dags-test.log" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "airflow.sh: 'airflow dags test $dag_id $logical_date' exited with $rc" >&2
    show_logs "$home"
  fi
  exit "$rc"
}

case "${1:-}" in
  install) venv_install ;;
  path) echo "$PINPIPE_AIRFLOW_VENV/bin" ;;
  dags-test) shift; cmd_dags_test "$@" ;;
  *) usage ;;
esac
