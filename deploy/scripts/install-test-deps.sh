#!/usr/bin/env bash
# Installs the Debian packages the integration tests run for real: InfluxDB 1.x (influxd),
# VictoriaMetrics (the /api/v2/write path of influxdb-client) and Chromium (headless, for the wall page).
# Idempotent: does nothing when everything is present.
set -euo pipefail

need=()
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need+=(influxdb)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/victoria-metrics ] || need+=(victoria-metrics)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "install-test-deps: need the Debian packages: ${need[*]} (run as root: apt-get install ${need[*]})" >&2
  exit 1
fi

echo "install-test-deps: installing ${need[*]} from Debian ..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package starts a system-wide service on port 8086 on some systems; tests start their own.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now influxdb >/dev/null 2>&1 || true
  $SUDO systemctl disable --now victoria-metrics >/dev/null 2>&1 || true
fi
echo "install-test-deps: done"
