"""Diff the fingerprints of a seat's two machines: drift versus expected differences. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from labtool.parity.expected import AllowList

ABSENT = None


@dataclass(frozen=True)
class Difference:
    item: str
    """`category:key`, e.g. `package:nginx`, `file:/etc/motd`, `service-running:nginx.service`."""
    vm: str | None
    container: str | None
    """None: the item does not exist on that machine."""
    reason: str = ""
    """Why the difference is expected; empty for drift."""
    why: str = ""
    """For drift: what each side shows about it, in words (a unit's result, a port's owner)."""
    details: tuple[str, ...] = ()
    """For drift: the evidence, line by line (a unified diff of a file, a unit's last journal lines)."""
    repair: str = ""
    """For drift: the command that makes the two alike again."""

    @property
    def category(self) -> str:
        return self.item.split(":", 1)[0]


@dataclass(frozen=True)
class SeatParity:
    seat: str
    compared: int
    """How many items were compared (the union of both machines' items)."""
    drift: tuple[Difference, ...]
    expected: tuple[Difference, ...]
    error: str = ""
    """Why the seat could not be compared (a machine not running, the collector failing)."""

    @property
    def ok(self) -> bool:
        return not self.drift and not self.error


def diff(
    seat: str,
    vm: Mapping[str, str],
    container: Mapping[str, str],
    allowed: AllowList,
    machine_reasons: Mapping[str, str] | None = None,
) -> SeatParity:
    """`machine_reasons`: items a machine itself explains (the container's relaxed sandboxing, with its cause)."""
    drift, expected = [], []
    items = sorted(set(vm) | set(container))
    for item in items:
        vm_value, container_value = vm.get(item, ABSENT), container.get(item, ABSENT)
        if vm_value == container_value:
            continue
        reason = allowed.reason_for(item) or (machine_reasons or {}).get(item)
        if reason:
            expected.append(Difference(item, vm_value, container_value, reason))
        else:
            drift.append(Difference(item, vm_value, container_value))
    return SeatParity(seat, len(items), tuple(drift), tuple(expected))
