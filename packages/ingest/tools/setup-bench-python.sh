#!/usr/bin/env bash
# Creates the git-ignored Python venv the ingest benchmark compares against (wfdb-python from PyPI).
# Usage: bash packages/ingest/tools/setup-bench-python.sh   (from anywhere)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.tools/bench-venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'wfdb==4.3.1'
"$venv/bin/python" -c 'import wfdb, numpy; print("wfdb", wfdb.__version__, "numpy", numpy.__version__)'
echo "bench venv ready: $venv"
