"""Who is asking: the instructor's token, sessions that expire, CSRF tokens, and the login rate limit.

Sessions live in the server's memory only (a restart logs everyone out). A student's session
holds their password while it lasts, because their terminal logs in to the seat over SSH as
them; it is never written anywhere and goes with the session.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labtool.state import PRIVATE, atomic_write

INSTRUCTOR = "instructor"
TOKEN_FILE = "instructor-token"
SESSION_IDLE_SECONDS = 60 * 60
"""A session unused for an hour ends: a lab PC left logged in is not left open for the next class."""
SESSION_MAX_SECONDS = 10 * 60 * 60
"""No session outlives a school day."""
FAILURES_ALLOWED = 5
FAILURE_WINDOW_SECONDS = 5 * 60
"""Five wrong logins from one address (or for one login) in five minutes, and that address or login waits."""


@dataclass
class Session:
    id: str = field(repr=False)
    role: str
    """INSTRUCTOR, or "student"."""
    csrf: str = field(repr=False)
    created: float
    seen: float
    room: str = ""
    seat: str = ""
    login: str = ""
    name: str = ""
    password: str = field(default="", repr=False)
    """A student's password, for their terminal's SSH login; in memory only."""

    @property
    def who(self) -> str:
        return INSTRUCTOR if self.role == INSTRUCTOR else f"student {self.login} ({self.room}/{self.seat})"

    def csrf_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


class Sessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def new(self, role: str, **details: str) -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), role, secrets.token_urlsafe(32), now, now, **details)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of that id (its use counts as activity); None when unknown or expired."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.seen >= SESSION_IDLE_SECONDS or now - session.created >= SESSION_MAX_SECONDS:
            del self._sessions[session_id]
            return None
        session.seen = now
        return session

    def end(self, session_id: str | None) -> None:
        self._sessions.pop(session_id or "", None)

    def end_student(self, room: str, login: str) -> int:
        """End every session of a student (their password was rotated); how many there were."""
        ended = [k for k, s in self._sessions.items() if s.role != INSTRUCTOR and (s.room, s.login) == (room, login)]
        for key in ended:
            del self._sessions[key]
        return len(ended)


class RateLimit:
    """Failed logins per key (an address, a login): too many in the window and the key must wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def wait_seconds(self, *keys: str) -> int:
        """How long the longest-blocked of the keys must still wait (0: it may try)."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            recent = self._recent(key, now)
            if len(recent) >= FAILURES_ALLOWED:
                wait = max(wait, recent[0] + FAILURE_WINDOW_SECONDS - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            self._recent(key, now).append(now)

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] <= now - FAILURE_WINDOW_SECONDS:
            recent.popleft()
        return recent


def instructor_token(directory: Path, *, renew: bool = False) -> Path:
    """The file holding the instructor's token (made 0600 on first use, or anew with renew); its path."""
    path = directory / TOKEN_FILE
    if renew or not path.is_file():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(path, secrets.token_urlsafe(32) + "\n", mode=PRIVATE)
    return path


def token_matches(path: Path, given: str) -> bool:
    expected = path.read_text().strip()
    return bool(given) and hmac.compare_digest(given.strip().encode(), expected.encode())
