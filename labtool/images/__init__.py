"""The paired base images: one Debian rootfs, made into a Docker image and a Vagrant libvirt box."""
