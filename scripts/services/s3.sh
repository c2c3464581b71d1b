#!/usr/bin/env bash
# s3s-fs (https://crates.io/crates/s3s-fs), an S3-compatible server that keeps objects as files
# in a folder (each top-level directory is a bucket): the S3 store pinpipe is tested against.
#
#   scripts/services/s3.sh install      # cargo install s3s-fs 0.14.1 (skipped when installed)
#   scripts/services/s3.sh start DIR    # serve DIR/data on 127.0.0.1:$S3_PORT, bucket `pinpipe`
#   scripts/services/s3.sh stop DIR     # SIGTERM, then SIGKILL after 10 s
#   scripts/services/s3.sh status DIR   # exit 0 when the server of DIR is running
#   scripts/services/s3.sh url          # http://127.0.0.1:$S3_PORT
#   scripts/services/s3.sh env          # export lines for AWS_* (eval "$(s3.sh env)")
#
# Environment: S3S_ROOT (install root, default ~/.cache/pinpipe/s3s-fs), S3_PORT (default 58014).
# Credentials: access key `test`, secret `testsecret`; requests must be SigV4-signed, path-style.
# start writes DIR/s3s-fs.log and DIR/s3s-fs.pid. The server listens on 127.0.0.1 only.
set -euo pipefail

S3S_VERSION=0.14.1
S3S_ROOT="${S3S_ROOT:-$HOME/.cache/pinpipe/s3s-fs}"
S3S_BIN="$S3S_ROOT/bin/s3s-fs"
S3_PORT="${S3_PORT:-58014}"
S3_ACCESS_KEY=test
S3_SECRET_KEY=testsecret
S3_REGION=us-east-1
S3_BUCKET=pinpipe
START_TIMEOUT_SECS=60
STOP_TIMEOUT_SECS=10

die() {
  echo "s3.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

installed() {
  [ -x "$S3S_BIN" ] && "$S3S_BIN" --version 2>/dev/null | grep -qw "$S3S_VERSION"
}

cmd_install() {
  if installed; then
    echo "s3s-fs $S3S_VERSION already installed: $S3S_BIN"
    return 0
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found"
  echo "installing s3s-fs $S3S_VERSION into $S3S_ROOT (about 5-7 minutes on 2 cores the first time)"
  if ! cargo install s3s-fs --version "$S3S_VERSION" --features binary --locked --root "$S3S_ROOT"; then
    echo "s3.sh: 'cargo install --locked' failed; trying again without --locked (newest compatible dependencies)" >&2
    cargo install s3s-fs --version "$S3S_VERSION" --features binary --root "$S3S_ROOT" \
      || die "cargo install s3s-fs $S3S_VERSION failed"
  fi
  installed || die "$S3S_BIN does not report version $S3S_VERSION after installing"
}

# The data dir as an absolute path (created when missing).
data_dir() {
  [ -n "${1:-}" ] || usage
  mkdir -p "$1"
  (cd "$1" && pwd -P)
}

# True while process $1 exists and is not a zombie.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)"
  [ "$state" != Z ]
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null
}

# The pid of DIR's server when it is running (and really is s3s-fs), else nothing.
running_pid() {
  local pidfile="$1/s3s-fs.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # Guard against a recycled pid: the process must be an s3s-fs binary.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q s3s-fs || return 1
  echo "$pid"
}

cmd_start() {
  local dir pid
  dir="$(data_dir "${1:-}")"
  if pid="$(running_pid "$dir")"; then
    echo "s3s-fs already running (pid $pid, 127.0.0.1:$S3_PORT, $dir/data)"
    return 0
  fi
  installed || die "s3s-fs $S3S_VERSION is not installed; run: $0 install"
  if port_open; then
    die "127.0.0.1:$S3_PORT is already in use by another process; set S3_PORT"
  fi
  # s3s-fs maps bucket NAME to the directory DATA/NAME: making it creates the bucket.
  mkdir -p "$dir/data/$S3_BUCKET"
  "$S3S_BIN" --host 127.0.0.1 --port "$S3_PORT" \
    --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" \
    "$dir/data" </dev/null >>"$dir/s3s-fs.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/s3s-fs.pid"
  local waited=0
  until port_open; do
    if ! alive "$pid"; then
      echo "s3.sh: s3s-fs exited during start-up; $dir/s3s-fs.log:" >&2
      cat "$dir/s3s-fs.log" >&2
      rm -f "$dir/s3s-fs.pid"
      exit 1
    fi
    if [ "$waited" -ge $((START_TIMEOUT_SECS * 10)) ]; then
      echo "s3.sh: 127.0.0.1:$S3_PORT not accepting connections after ${START_TIMEOUT_SECS}s; $dir/s3s-fs.log:" >&2
      cat "$dir/s3s-fs.log" >&2
      cmd_stop "$dir" >&2 || true
      exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  echo "s3s-fs started (pid $pid) on http://127.0.0.1:$S3_PORT, bucket $S3_BUCKET; data $dir/data, log $dir/s3s-fs.log"
}

cmd_stop() {
  local dir pid
  dir="$(data_dir "${1:-}")"
  if ! pid="$(running_pid "$dir")"; then
    echo "s3s-fs not running ($dir)"
    rm -f "$dir/s3s-fs.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while alive "$pid"; do
    if [ "$waited" -ge $((STOP_TIMEOUT_SECS * 10)) ]; then
      echo "s3s-fs (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_SECS}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$dir/s3s-fs.pid"
  echo "s3s-fs stopped (pid $pid)"
}

cmd_status() {
  local dir pid
  dir="$(data_dir "${1:-}")"
  if pid="$(running_pid "$dir")"; then
    echo "s3s-fs running (pid $pid, 127.0.0.1:$S3_PORT, $dir/data)"
  else
    echo "s3s-fs not running ($dir)"
    return 1
  fi
}

cmd_env() {
  echo "export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY"
  echo "export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY"
  echo "export AWS_REGION=$S3_REGION"
  echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT"
  echo "export AWS_ALLOW_HTTP=true"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  url) echo "http://127.0.0.1:$S3_PORT" ;;
  env) cmd_env ;;
  *) usage ;;
esac
