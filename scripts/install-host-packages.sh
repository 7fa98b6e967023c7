#!/usr/bin/env bash
# Install the Debian packages labtool needs, and only those missing (safe to re-run).
# apt uses the host's own configured sources: nothing else is downloaded from anywhere.
set -euo pipefail

packages=(
    docker.io                                   # Docker Engine for the container half of each seat
    vagrant vagrant-libvirt                     # Vagrant and its libvirt provider for the VM half
    libvirt-daemon-system libvirt-clients dnsmasq-base iptables
    qemu-system-x86 qemu-utils                  # the hypervisor (KVM or TCG) and qemu-img
    debootstrap extlinux syslinux-common fdisk e2fsprogs util-linux   # building the base images
    iproute2 openssh-client python3-venv git   # ssh: Ansible and `labtool ssh` reach the VMs with it
    chromium                                    # headless, for the tests that look at `labtool report`'s page
)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f '${db:Status-Abbrev}' "$package" 2>/dev/null | grep -q '^ii' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "host packages: all ${#packages[@]} installed"
    exit 0
fi
echo "host packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
