#!/usr/bin/env bash
# Idempotent set-up shared by `npm test`, `npm run demo` and `npm run bench`: npm packages, the Temporal
# CLI, and (for the report's browser test) Debian's Chromium when we are root and it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The enecg command runs from an esbuild bundle of the sources (packages/cli/dist/, rebuilt when they change).
node packages/cli/bin/bundle.js
node packages/cli/bin/enecg.js setup

if [ "${ENECG_SETUP_BROWSER:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for the report rendering test"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ||
      echo "setup: chromium could not be installed; the browser test will skip"
  else
    echo "setup: chromium is absent and cannot be installed without root; the browser test will skip"
  fi
fi
