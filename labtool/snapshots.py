"""Checkpoints of a seat (`labtool snapshot`, `reset --to`): both machines saved together, restored together.

Each technology keeps its machine's half (backends.base.Checkpointing): the VM a libvirt
snapshot of its disk and memory, the container an image committed from it, from which it is
made again with its name, address and published ports. labtool keeps one record per
checkpoint in the room's state (snapshots.json): when it was taken and how each machine was
provisioned then, which is what the machine is again once restored. A restored machine gets
the student's current account back (a password rotated since stays rotated).

A machine's checkpoints go with it: `down` and a plain `reset` of a seat remove them.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from labtool import state
from labtool.backends.base import Checkpointing
from labtool.errors import LabtoolError
from labtool.model import Machine
from labtool.progress import Progress

if TYPE_CHECKING:
    from labtool.lab import Lab

FILE = "snapshots.json"
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
"""A checkpoint's name: what both a Docker tag and a libvirt snapshot name accept, and a file name would."""


class SnapshotError(LabtoolError):
    """A checkpoint could not be saved, found, restored or deleted."""


@dataclass(frozen=True)
class Snapshot:
    seat: str
    name: str
    created: str
    """UTC, ISO 8601."""
    provisioned: dict[str, str | None] = field(default_factory=dict)
    """Machine -> the provisioning key it had when saved: what its state says again once restored."""


@dataclass(frozen=True)
class Done:
    """What save, restore or delete did: the checkpoint, and the seconds each machine took."""

    snapshot: Snapshot
    seconds: dict[str, float]


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise SnapshotError(
            f"{name!r} is not a checkpoint name",
            "use 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def saved(state_dir: Path, seats: Collection[str] | None = None) -> list[Snapshot]:
    """The room's checkpoints (of the given seats), oldest first."""
    try:
        raw = json.loads((state_dir / FILE).read_text())
    except (OSError, ValueError):
        return []
    found = [Snapshot(**entry) for entry in raw if isinstance(entry, dict)]
    return sorted((s for s in found if seats is None or s.seat in seats), key=lambda s: s.created)


def save(lab: Lab, seat: str, name: str, progress: Progress) -> Done:
    """Capture both machines of the running seat under `name`; on a failure neither half is kept."""
    check_name(name)
    machines = lab.room.seat(seat).machines
    with state.locked(lab.state_dir, lab.what, progress):
        if _lookup(lab.state_dir, seat, name) is not None:
            raise SnapshotError(
                f"seat {seat} already has a checkpoint {name!r}",
                f"pick another name, or delete it first: `labtool snapshot delete {lab.room.name} --seat {seat} "
                f"{name}`",
            )
        progress(f"{seat}: saving checkpoint {name!r} of {', '.join(m.name for m in machines)}")
        try:
            seconds = _on_both(lab, machines, lambda backend, m: backend.save_checkpoint(lab.room, m, name))
        except LabtoolError:
            with contextlib.suppress(LabtoolError):  # the save's own error is the one to show
                _on_both(lab, machines, lambda backend, m: backend.delete_checkpoint(lab.room, m, name))
            raise
        room_state = state.read(lab.state_dir)
        snapshot = Snapshot(
            seat, name, state.utc_now(), {m.name: room_state.record(m.name).provisioned_key for m in machines}
        )
        _write(lab.state_dir, [*saved(lab.state_dir), snapshot])
    return Done(snapshot, seconds)


def restore(lab: Lab, seat: str, name: str, progress: Progress) -> Done:
    """Both machines of the seat back to the checkpoint, running, with the student's current account."""
    machines = lab.room.seat(seat).machines
    with state.locked(lab.state_dir, lab.what, progress):
        snapshot = _get(lab.state_dir, seat, check_name(name))
        progress(f"{seat}: restoring checkpoint {name!r} of {', '.join(m.name for m in machines)}")
        seconds = _on_both(lab, machines, lambda backend, m: backend.restore_checkpoint(lab.room, m, name))
        room_state = state.read(lab.state_dir)
        for machine in machines:
            record = room_state.record(machine.name)
            record.provisioned_key = snapshot.provisioned.get(machine.name)
            record.failed, record.error = False, ""
        state.write(lab.state_dir, room_state)
        failed = [r for r in lab.apply_accounts(machines, progress) if not r.ok]
        if failed:
            raise SnapshotError(
                f"seat {seat} is back at {name!r}, but the student's account could not be set on "
                f"{', '.join(r.machine for r in failed)}",
                f"run `labtool up {lab.room.name}` to set it again",
            )
    return Done(snapshot, seconds)


def delete(lab: Lab, seat: str, name: str, progress: Progress) -> Done:
    machines = lab.room.seat(seat).machines
    with state.locked(lab.state_dir, lab.what, progress):
        snapshot = _get(lab.state_dir, seat, check_name(name))
        seconds = _on_both(lab, machines, lambda backend, m: backend.delete_checkpoint(lab.room, m, name))
        _write(lab.state_dir, [s for s in saved(lab.state_dir) if (s.seat, s.name) != (seat, name)])
    return Done(snapshot, seconds)


def forget(lab: Lab, machines: Sequence[Machine], destroyed: Collection[str]) -> None:
    """After `down` of some machines (the caller holds the room lock): their seats' checkpoints are gone.

    A destroyed machine took its half with it; the other half of each of those checkpoints
    (a seat's container when only its VM was reset) is removed here, so none is left half.
    """
    seats = {m.seat for m in machines if m.name in destroyed}
    gone = [s for s in saved(lab.state_dir) if s.seat in seats]
    for snapshot in gone:
        for machine in lab.room.seat(snapshot.seat).machines:
            backend = lab.backends[machine.kind]
            if machine.name not in destroyed and isinstance(backend, Checkpointing):
                backend.delete_checkpoint(lab.room, machine, snapshot.name)
    if gone:
        _write(lab.state_dir, [s for s in saved(lab.state_dir) if s.seat not in seats])


def _lookup(state_dir: Path, seat: str, name: str) -> Snapshot | None:
    return next((s for s in saved(state_dir, [seat]) if s.name == name), None)


def _get(state_dir: Path, seat: str, name: str) -> Snapshot:
    found = _lookup(state_dir, seat, name)
    if found is not None:
        return found
    names = ", ".join(s.name for s in saved(state_dir, [seat])) or "none"
    raise SnapshotError(
        f"seat {seat} has no checkpoint {name!r} (it has: {names})",
        "save one with `labtool snapshot save --seat SEAT NAME`",
    )


def _on_both(lab: Lab, machines: Sequence[Machine], call: Callable[[Checkpointing, Machine], None]) -> dict[str, float]:
    """Run `call` on each machine's backend at once (the VM is the slow one); raise the first failure."""
    for machine in machines:
        if not isinstance(lab.backends[machine.kind], Checkpointing):
            raise SnapshotError(f"the {machine.kind} backend of room {lab.room.name!r} cannot save checkpoints")

    def timed(machine: Machine) -> float:
        started = time.monotonic()
        backend = lab.backends[machine.kind]
        assert isinstance(backend, Checkpointing)
        call(backend, machine)
        return round(time.monotonic() - started, 1)

    with ThreadPoolExecutor(max_workers=len(machines), thread_name_prefix="checkpoint") as pool:
        jobs = {m.name: pool.submit(timed, m) for m in machines}
    failures = [job.exception() for job in jobs.values() if job.exception() is not None]
    if failures:
        raise failures[0]  # type: ignore[misc]
    return {name: job.result() for name, job in jobs.items()}


def _write(state_dir: Path, snapshots: list[Snapshot]) -> None:
    state.atomic_write(state_dir / FILE, json.dumps([asdict(s) for s in snapshots], indent=2) + "\n")
