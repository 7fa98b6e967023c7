import pytest

from labtool.backends.vagrant.accel import cpu_advertises_virtualization, decide

INTEL = "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse2\n"
AMD = "flags\t\t: fpu svm sse2\n"
NESTED_WITHOUT_VIRT = "flags\t\t: fpu vme de pse sse2 hypervisor\n"


@pytest.mark.parametrize(
    ("cpuinfo", "expected"), [(INTEL, True), (AMD, True), (NESTED_WITHOUT_VIRT, False), ("", False)]
)
def test_cpu_flags_decide_virtualization_support(cpuinfo: str, expected: bool) -> None:
    assert cpu_advertises_virtualization(cpuinfo) is expected


def test_kvm_device_without_cpu_support_is_not_trusted() -> None:
    accel = decide("auto", NESTED_WITHOUT_VIRT, kvm_device_exists=True)
    assert accel.driver == "qemu"
    assert accel.cpu_model == "qemu64"
    assert "vmx/svm" in accel.reason


def test_kvm_is_used_where_the_cpu_and_device_allow_it() -> None:
    accel = decide("auto", INTEL, kvm_device_exists=True)
    assert accel.is_kvm
    assert accel.cpu_model is None


def test_cpu_support_without_device_falls_back_to_tcg() -> None:
    assert decide("auto", AMD, kvm_device_exists=False).driver == "qemu"


@pytest.mark.parametrize(("setting", "driver"), [("kvm", "kvm"), ("tcg", "qemu")])
def test_setting_forces_the_choice(setting: str, driver: str) -> None:
    assert decide(setting, NESTED_WITHOUT_VIRT if setting == "kvm" else INTEL, kvm_device_exists=True).driver == driver
