"""Exercise 1: add a note through the labnotes API, signed with your name."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import expected_author


@pytest.mark.points(2)
def test_note_signed(host: Any) -> None:
    """A note signed with the student's name was added through the API"""
    author = expected_author(host)
    notes = json.loads(host.check_output("curl -fsS --max-time 10 http://127.0.0.1/api/notes"))
    authors = sorted({str(note.get("author")) for note in notes})
    assert author in authors, f"no note by {author!r}; notes are by: {', '.join(authors) or 'nobody'}"
