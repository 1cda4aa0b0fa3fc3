#!/usr/bin/env bash
# The main job on embedded defaults: synthetic MIMIC-layout data, a local Temporal dev server and worker,
# the whole pipeline, and where its results are.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec node packages/cli/bin/enecg.js demo "$@"
