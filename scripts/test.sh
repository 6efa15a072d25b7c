#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs the peer tools (helm, kubectl,
# kubernetes-validate) into .tools/, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$(bash scripts/install-tools.sh):$PATH"
export PATH
cargo test --workspace --locked
