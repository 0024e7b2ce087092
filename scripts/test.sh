#!/usr/bin/env bash
# Set up if needed, then run the test suite. Extra arguments go to pytest:
#   bash scripts/test.sh tests/test_cli.py -x
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/system_packages.sh"
cd "$root"
exec .venv/bin/python -m pytest -q "$@"
