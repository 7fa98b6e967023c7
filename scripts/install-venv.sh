#!/usr/bin/env bash
# Create .venv and install labtool with its pinned dependencies; re-installs only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=.venv/.labtool-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -x .venv/bin/labtool ]; then
    echo "python environment: up to date (.venv)"
    exit 0
fi
echo "python environment: installing labtool and its pinned dependencies into .venv"
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
echo "$wanted" > "$stamp"
