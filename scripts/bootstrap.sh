#!/usr/bin/env bash
# Creates .venv and installs the project with its dev tools; reinstalls when pyproject changes.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml contracts/pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing the project and its dev tools into .venv"
  .venv/bin/python -m pip install -q --upgrade pip setuptools  # the audit checks what runs: venv's own setuptools is years old
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
