#!/bin/sh
# Start libvirtd with /dev/kvm hidden from it (and from the QEMU processes it spawns).
# Run under `unshare --mount --propagation private`: the changes below stay private.
#
# Why: where /dev/kvm exists but cannot run guests, libvirtd sees KVM as "usable",
# its probe finds it is not, and every domain define re-probes QEMU (25-55 s each).
# Binding /dev/null over the node is not enough (the path must not exist at all),
# so /dev is rebuilt on a tmpfs with everything but kvm.
set -eu
real=/run/labtool-real-dev
mkdir -p "$real"
mount --rbind /dev "$real"
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
for entry in "$real"/* "$real"/.[!.]*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry##*/}
    [ "$name" = kvm ] && continue
    if [ -d "$entry" ] && [ ! -L "$entry" ]; then
        mkdir "/dev/$name"
        mount --rbind "$entry" "/dev/$name"
    else
        cp -a "$entry" "/dev/$name"
    fi
done
umount -l "$real"
exec libvirtd -d "$@"
