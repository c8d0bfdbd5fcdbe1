#!/usr/bin/env bash
# Install Debian's chromium for the report, screenshot and PNG/SVG tests (kaleido drives it via
# BROWSER_PATH or PATH; nothing downloads a browser). Idempotent: does nothing when a Chrome or
# Chromium is already there. Prints the browser's path on stdout; everything else to stderr.
set -euo pipefail
for name in chromium chromium-browser google-chrome chrome; do
  if path=$(command -v "$name"); then
    echo "$path"
    exit 0
  fi
done
if [[ -n "${BROWSER_PATH:-}" && -x "$BROWSER_PATH" ]]; then
  echo "$BROWSER_PATH"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "chromium.sh: no Chrome/Chromium and we are not root to apt-get Debian's chromium" >&2
  exit 1
fi
echo "chromium.sh: installing Debian's chromium" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium >&2
command -v chromium
