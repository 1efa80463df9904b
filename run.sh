#!/usr/bin/env bash
# The main job: build mailplay, then converge the example playbook twice
# (the second run reports changed=0).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release -p mailplay
./target/release/mailplay run playbooks/hello.yml -i inventories/local.ini --diff
./target/release/mailplay run playbooks/hello.yml -i inventories/local.ini
