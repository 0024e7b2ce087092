#!/usr/bin/env bash
# Set up (or bring up to date) the project's virtualenv at .venv: Python 3.11 with
# verisnn installed editable plus its test tools. Idempotent and quiet: the venv is
# created only when missing, and `pip install -e ".[test]"` runs only when
# pyproject.toml changed since the last install (its sha256 is kept in a stamp file
# inside .venv). torch is pinned to 2.13.0, whose CPU wheel pip finds on this disk.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.verisnn-pyproject.sha256"
python="${PYTHON:-python3.11}"

if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    echo "setup: $venv is not a working Python 3.11 virtualenv; recreating it" >&2
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "setup: $python not found; verisnn needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
        exit 1
    fi
    echo "setup: creating $venv" >&2
    "$python" -m venv "$venv"
fi

want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    echo "setup: installing verisnn and its dependencies into .venv (the first time takes a few minutes)" >&2
    "$venv/bin/python" -m pip install -qq --disable-pip-version-check -e "$root[test]" >&2
    echo "$want" > "$stamp"
fi
