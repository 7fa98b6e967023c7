#!/bin/bash
# Make the VM's bootable raw disk from the shared rootfs: one ext4 partition,
# the kernel installed inside, extlinux as the bootloader.
# Run it inside a private mount namespace (unshare -m) so that every mount,
# and the loop device behind it, goes away when it exits, however it exits.
# Usage: make-vm-disk.sh ROOTFS RAW_DISK MANIFEST_OUT SIZE_GIB USER BOOT_PACKAGE...
set -euo pipefail
rootfs=$1 raw=$2 manifest=$3 size_gib=$4 user=$5
shift 5
boot_packages=("$@")
offset=$((1024 * 1024))
mnt=$(mktemp -d "$(dirname "$raw")/mnt.XXXXXX")

truncate -s "${size_gib}G" "$raw"
echo 'start=2048, type=83, bootable' | sfdisk --quiet --label dos "$raw"
# extlinux cannot read ext4 with 64-bit block numbers.
mkfs.ext4 -q -F -O ^64bit -L labtool-root -E offset=$offset "$raw" $((size_gib * 1024 * 1024 - 1024))k
mount -o loop,offset=$offset "$raw" "$mnt"
cp -a "$rootfs/." "$mnt/"

mount -t proc proc "$mnt/proc"
mount -t sysfs sysfs "$mnt/sys"
mount --bind /dev "$mnt/dev"
cp /etc/resolv.conf "$mnt/etc/resolv.conf"
# A small initramfs: only the modules a libvirt VM's root disk needs (virtio, ext4), not most of
# the kernel's (36 MB, several seconds to unpack under TCG). Not a conffile, so dpkg --verify stays quiet.
mkdir -p "$mnt/etc/initramfs-tools/conf.d" "$mnt/usr/share/initramfs-tools/modules.d"
echo 'MODULES=list' > "$mnt/etc/initramfs-tools/conf.d/labtool.conf"
printf '%s\n' virtio_pci virtio_blk virtio_scsi virtio_net ext4 > "$mnt/usr/share/initramfs-tools/modules.d/labtool"
chroot "$mnt" apt-get update -q
DEBIAN_FRONTEND=noninteractive chroot "$mnt" apt-get install -y -q --no-install-recommends "${boot_packages[@]}"
chroot "$mnt" apt-get clean
# The tree's own package lists come back, as its container has them, with apt's source cache built from
# them: a VM's roles find the lists a Debian machine has, and no seat parses them again (list parsing
# takes a minute of emulated CPU under TCG) or asks the mirror again.
rm -rf "$mnt"/var/lib/apt/lists/*
if [ -d "$rootfs/var/lib/apt/lists" ]; then cp -a "$rootfs/var/lib/apt/lists/." "$mnt/var/lib/apt/lists/"; fi
if [ -f "$rootfs/var/cache/apt/srcpkgcache.bin" ]; then cp -a "$rootfs/var/cache/apt/srcpkgcache.bin" "$mnt/var/cache/apt/"; fi
chroot "$mnt" dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' > "$manifest"
# Every packaged file's digest, recorded in the disk's own filesystem (size, mtime, ctime and inode as
# the VM will see them): a VM's verify then hashes only what changed since, not the whole system.
if [ -n "${LABTOOL_COLLECTOR:-}" ]; then chroot "$mnt" python3 - '{"prime": true}' < "$LABTOOL_COLLECTOR" > /dev/null; fi
cp -a "$rootfs/etc/resolv.conf" "$mnt/etc/resolv.conf"
umount "$mnt/dev" "$mnt/sys" "$mnt/proc"

# VM-only configuration: what a machine with its own kernel and disk needs and a container must not have.
echo 'LABEL=labtool-root / ext4 errors=remount-ro 0 1' > "$mnt/etc/fstab"
printf 'auto eth0\nallow-hotplug eth0\niface eth0 inet dhcp\n' > "$mnt/etc/network/interfaces.d/eth0"
# The one virtio NIC is eth0 whatever udev's naming scheme says (net.ifnames=0 alone was seen
# not to hold once the virtio modules come from the small initramfs).
mkdir -p "$mnt/etc/systemd/network"
printf '[Match]\nDriver=virtio_net\n\n[Link]\nName=eth0\n' > "$mnt/etc/systemd/network/10-labtool-eth0.link"
# No key is authorized, not even Vagrant's well-known insecure one: each VM gets the key labtool made for it
# from its domain at the first boot (labtool-vm-identity).
install -d -m 0700 -o 1000 -g 1000 "$mnt/home/$user/.ssh"

kernel=$(cd "$mnt/boot" && ls vmlinuz-* | sort -V | tail -n 1)
mkdir -p "$mnt/boot/extlinux"
cat > "$mnt/boot/extlinux/extlinux.conf" <<CONF
DEFAULT labtool
PROMPT 0
TIMEOUT 0
LABEL labtool
  LINUX /boot/$kernel
  INITRD /boot/initrd.img-${kernel#vmlinuz-}
  APPEND root=LABEL=labtool-root ro console=tty0 console=ttyS0,115200 net.ifnames=0 biosdevname=0 quiet
CONF
extlinux --install "$mnt/boot/extlinux" 2>&1
# Give the blocks of deleted files (apt's downloads and lists) back to the sparse disk file,
# so that the qcow2 made from it carries only live data.
fstrim "$mnt" || true
umount "$mnt"
rmdir "$mnt"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$raw" bs=440 count=1 conv=notrunc status=none
