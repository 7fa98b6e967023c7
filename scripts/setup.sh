#!/usr/bin/env bash
# Prepare this host (shared by scripts/up and scripts/test): install what is missing,
# start the daemons, build the paired base images. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-host-packages.sh
bash scripts/install-venv.sh
.venv/bin/labtool daemons
.venv/bin/labtool images build
