#!/bin/bash
# Remove every per-machine identity from a converged tree before it becomes a baked image pair:
# each machine made from the pair gets its own on first boot, as with the base images.
# Usage: reset-identity.sh ROOTFS APT_PROXY_FILE
set -euo pipefail
rootfs=$1 apt_proxy_file=$2

: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs"/etc/ssh/ssh_host_*
rm -f "$rootfs/var/lib/systemd/random-seed" "$rootfs/var/lib/systemd/credential.secret"
rm -rf "$rootfs"/var/lib/dhcp/* "$rootfs"/var/log/journal/* "$rootfs"/var/lib/systemd/timers/*
find "$rootfs/var/log" -type f \( -name '*.log' -o -name '*.gz' -o -name '*.[0-9]' \) -delete
# Docker's marker of a container: left in the tree, systemd in the VM would take itself for a container
# (`systemd-detect-virt` says docker, and a console getty starts). Docker makes it anew in the container.
rm -f "$rootfs/.dockerenv"
# Docker mounts these three over the container's own: the exported files are its empty stand-ins.
echo labtool > "$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$rootfs/etc/hosts"
: > "$rootfs/etc/resolv.conf"
# Ansible's and apt's leftovers: temporary files and downloaded packages (the lists stay: seats reuse them).
rm -rf "$rootfs"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/root/.ansible "$rootfs"/home/*/.ansible
rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin
# The host's apt cache is written onto each machine at converge time; the images never carry it.
rm -f "$rootfs/$apt_proxy_file"
