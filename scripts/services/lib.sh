# Shared by the service scripts that run a server as a plain background process (tansu.sh, s3.sh,
# gcs.sh): pid and port checks, the wait for the port on start, stop (SIGTERM, then SIGKILL after
# a timeout) and status. Not run on its own: a script sources it with
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# and sets these before calling any of its functions:
#
#   SVC_SCRIPT       the script's name, prefix of its error messages (tansu.sh)
#   SVC_USAGE_LINES  the lines of the script's header that usage prints (2,13)
#   SVC_NAME         the service's name in messages (tansu)
#   SVC_WHAT         what exited in "... exited during start-up" (the broker)
#   SVC_FILES        DIR/$SVC_FILES.pid and DIR/$SVC_FILES.log (tansu)
#   SVC_MATCH        a string the service's /proc/PID/cmdline contains, against recycled pids
#   SVC_PORT         the port on 127.0.0.1 it listens on
#   SVC_PORT_VAR     the environment variable that sets the port (TANSU_PORT)
#   SVC_SHOWN        appended to DIR where "running" messages show the data ("" or /data)
#   START_TIMEOUT_SECS, STOP_TIMEOUT_SECS

die() {
  echo "$SVC_SCRIPT: $*" >&2
  exit 1
}

usage() {
  sed -n "${SVC_USAGE_LINES}p" "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
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
  (exec 3<>"/dev/tcp/127.0.0.1/$SVC_PORT") 2>/dev/null
}

# The pid of DIR's service when it is running (and really is the service), else nothing.
running_pid() {
  local pidfile="$1/$SVC_FILES.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # Guard against a recycled pid: the process must be the service's.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$SVC_MATCH" || return 1
  echo "$pid"
}

# For start: when DIR's service is already running, says so and returns 0.
already_running() {
  local pid
  pid="$(running_pid "$1")" || return 1
  echo "$SVC_NAME already running (pid $pid, 127.0.0.1:$SVC_PORT, $1$SVC_SHOWN)"
}

# For start: exits when something else listens on the port.
check_port_free() {
  if port_open; then
    die "127.0.0.1:$SVC_PORT is already in use by another process; set $SVC_PORT_VAR"
  fi
}

# For start, right after launching DIR's service as PID in the background: writes the pid file
# and waits until READY (a command; default `port_open`) succeeds. Exits (with the log on stderr)
# when the service exits first or is still not ready after START_TIMEOUT_SECS (then it stops the
# service).
wait_started() {
  local dir="$1" pid="$2" ready="${3:-port_open}"
  echo "$pid" >"$dir/$SVC_FILES.pid"
  local waited=0
  until "$ready"; do
    if ! alive "$pid"; then
      echo "$SVC_SCRIPT: $SVC_WHAT exited during start-up; $dir/$SVC_FILES.log:" >&2
      cat "$dir/$SVC_FILES.log" >&2
      rm -f "$dir/$SVC_FILES.pid"
      exit 1
    fi
    if [ "$waited" -ge $((START_TIMEOUT_SECS * 10)) ]; then
      echo "$SVC_SCRIPT: 127.0.0.1:$SVC_PORT not ready ($ready) after ${START_TIMEOUT_SECS}s; $dir/$SVC_FILES.log:" >&2
      cat "$dir/$SVC_FILES.log" >&2
      cmd_stop "$dir" >&2 || true
      exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

cmd_stop() {
  local dir pid
  dir="$(data_dir "${1:-}")"
  if ! pid="$(running_pid "$dir")"; then
    echo "$SVC_NAME not running ($dir)"
    rm -f "$dir/$SVC_FILES.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while alive "$pid"; do
    if [ "$waited" -ge $((STOP_TIMEOUT_SECS * 10)) ]; then
      echo "$SVC_NAME (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_SECS}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$dir/$SVC_FILES.pid"
  echo "$SVC_NAME stopped (pid $pid)"
}

cmd_status() {
  local dir pid
  dir="$(data_dir "${1:-}")"
  if pid="$(running_pid "$dir")"; then
    echo "$SVC_NAME running (pid $pid, 127.0.0.1:$SVC_PORT, $dir$SVC_SHOWN)"
  else
    echo "$SVC_NAME not running ($dir)"
    return 1
  fi
}
