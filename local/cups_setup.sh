#!/usr/bin/env bash
# Install and start what the print tests need: cupsd with the cups-pdf virtual printer
# "PDF", headless Chromium with its driver, and a TTF font with Cyrillic for pick lists.
# Idempotent: every step is skipped when its result is already there. Needs root.
set -euo pipefail

PRINTER="${CUPS_TEST_PRINTER:-PDF}"
packages=()
command -v cupsd >/dev/null 2>&1 || packages+=(cups)
command -v lp >/dev/null 2>&1 || packages+=(cups-client)
[ -x /usr/lib/cups/backend/cups-pdf ] || packages+=(cups-pdf)
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || packages+=(fonts-dejavu-core)

if [ "${#packages[@]}" -gt 0 ]; then
  echo "cups_setup: installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# Captured, not piped into grep -q: with pipefail an early grep exit fails the pipeline.
scheduler_running() {
  local status
  status="$(lpstat -r 2>/dev/null || true)"
  [[ "$status" == *"scheduler is running"* ]]
}

# cupsd: start it unless a scheduler already runs on the local socket.
if ! scheduler_running; then
  echo "cups_setup: starting cupsd"
  mkdir -p /run/cups
  cupsd
  for _ in $(seq 1 50); do
    scheduler_running && break
    sleep 0.2
  done
  scheduler_running || { echo "cups_setup: cupsd did not start within 10 s" >&2; exit 1; }
fi

# The cups-pdf queue: its PPD is whatever `lpinfo -m` lists for the cups-pdf driver.
if ! lpstat -p "$PRINTER" >/dev/null 2>&1; then
  ppd="$(lpinfo -m | awk '!found && tolower($0) ~ /cups-pdf/ { print $1; found = 1 }')"
  if [ -z "$ppd" ]; then
    echo "cups_setup: no cups-pdf PPD in 'lpinfo -m'; reinstall the cups-pdf package" >&2
    exit 1
  fi
  echo "cups_setup: adding printer $PRINTER ($ppd)"
  lpadmin -p "$PRINTER" -E -v cups-pdf:/ -m "$ppd"
fi
cupsenable "$PRINTER"
cupsaccept "$PRINTER"
echo "cups_setup: printer $PRINTER ready"
