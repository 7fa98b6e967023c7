from pathlib import Path

import pytest

from labtool.errors import SettingsError
from labtool.settings import Settings


def test_defaults_work_on_a_fresh_host() -> None:
    settings = Settings.from_env({})
    assert settings.home == Path.home() / ".local/share/labtool"
    assert settings.debian_mirror is None
    assert settings.vm_accel == "auto"
    assert settings.log_dir == settings.home / "logs"


def test_environment_overrides_each_setting() -> None:
    settings = Settings.from_env(
        {
            "LABTOOL_HOME": "/srv/lab",
            "LABTOOL_DEBIAN_MIRROR": "http://mirror.example.org/debian",
            "LABTOOL_VM_ACCEL": "TCG",
        }
    )
    assert settings.home == Path("/srv/lab")
    assert settings.debian_mirror == "http://mirror.example.org/debian"
    assert settings.vm_accel == "tcg"


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {"LABTOOL_HOME": "relative/dir", "LABTOOL_DEBIAN_MIRROR": "ftp:/x", "LABTOOL_VM_ACCEL": "xen"}
        )
    message = caught.value.message
    assert "LABTOOL_HOME must be an absolute path" in message
    assert "LABTOOL_DEBIAN_MIRROR must be an http(s) or file URL, got 'ftp:/x'" in message
    assert "LABTOOL_VM_ACCEL must be one of auto, kvm, tcg, got 'xen'" in message
    assert caught.value.hint


def test_the_apt_cache_is_on_unless_turned_off() -> None:
    assert Settings.from_env({}).apt_cache is True
    assert Settings.from_env({"LABTOOL_APT_CACHE": "OFF"}).apt_cache is False
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"LABTOOL_APT_CACHE": "sometimes"})
    assert "LABTOOL_APT_CACHE must be on or off, got 'sometimes'" in caught.value.message


def test_timeouts_have_documented_defaults_and_environment_overrides() -> None:
    defaults = Settings.from_env({})
    assert (defaults.vagrant_timeout, defaults.provision_timeout, defaults.docker_timeout) == (1800, 3600, 300)
    tuned = Settings.from_env(
        {"LABTOOL_VAGRANT_TIMEOUT": "2400", "LABTOOL_PROVISION_TIMEOUT": "90.5", "LABTOOL_DOCKER_TIMEOUT": "60"}
    )
    assert (tuned.vagrant_timeout, tuned.provision_timeout, tuned.docker_timeout) == (2400, 90.5, 60)


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "inf", "1e9", "1" * 400])
def test_a_timeout_must_be_a_positive_number_of_seconds(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"LABTOOL_VAGRANT_TIMEOUT": value})
    assert caught.value.message.startswith("LABTOOL_VAGRANT_TIMEOUT must be a number of seconds above 0")
    assert len(caught.value.message) < 200
