"""The live view of long work on a terminal: one row per machine (phase, current task, elapsed, result).

The library reports progress as lines (`seat01-vm: creating (...)`, `seat01-vm | Install nginx`);
this view folds those lines into a table redrawn in place on stderr. Off a terminal the
lines are printed as they come, so logs and CI output stay plain; `--json` on stdout is
never touched either way.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from labtool.cli.output import progress as plain_progress
from labtool.progress import Progress

if TYPE_CHECKING:
    from rich.console import RenderableType

RESULTS = ("ready", "FAILED", "ok", "passed", "failed", "drift")


@dataclass
class Row:
    machine: str
    phase: str = "waiting"
    task: str = ""
    started: float | None = None
    finished: float | None = None
    result: str = ""

    def elapsed(self, now: float) -> str:
        if self.started is None:
            return ""
        return f"{(self.finished or now) - self.started:.0f} s"


@dataclass
class Board:
    """The rows, and the lines that belong to no machine (kept to show under the table)."""

    rows: dict[str, Row]
    notes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __rich__(self) -> RenderableType:
        """Rendered at each refresh, so the elapsed column moves between events too."""
        with self.lock:
            return render(self, time.monotonic())

    def feed(self, line: str, now: float) -> None:
        with self.lock:
            self._feed(line, now)

    def _feed(self, line: str, now: float) -> None:
        for separator in (" | ", ": "):
            name, found, rest = line.partition(separator)
            row = self.rows.get(name) if found else None
            if row is None:
                continue
            row.started = row.started if row.started is not None else now
            if separator == " | ":
                row.task = rest
                return
            phase = rest.split(" (", 1)[0].split(",", 1)[0].split(":", 1)[0]
            row.phase = phase
            if phase.startswith(RESULTS):
                row.result, row.finished, row.task = rest, now, ""
            return
        self.notes = [*self.notes[-4:], line]


def render(board: Board, now: float) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    # Names and phases are never cut; the task and the result give way on a narrow terminal.
    table.add_column("MACHINE", no_wrap=True, min_width=max(len(name) for name in board.rows))
    table.add_column("PHASE", no_wrap=True, min_width=12)
    table.add_column("TASK", no_wrap=True, overflow="ellipsis", ratio=3)
    table.add_column("ELAPSED", no_wrap=True, justify="right", min_width=7)
    table.add_column("RESULT", no_wrap=True, overflow="ellipsis", ratio=2)
    for row in board.rows.values():
        style = "red" if "FAILED" in row.result else "green" if row.result else ""
        table.add_row(row.machine, row.phase, row.task, row.elapsed(now), Text(row.result, style=style))
    return Group(table, *(Text(f"==> {note}", style="dim") for note in board.notes))


@contextmanager
def view(machines: Sequence[str], *, enabled: bool | None = None) -> Iterator[Progress]:
    """A progress callback: the live table on a terminal, plain `==>` lines elsewhere."""
    on_terminal = sys.stderr.isatty() if enabled is None else enabled
    if not on_terminal or not machines:
        yield plain_progress
        return
    from rich.console import Console
    from rich.live import Live

    board = Board({name: Row(name) for name in machines})
    with Live(board, console=Console(stderr=True), refresh_per_second=4, transient=False):
        yield lambda line: board.feed(line, time.monotonic())
