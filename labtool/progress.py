"""How long work reports as it goes: one line at a time, given to whoever shows it (only the CLI prints)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]
"""Takes one line of progress, e.g. "seat01-vm: ready, provisioned (84 s)"."""
