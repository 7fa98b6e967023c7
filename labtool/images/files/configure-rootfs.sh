#!/bin/bash
# Configure the shared rootfs (both the container and the VM get exactly this).
# Usage: configure-rootfs.sh ROOTFS VAGRANT_USER
set -euo pipefail
rootfs=$1 user=$2
here=$(dirname "$(readlink -f "$0")")

# Machine identity is made on first boot, never baked into the image.
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs"/etc/ssh/ssh_host_*
install -m 0644 "$here/labtool-ssh-host-keys.service" "$rootfs/etc/systemd/system/"
chroot "$rootfs" systemctl enable labtool-ssh-host-keys.service >/dev/null 2>&1
# Lab containers find at boot which sandboxing directives this host cannot give them (a VM skips it).
install -D -m 0755 "$here/labtool-sandbox-probe" "$rootfs/usr/lib/labtool/sandbox-probe"
install -m 0644 "$here/labtool-sandbox-probe.service" "$rootfs/etc/systemd/system/"
chroot "$rootfs" systemctl enable labtool-sandbox-probe.service >/dev/null 2>&1
# A VM takes its name and login key from its domain at the first boot (a container skips it).
install -D -m 0755 "$here/labtool-vm-identity" "$rootfs/usr/lib/labtool/vm-identity"
install -m 0644 "$here/labtool-vm-identity.service" "$rootfs/etc/systemd/system/"
chroot "$rootfs" systemctl enable labtool-vm-identity.service >/dev/null 2>&1
# One ed25519 host key: an RSA key took 28 s to generate at first boot under TCG.
printf 'HostKey /etc/ssh/ssh_host_ed25519_key\n' > "$rootfs/etc/ssh/sshd_config.d/labtool-host-key.conf"
# The ext4 scrub reaper and timer cost 32 s of a TCG boot; lab disks are thrown away, not scrubbed.
chroot "$rootfs" systemctl mask e2scrub_reap.service e2scrub_all.timer >/dev/null 2>&1
echo labtool > "$rootfs/etc/hostname"

# The Vagrant user exists on both kinds so their users and groups match;
# only the VM is reached over SSH, with the key its creator gives it (labtool-vm-identity).
chroot "$rootfs" useradd --create-home --shell /bin/bash --uid 1000 --user-group "$user"
printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$user" > "$rootfs/etc/sudoers.d/$user"
chmod 0440 "$rootfs/etc/sudoers.d/$user"

# The package lists, as a Debian machine installed the usual way has them: roles that install with
# `cache_valid_time` (most public ones) then find lists whose age is their real age. apt reads http_proxy
# from the environment (the host's apt cache, when it runs).
# apt's binary caches stay too: built here once, not at every machine's first apt run (a minute under TCG).
chroot "$rootfs" apt-get update -q
rm -f "$rootfs"/var/cache/apt/archives/*.deb
rm -rf "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
