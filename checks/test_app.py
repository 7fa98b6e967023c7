"""Whatever the exercises change, the app must keep answering (worth the default point)."""

from __future__ import annotations

from typing import Any


def test_app_answers(host: Any) -> None:
    """The app's page still answers through nginx"""
    code = host.check_output("curl -s --max-time 10 -o /dev/null -w %s http://127.0.0.1/", "%{http_code}")
    assert code == "200", f"GET / answered {code}"
