#!/usr/bin/env bash
# The project's one test command (README.md, .ci/run): installs what the
# tests need on a fresh Debian machine, then runs every test.
#
# Needs root for apt-get and for the lab (network namespaces, overlay
# mounts, systemd-nspawn).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: python3-venv for the reference Ansible,
# openssl to check password_hash against glibc-compatible crypt, iproute2
# for fact gathering and the lab's network, the OpenSSH client and server
# for the connection tests, sudo for the become tests, debootstrap and systemd-nspawn for the lab,
# apt-cacher-ng for the lab hosts' packages (they have no route out).
packages=(python3-venv openssl iproute2 openssh-client openssh-server sudo debootstrap systemd-container apt-cacher-ng)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run-all.sh: missing Debian packages (${missing[*]}); run as root so they can be installed" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The reference implementation for the differential and golden tests:
# ansible-core 2.19 from PyPI, in its own virtualenv.
ansible_venv=${MAILPLAY_ANSIBLE_VENV:-/opt/ansible-venv}
if [ ! -x "$ansible_venv/bin/ansible-playbook" ]; then
  python3 -m venv "$ansible_venv"
  "$ansible_venv/bin/pip" install -q 'ansible-core>=2.19,<2.20'
fi
export MAILPLAY_ANSIBLE_BIN="$ansible_venv/bin"

# Style gates first: they are cheap and a failure says exactly what to fix.
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

cargo test --workspace --no-fail-fast

# ansible-core's own integration targets (issue 13) with mailplay standing
# in for ansible-playbook: every target that passed when the baseline was
# recorded must pass again (about a minute; the sdist comes from PyPI).
tests/conformance/run.py --tool mailplay --bootstrap --no-regression tests/conformance/mailplay-baseline.json
# The targets of modules that change the machine (user, group, apt, ...),
# each on a fresh lab host (about two minutes).
tests/conformance/run.py --tool mailplay --lab --only user,group,apt,debconf,hostname,service,systemd \
    --no-regression tests/conformance/mailplay-lab-baseline.json
