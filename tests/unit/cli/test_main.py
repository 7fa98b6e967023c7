import subprocess
import sys

import pytest

from labtool.cli import main


def test_bad_setting_is_rendered_as_error_and_hint_without_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABTOOL_VM_ACCEL", "xen")
    assert main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: LABTOOL_VM_ACCEL must be one of auto, kvm, tcg, got 'xen'\nhint: ")
    assert "Traceback" not in err


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABTOOL_VM_ACCEL", "xen")
    assert main(["--debug", "images", "list"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_unknown_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["fly"])
    assert caught.value.code == 2
    assert "invalid choice: 'fly'" in capsys.readouterr().err


def test_the_cli_starts_without_the_web_stack() -> None:
    # Every verb pays for what the CLI imports; aiohttp, asyncssh and Jinja2 (about half of it) are serve's alone.
    code = "import sys, labtool.cli; print(sorted(m for m in ('aiohttp', 'asyncssh', 'jinja2') if m in sys.modules))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "[]"
