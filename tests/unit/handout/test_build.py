"""`labtool handout` with fake machines: passwords issued once, shown once, kept as hashes, set on running machines."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from labtool import lab as lab_module
from labtool import passwords, state
from labtool.accounts import Account
from labtool.cli import handout as handout_cli
from labtool.cli import main
from labtool.handout.build import NoStudentsError, build, students_of
from labtool.lab import Lab
from labtool.model import THIS_HOST, Access, Kind, LabHost, Room, Student
from labtool.provision import AccountResult, ProvisionResult
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room, with_students

ADA, GRACE = Student("Ada Lovelace", "ada_lovelace", "ada@example.org"), Student("Grace Hopper", "grace_hopper")


@pytest.fixture
def account_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Account]]:
    runs: list[tuple[str, Account]] = []

    def fake_provision(
        room: Room, machine: str, inventory: Path, work_dir: Path, on_task: object, *, how: object
    ) -> ProvisionResult:
        return ProvisionResult(machine, True, 1)

    def fake_account(
        room: Room, machine: str, account: Account, inventory: Path, work_dir: Path, *, how: object, env: object
    ) -> AccountResult:
        runs.append((machine, account))
        return AccountResult(machine, True, account.token)

    monkeypatch.setattr(lab_module, "provision", fake_provision)
    monkeypatch.setattr(lab_module, "provision_account", fake_account)
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    return runs


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    """Three seats, students at two; the machines of seat s1 are up, the rest absent."""
    (tmp_path / "room").mkdir()
    room = with_students(paired_room(3, path=tmp_path / "room"), {"s1": ADA, "s2": GRACE})
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    the_lab = Lab(settings, room, {Kind.VM: FakeBackend(Kind.VM), Kind.CONTAINER: FakeBackend(Kind.CONTAINER)})
    monkeypatch.setattr(handout_cli, "lab_for", lambda args: the_lab)
    return the_lab


def handout(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["handout", "demo", *args, "--json"])
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, data


def clear_passwords(files: list[str]) -> dict[str, str]:
    """login -> password, from the handout's CSV."""
    [csv_file] = [f for f in files if f.endswith(".csv")]
    rows = [line.split(",") for line in Path(csv_file).read_text().splitlines()[1:]]
    return {row[3]: row[4] for row in rows}


def test_the_first_handout_issues_every_password_and_sets_it_on_the_running_machines(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str], account_runs: list[tuple[str, Account]]
) -> None:
    lab.up(lab.plan({"s1"}), parallel=2, progress=lambda _: None)
    account_runs.clear()
    out = tmp_path / "sheets"
    code, data = handout(["-o", str(out)], capsys)
    assert code == 0
    files = [str(f) for f in data["files"]]
    assert len(files) == 2 and all(Path(f).parent == out for f in files)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE(Path(f).stat().st_mode) for f in files} == {0o600}, "clear passwords: owner only"
    shown = clear_passwords(files)
    kept = state.read_passwords(lab.state_dir)
    assert set(shown) == set(kept) == {"ada_lovelace", "grace_hopper"}
    assert all(passwords.verify(shown[login], kept[login].hash) for login in shown)
    # Only seat s1's machines run: they get the new password now, seat s2's at their next `up`.
    assert sorted(m for m, _ in account_runs) == ["s1-ct", "s1-vm"]
    assert {a.password_hash for _, a in account_runs} == {kept["ada_lovelace"].hash}
    seats = data["seats"]
    assert [s["password"]["on_this_handout"] for s in seats] == [True, True]
    printed = json.dumps(data)
    assert not [secret for login in shown for secret in (shown[login], kept[login].hash) if secret in printed]


def test_a_second_handout_shows_no_password_and_a_rotation_replaces_only_that_seats(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str], account_runs: list[tuple[str, Account]]
) -> None:
    out = tmp_path / "sheets"
    handout(["-o", str(out)], capsys)
    before = state.read_passwords(lab.state_dir)
    _, again = handout(["-o", str(out)], capsys)
    assert clear_passwords(again["files"]) == {"ada_lovelace": "", "grace_hopper": ""}
    assert state.read_passwords(lab.state_dir) == before
    _, rotated = handout(["-o", str(out), "--rotate", "s2"], capsys)
    assert list(clear_passwords(rotated["files"])) == ["grace_hopper"]
    after = state.read_passwords(lab.state_dir)
    assert after["ada_lovelace"] == before["ada_lovelace"]
    assert after["grace_hopper"].id != before["grace_hopper"].id
    assert len(list(out.iterdir())) == 6, "no handout replaces an earlier one"


def test_nothing_is_issued_when_the_sheets_cannot_be_written(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(handout_cli, "atomic_write", full_disk)
    assert main(["handout", "demo", "-o", str(tmp_path / "sheets")]) == 1
    err = capsys.readouterr().err
    assert "error: cannot write the handout to" in err and "no password was issued" in err
    assert state.read_passwords(lab.state_dir) == {}


def test_rotating_or_handing_out_to_a_seat_without_a_student_is_an_error(lab: Lab) -> None:
    with pytest.raises(NoStudentsError, match="seat s3 of room 'demo' has no student"):
        students_of(lab.room, None, ["s3"])
    with pytest.raises(NoStudentsError, match="room 'demo' has no students at those seats"):
        students_of(lab.room, ["s3"], [])
    assert [seat.name for seat, _ in students_of(lab.room, None, ["s2"])] == ["s2"]
    assert [seat.name for seat, _ in students_of(lab.room, None, [])] == ["s1", "s2"]


def test_no_file_labtool_keeps_holds_a_password_and_only_the_password_file_a_hash(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str], account_runs: list[tuple[str, Account]]
) -> None:
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    out = tmp_path / "sheets"
    _, first = handout(["-o", str(out)], capsys)
    _, rotated = handout(["-o", str(out), "--rotate", "s1"], capsys)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    clear = [*clear_passwords(first["files"]).values(), *clear_passwords(rotated["files"]).values()]
    hashes = [entry.hash for entry in state.read_passwords(lab.state_dir).values()]
    assert len([p for p in clear if p]) == 3 and len(hashes) == 2
    written = [p for p in (tmp_path / "home").rglob("*") if p.is_file()]
    assert any(p.name == "inventory.yml" for p in written) and any(p.name == "state.json" for p in written)
    for path in written:
        text = path.read_text()
        assert not [p for p in clear if p and p in text], path
        holds_hash = [h for h in hashes if h in text or h.split("$")[-1] in text]
        assert not holds_hash or path.name == state.PASSWORDS_FILE, path
    assert stat.S_IMODE((lab.state_dir / state.PASSWORDS_FILE).stat().st_mode) == 0o600


def test_a_seat_on_another_lab_host_is_reached_at_that_hosts_address(tmp_path: Path) -> None:
    lab2 = LabHost("lab2", "root@192.0.2.12")
    room = dataclasses.replace(
        with_students(paired_room(2, path=tmp_path), {"s1": ADA, "s2": GRACE}),
        access=Access("127.0.0.1", 20000),
        hosts=(THIS_HOST, lab2),
    )
    made = build(room, students_of(room, None, ()), {}, {}, {}, hosts={"s2": lab2})
    assert [sheet.vm.ssh for sheet in made.sheets] == [
        "ssh -p 20002 ada_lovelace@127.0.0.1",
        "ssh -p 20006 grace_hopper@192.0.2.12",
    ]
    assert made.published == ("127.0.0.1", "192.0.2.12")
