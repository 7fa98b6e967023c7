#!/usr/bin/env bash
# Install the Debian packages labtool needs, and only those missing (safe to re-run).
# apt uses the host's own configured sources: nothing else is downloaded from anywhere.
set -euo pipefail

packages=(
    docker.io                                   # Docker Engine for the container half of each seat
    vagrant vagrant-libvirt                     # Vagrant and its libvirt provider for the VM half
    libvirt-daemon-system libvirt-clients dnsmasq-base iptables
    qemu-system-x86 qemu-utils                  # the hypervisor (KVM or TCG) and qemu-img
    socat                                       # relays a VM's published ports (access:) on its host
    debootstrap extlinux syslinux-common fdisk e2fsprogs util-linux   # building the base images
    iproute2 openssh-client python3-venv git   # ssh: Ansible and `labtool ssh` reach the VMs with it
    chromium                                    # headless, for the tests that look at `labtool report`'s page
    tmux                                        # for the test that looks at the live view as a terminal shows it
    apt-cacher-ng                               # the rooms' apt cache: one download per package for the room
    golang-github-docker-docker-dev             # its profiles/seccomp/default.json: the engine's own default seccomp profile
    openssh-server                              # sshd for scripts/second-host's test host only: never this host's service
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

# apt-cacher-ng: labtool starts its own instance (`labtool daemons`, own config, rooms' addresses only).
# Its Debian service must neither prompt, fetch mirror lists from the internet, nor start listening on
# every address: answer its questions first, keep its service from starting while it installs, disable it.
debconf-set-selections <<'SELECTIONS'
apt-cacher-ng apt-cacher-ng/gentargetmode select No automated setup
apt-cacher-ng apt-cacher-ng/bindaddress string 127.0.0.1
apt-cacher-ng apt-cacher-ng/tunnelenable boolean false
SELECTIONS
policy=/usr/sbin/policy-rc.d
if [[ " ${missing[*]} " == *" apt-cacher-ng "* || " ${missing[*]} " == *" openssh-server "* ]] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\ncase "$1" in apt-cacher-ng|ssh) exit 101;; esac\nexit 0\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

apt-get update -q
apt-get install -y -q "${missing[@]}"

if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
    # Installed for the test host's sshd (scripts/second-host), which has a config of its own.
    if [ -d /run/systemd/system ]; then
        systemctl disable --now ssh.service ssh.socket 2>/dev/null || true
    else
        update-rc.d ssh disable >/dev/null 2>&1 || true
    fi
fi
if [[ " ${missing[*]} " == *" apt-cacher-ng "* ]]; then
    if [ -d /run/systemd/system ]; then
        systemctl disable --now apt-cacher-ng.service
    else
        update-rc.d apt-cacher-ng disable
        /etc/init.d/apt-cacher-ng stop >/dev/null || true   # started only if a policy of the host's allowed it
    fi
fi
