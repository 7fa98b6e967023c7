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
