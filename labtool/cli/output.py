"""Rendering for the terminal: aligned tables and JSON. Only the CLI package writes to stdout/stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
    return "\n".join(lines)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def say(message: str) -> None:
    print(message, flush=True)


def progress(message: str) -> None:
    """Progress of long work goes to stderr, so stdout stays parseable (--json)."""
    # One write per line: lines from parallel seats must not interleave.
    sys.stderr.write(f"==> {message}\n")
    sys.stderr.flush()
