#!/usr/bin/env bash
# Every package's benchmarks; each prints its figures and a ratio against a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
npx nx run-many -t bench --parallel=1 --outputStyle=stream "$@"
