"""Exercise 2: have nginx compress the app's JSON, in the app's own nginx site."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import response_headers

SITE = "/etc/nginx/sites-available/labnotes.conf"


@pytest.mark.points(3)
def test_gzip_json(host: Any) -> None:
    """The app's JSON is sent gzip-compressed to a client that accepts it"""
    headers = response_headers(host, "/api/fingerprint", "Accept-Encoding: gzip")
    assert headers.get("content-encoding") == "gzip", f"Content-Encoding: {headers.get('content-encoding', '(none)')}"


@pytest.mark.points(1)
def test_gzip_in_site(host: Any) -> None:
    """gzip_types names application/json in the app's nginx site"""
    site = host.file(SITE).content_string
    assert re.search(r"^\s*gzip_types\s[^;]*\bapplication/json\b", site, re.MULTILINE), f"{SITE} sets no gzip_types"
