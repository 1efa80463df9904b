#!/usr/bin/env bash
# The main job (as root, on Debian): build mailplay, bring up the lab's mail
# host, converge it with the mail playbook, and converge it again (the
# second run reports changed=0). Then send and read mail yourself, or point
# the same playbook at your own hosts (see the end of the output).
set -euo pipefail
cd "$(dirname "$0")"

# What the lab needs: debootstrap for the base image, systemd-nspawn to boot
# the host, iproute2 for its network, the OpenSSH client to reach it,
# apt-cacher-ng for its packages (the lab host has no route out).
packages=(debootstrap systemd-container iproute2 openssh-client apt-cacher-ng)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo build --release -p mailplay
mp=./target/release/mailplay
lab=~/.cache/mailplay/lab

"$mp" lab up -i inventories/lab.ini
"$mp" run playbooks/site.yml -i "$lab/inventory.ini" -i inventories/lab.ini
"$mp" run playbooks/site.yml -i "$lab/inventory.ini" -i inventories/lab.ini

addr=$(awk '/^mail1 /{for(i=1;i<=NF;i++) if($i ~ /^ansible_host=/) {sub("ansible_host=","",$i); print $i}}' "$lab/inventory.ini")
cat <<MSG

The lab's mail host mail1 ($addr) is converged: Postfix on 25/587, Cyrus IMAP
on 143/993, ManageSieve on 4190, rspamd, PostgreSQL (users in
inventories/group_vars/lab.yml). Try it:

  python3 tests/mail_client.py send $addr 25 you@outside.invalid alice@example.org hello
  python3 tests/mail_client.py fetch $addr alice@example.org Alice-lab-pw-1 INBOX hello
  ssh -F $lab/ssh_config mail1

MariaDB instead: add -e mail_db_engine=mysql (on a fresh lab). Your own hosts:
copy inventories/cluster.ini and inventories/group_vars/cluster.yml, then

  mailplay run playbooks/site.yml -i cluster.ini --check --diff
  mailplay run playbooks/site.yml -i cluster.ini

Remove the lab with: $mp lab down
MSG
