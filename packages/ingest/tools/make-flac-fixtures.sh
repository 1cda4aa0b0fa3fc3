#!/usr/bin/env bash
# Regenerates test/fixtures/flac (dev only): a git-ignored venv with wfdb-python + soundfile, and the
# `flac` command (Debian: apt-get install flac) to encode with chosen settings.
# Usage: bash packages/ingest/tools/make-flac-fixtures.sh   (from anywhere)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.tools/fixture-venv"
python="${PYTHON:-python3}"
command -v flac >/dev/null || { echo "needs the flac command (apt-get install flac)" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'wfdb==4.3.1' 'soundfile==0.14.0'
"$venv/bin/python" "$here/tools/make-flac-fixtures.py"
