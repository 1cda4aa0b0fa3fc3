#!/usr/bin/env bash
# The whole test suite: type checks, lint and every package's tests. Tests that need Temporal start a
# real local dev server themselves (or use TEMPORAL_ADDRESS when it is set).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ENECG_SETUP_BROWSER=1 bash scripts/setup.sh
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
npx nx run-many -t typecheck lint --parallel=2 --outputStyle=static
rm -f packages/*/.work/test-results.json
npx nx run-many -t test --parallel=1 --outputStyle=stream "$@"
node scripts/test-summary.mjs
