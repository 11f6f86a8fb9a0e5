#!/usr/bin/env bash
# Makes sure /usr/sbin/sshd exists, so that the SFTP tests can start their own sshd on
# 127.0.0.1. Idempotent. Installing must not leave the system's sshd service running.
set -euo pipefail

SSHD=/usr/sbin/sshd
[[ -x $SSHD ]] && exit 0

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Debian starts a freshly installed service from its postinst unless policy-rc.d says
# no (exit 101). Ours stays only for the install; an existing one is put back.
POLICY=/usr/sbin/policy-rc.d
BACKUP=
if [[ -e $POLICY ]]; then
    BACKUP=$(mktemp)
    as_root cp -p "$POLICY" "$BACKUP"
fi
restore_policy() {
    if [[ -n $BACKUP ]]; then
        as_root mv "$BACKUP" "$POLICY"
    else
        as_root rm -f "$POLICY"
    fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' | as_root tee "$POLICY" >/dev/null
as_root chmod 755 "$POLICY"

install_openssh() {
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends openssh-server
}
# The package lists are refreshed only when the install needs it.
install_openssh || { as_root apt-get update && install_openssh; }

# In case something started it anyway: stop the service we just installed.
if [[ -d /run/systemd/system ]]; then
    as_root systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
fi
if [[ -f /run/sshd.pid ]]; then
    as_root kill "$(cat /run/sshd.pid)" 2>/dev/null || true
fi

[[ -x $SSHD ]] || { echo "openssh-server was installed, but $SSHD is missing" >&2; exit 1; }
