"""Decide how VMs are accelerated.

`/dev/kvm` existing is no proof that KVM works: on nested or emulated hosts the
node is there but x86 guests hang in real mode. So KVM is used only where the
CPU advertises vmx/svm, or where the user forces it; otherwise QEMU's TCG.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
KVM_DEVICE = Path("/dev/kvm")


@dataclass(frozen=True)
class Accel:
    driver: str
    """libvirt domain type: "kvm" or "qemu" (TCG)."""
    cpu_model: str | None
    """CPU model for the guest; TCG needs a model QEMU can emulate, KVM passes the host's through."""
    reason: str

    @property
    def is_kvm(self) -> bool:
        return self.driver == "kvm"


def cpu_advertises_virtualization(cpuinfo: str) -> bool:
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            if flags & {"vmx", "svm"}:
                return True
    return False


def decide(setting: str, cpuinfo: str, kvm_device_exists: bool) -> Accel:
    """Pure decision from the setting (auto|kvm|tcg) and what the host shows."""
    if setting == "tcg":
        return Accel("qemu", "qemu64", "TCG forced by LABTOOL_VM_ACCEL=tcg")
    if setting == "kvm":
        return Accel("kvm", None, "KVM forced by LABTOOL_VM_ACCEL=kvm")
    if not cpu_advertises_virtualization(cpuinfo):
        return Accel("qemu", "qemu64", "the CPU advertises no vmx/svm, so KVM cannot boot guests: using TCG")
    if not kvm_device_exists:
        return Accel("qemu", "qemu64", "the CPU supports virtualization but /dev/kvm is missing: using TCG")
    return Accel("kvm", None, "the CPU advertises vmx/svm and /dev/kvm exists: using KVM")


def detect(setting: str) -> Accel:
    cpuinfo = CPUINFO.read_text() if CPUINFO.exists() else ""
    return decide(setting, cpuinfo, KVM_DEVICE.exists())
