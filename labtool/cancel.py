"""Stopping long work on request (Ctrl-C, SIGTERM): a token the CLI sets and the workers look at."""

from __future__ import annotations

import threading
import time

from labtool.errors import LabtoolError


class StoppedError(LabtoolError):
    """The user stopped labtool (SIGINT or SIGTERM) in the middle of changing a room."""


class Cancel:
    """Set once, from a signal handler; worker threads check it before each step and stop starting new ones."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self._since: float | None = None

    def set(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._since = time.monotonic()
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def seconds(self) -> float:
        """How long ago it was set (0 while it is not)."""
        return 0.0 if self._since is None else time.monotonic() - self._since
