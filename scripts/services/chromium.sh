#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the dashboard page tests (checks D6, D7). Tests must use
# these and never let a tool download its own browser (that fails here).
#
#   scripts/services/chromium.sh install        # Debian's chromium + chromium-driver when missing
#   scripts/services/chromium.sh path           # the chromium binary (/usr/bin/chromium)
#   scripts/services/chromium.sh driver-path    # the chromedriver binary (/usr/bin/chromedriver)
#   scripts/services/chromium.sh check          # headless --dump-dom of about:blank; prints the version
#
# Run headless with --headless --no-sandbox --disable-gpu --no-first-run
# --disable-background-networking --disable-component-update --disable-sync and a fresh
# --user-data-dir (as `check` does). Chromium logs D-Bus errors on stderr here (no system bus);
# they are harmless.
set -euo pipefail

die() {
  echo "chromium.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

chromium_bin() {
  local bin
  for bin in chromium /usr/bin/chromium; do
    command -v "$bin" 2>/dev/null && return 0
  done
  return 1
}

driver_bin() {
  local bin
  for bin in chromedriver /usr/bin/chromedriver; do
    command -v "$bin" 2>/dev/null && return 0
  done
  return 1
}

cmd_install() {
  if chromium_bin >/dev/null && driver_bin >/dev/null; then
    echo "Chromium found: $(chromium_bin), $("$(chromium_bin)" --version 2>/dev/null)"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install chromium and chromedriver yourself"
  [ "$(id -u)" = 0 ] || die "installing Debian's chromium needs root (apt-get)"
  echo "installing Debian's chromium and chromium-driver"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  chromium_bin >/dev/null || die "chromium not found after installing it"
  driver_bin >/dev/null || die "chromedriver not found after installing chromium-driver"
  echo "installed $("$(chromium_bin)" --version 2>/dev/null), $("$(driver_bin)" --version 2>/dev/null | cut -d' ' -f1,2)"
}

cmd_check() {
  local bin profile dom
  bin="$(chromium_bin)" || die "chromium is not installed; run: $0 install"
  profile="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$profile'" EXIT
  dom="$(timeout 60 "$bin" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --dump-dom about:blank 2>"$profile/stderr")" \
    || { cat "$profile/stderr" >&2; die "chromium --headless --dump-dom about:blank failed"; }
  [ "$dom" = "<html><head></head><body></body></html>" ] \
    || { cat "$profile/stderr" >&2; die "unexpected DOM of about:blank: $dom"; }
  echo "$("$bin" --version 2>/dev/null): headless --dump-dom about:blank OK"
}

case "${1:-}" in
  install) cmd_install ;;
  path) chromium_bin || die "chromium is not installed; run: $0 install" ;;
  driver-path) driver_bin || die "chromedriver is not installed; run: $0 install" ;;
  check) cmd_check ;;
  *) usage ;;
esac
