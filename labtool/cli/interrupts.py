"""SIGINT and SIGTERM while a verb changes a room: stop within seconds, stop the children, say where it stopped.

Python's default (KeyboardInterrupt in the main thread, death on SIGTERM) leaves the
worker threads waiting in `vagrant up` and the children running on; here a signal
sets the verb's Cancel, which makes the workers stop starting steps, and a reaper
stops every process below labtool (vagrant, ansible-playbook, ssh): SIGTERM, then
SIGKILL a few seconds later, or at once on a second signal.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from labtool.cancel import Cancel
from labtool.host.children import Reaper

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_INTERRUPTED = 130
"""128 + SIGINT, as shells report a command stopped by Ctrl-C."""


@contextmanager
def stopping_on_signals(say: Callable[[str], None]) -> Iterator[Cancel]:
    """While the block runs, SIGINT/SIGTERM set the Cancel it gets (and stop labtool's child processes)."""
    cancel = Cancel()
    if threading.current_thread() is not threading.main_thread():
        yield cancel  # only the main thread may handle signals (an embedding program's thread: its own rules)
        return
    reaper = Reaper()

    def tell(message: str) -> None:
        # Not from the handler itself: it may have interrupted the main thread in the middle of a write.
        threading.Thread(target=say, args=(message,), daemon=True).start()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if cancel.is_set():
            reaper.hurry()
            tell(f"{name} again: killing labtool's commands now")
            return
        cancel.set(name)
        reaper.start()
        tell(f"{name}: stopping; the machines being worked on are recorded as interrupted ({name} again: at once)")

    previous = {signum: signal.signal(signum, on_signal) for signum in SIGNALS}
    try:
        yield cancel
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if cancel.is_set():
            left = reaper.finish()
            if left:
                say(f"warning: processes labtool started do not stop: pids {', '.join(map(str, left))}")


def stuck_threads() -> list[str]:
    """Worker threads still inside a call after an interrupt (say a Docker request): they would keep Python alive."""
    return [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]


def flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
