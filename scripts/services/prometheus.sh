#!/usr/bin/env bash
# Prometheus (Debian's package, 2.42 on bookworm) for the observability tests: scrapes one pinpipe
# observe listener every second and evaluates deploy/prometheus/alerts.yml.
#
#   scripts/services/prometheus.sh install            # Debian's prometheus (+ promtool) when missing
#   scripts/services/prometheus.sh start DIR [TARGET] # scrape TARGET (HOST:PORT, default 127.0.0.1:8001)
#   scripts/services/prometheus.sh stop DIR           # SIGTERM, then SIGKILL after 10 s
#   scripts/services/prometheus.sh status DIR         # exit 0 when the server of DIR is running
#   scripts/services/prometheus.sh url                # http://127.0.0.1:$PROMETHEUS_PORT
#   scripts/services/prometheus.sh check              # promtool: config, rules, rule unit tests
#
# Environment: PROMETHEUS_PORT (default 59090, away from the usual 9090).
# start writes DIR/prometheus.yml (deploy/prometheus/prometheus.yml with scrape and evaluation
# every 1s, the target replaced, the repository's alerts.yml), DIR/prometheus.log,
# DIR/prometheus.pid and the TSDB in DIR/tsdb, and returns once /-/ready answers. Starting the
# running server of DIR again with another target reloads its configuration (SIGHUP).
# The server listens on 127.0.0.1 only.
set -euo pipefail

PROMETHEUS_PORT="${PROMETHEUS_PORT:-59090}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
SHIPPED_CONFIG="$REPO/deploy/prometheus/prometheus.yml"
ALERTS="$REPO/deploy/prometheus/alerts.yml"
ALERTS_TEST="$REPO/deploy/prometheus/alerts_test.yml"
SHIPPED_TARGET=127.0.0.1:8001
START_TIMEOUT_SECS=60
STOP_TIMEOUT_SECS=10

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SVC_SCRIPT=prometheus.sh
SVC_USAGE_LINES=2,17
SVC_NAME=prometheus
SVC_WHAT=prometheus
SVC_FILES=prometheus
SVC_MATCH=prometheus
SVC_PORT="$PROMETHEUS_PORT"
SVC_PORT_VAR=PROMETHEUS_PORT
SVC_SHOWN=/tsdb

installed() {
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1
}

# Ports the Debian packages' own daemons listen on (prometheus, prometheus-node-exporter).
listening_on() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The package's postinst starts its daemon where it can: through systemd when systemd runs, else
# through /etc/init.d (start-stop-daemon, pid file /run/prometheus/*.pid) unless policy-rc.d
# forbids it. Stops and disables whatever it started, so that nothing is left on 9090 or 9100.
stop_package_daemons() {
  local unit pidfile pid
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    for unit in prometheus prometheus-node-exporter; do
      if systemctl list-unit-files "$unit.service" >/dev/null 2>&1; then
        systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
      fi
    done
  fi
  for unit in prometheus prometheus-node-exporter; do
    pidfile="/run/prometheus/$unit.pid"
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [ -x "/etc/init.d/$unit" ]; then
      "/etc/init.d/$unit" stop >/dev/null 2>&1 || true
    fi
    # Only the package's daemon, not a process that got its pid since.
    if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q prometheus; then
      echo "stopping $unit started by its package (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
      alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
  local port
  for port in 9090 9100; do
    if listening_on "$port"; then
      echo "$SVC_SCRIPT: warning: something still listens on 127.0.0.1:$port after installing prometheus" >&2
    fi
  done
}

cmd_install() {
  if installed; then
    echo "prometheus found: $(command -v prometheus), $(prometheus --version 2>&1 | head -1)"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install prometheus and promtool (2.42+) yourself"
  [ "$(id -u)" = 0 ] || die "installing Debian's prometheus needs root (apt-get)"
  echo "installing Debian's prometheus (without prometheus-node-exporter)"
  # No daemon from the package: a policy-rc.d that denies every start, for the time of the
  # install only (an existing one, e.g. in a container image, is left as it is).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# Written by pinpipe scripts/services/prometheus.sh during apt-get install.\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if [ "$made_policy" = 1 ]; then
    rm -f "$policy"
    trap - EXIT
  fi
  stop_package_daemons
  installed || die "prometheus or promtool not found after installing prometheus"
  echo "installed $(prometheus --version 2>&1 | head -1)"
}

# Writes the test configuration for TARGET into DIR/prometheus.yml: the shipped file with 1 s
# intervals, TARGET instead of the shipped one and the repository's alerts.yml by absolute path.
write_config() {
  local dir="$1" target="$2" out="$1/prometheus.yml"
  [ -f "$SHIPPED_CONFIG" ] || die "$SHIPPED_CONFIG not found"
  sed -e 's/^\(  scrape_interval:\) .*/\1 1s/' \
      -e 's/^\(  evaluation_interval:\) .*/\1 1s/' \
      -e "s|^\(  - \)alerts.yml\$|\1$ALERTS|" \
      -e "s|^\( *- \)$SHIPPED_TARGET\$|\1$target|" \
      "$SHIPPED_CONFIG" >"$out.tmp"
  # The shipped file's lines these edits rely on must still be there.
  grep -q '^  scrape_interval: 1s$' "$out.tmp" && grep -q '^  evaluation_interval: 1s$' "$out.tmp" \
    && grep -qF -- "- $ALERTS" "$out.tmp" && grep -qF -- "- $target" "$out.tmp" \
    || { rm -f "$out.tmp"; die "cannot rewrite $SHIPPED_CONFIG (intervals, rule file or target line changed?)"; }
  promtool check config "$out.tmp" >"$dir/promtool.log" 2>&1 \
    || { cat "$dir/promtool.log" >&2; rm -f "$out.tmp"; die "promtool check config failed on the test configuration"; }
  mv "$out.tmp" "$out"
}

http_ok() {
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT$1" 2>/dev/null
}

# Ready once /-/ready answers 200 (Prometheus answers 503 there while it replays its WAL).
prometheus_ready() {
  http_ok /-/ready
}

cmd_start() {
  local dir target="${2:-$SHIPPED_TARGET}" pid
  dir="$(data_dir "${1:-}")"
  [[ "$target" =~ ^[A-Za-z0-9._-]+:[0-9]+$|^\[[0-9a-fA-F:]+\]:[0-9]+$ ]] \
    || die "TARGET must be HOST:PORT, got '$target'"
  installed || die "prometheus is not installed; run: $0 install"
  command -v curl >/dev/null 2>&1 || die "curl not found"
  if pid="$(running_pid "$dir")"; then
    local old=""
    [ -f "$dir/prometheus.yml" ] && old="$(cat "$dir/prometheus.yml")"
    write_config "$dir" "$target"
    if [ "$old" = "$(cat "$dir/prometheus.yml")" ]; then
      already_running "$dir"
      return 0
    fi
    kill -HUP "$pid"
    # The reload is done when the served configuration names the new target.
    local waited=0
    until curl -fsS --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/status/config" 2>/dev/null \
        | grep -qF -- "- $target"; do
      [ "$waited" -lt $((START_TIMEOUT_SECS * 10)) ] \
        || die "prometheus (pid $pid) did not reload $dir/prometheus.yml; see $dir/prometheus.log"
      sleep 0.1
      waited=$((waited + 1))
    done
    echo "prometheus already running (pid $pid); configuration reloaded, scraping $target"
    return 0
  fi
  check_port_free
  write_config "$dir" "$target"
  mkdir -p "$dir/tsdb"
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    </dev/null >>"$dir/prometheus.log" 2>&1 &
  pid=$!
  wait_started "$dir" "$pid" prometheus_ready
  echo "prometheus started (pid $pid) on http://127.0.0.1:$PROMETHEUS_PORT, scraping $target every 1s; config $dir/prometheus.yml, log $dir/prometheus.log"
}

# promtool on the shipped files; runs all three and fails when one fails.
cmd_check() {
  command -v promtool >/dev/null 2>&1 || die "promtool is not installed; run: $0 install"
  local failed=0
  echo "== promtool check config $SHIPPED_CONFIG"
  promtool check config "$SHIPPED_CONFIG" || failed=1
  echo "== promtool check rules $ALERTS"
  promtool check rules "$ALERTS" || failed=1
  echo "== promtool test rules $ALERTS_TEST"
  promtool test rules "$ALERTS_TEST" || failed=1
  if [ "$failed" != 0 ]; then
    echo "$SVC_SCRIPT: check failed (see above)" >&2
    return 1
  fi
  echo "prometheus config, rules and rule tests: OK"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start "${2:-}" "${3:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  url) echo "http://127.0.0.1:$PROMETHEUS_PORT" ;;
  check) cmd_check ;;
  *) usage ;;
esac
