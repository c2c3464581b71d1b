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

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SVC_SCRIPT=s3.sh
SVC_USAGE_LINES=2,15
SVC_NAME=s3s-fs
SVC_WHAT=s3s-fs
SVC_FILES=s3s-fs
SVC_MATCH=s3s-fs
SVC_PORT="$S3_PORT"
SVC_PORT_VAR=S3_PORT
SVC_SHOWN=/data

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

cmd_start() {
  local dir pid
  dir="$(data_dir "${1:-}")"
  if already_running "$dir"; then
    return 0
  fi
  installed || die "s3s-fs $S3S_VERSION is not installed; run: $0 install"
  check_port_free
  # s3s-fs maps bucket NAME to the directory DATA/NAME: making it creates the bucket.
  mkdir -p "$dir/data/$S3_BUCKET"
  "$S3S_BIN" --host 127.0.0.1 --port "$S3_PORT" \
    --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" \
    "$dir/data" </dev/null >>"$dir/s3s-fs.log" 2>&1 &
  pid=$!
  wait_started "$dir" "$pid"
  echo "s3s-fs started (pid $pid) on http://127.0.0.1:$S3_PORT, bucket $S3_BUCKET; data $dir/data, log $dir/s3s-fs.log"
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
