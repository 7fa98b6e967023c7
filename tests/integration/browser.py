"""Headless Chromium (Debian's package, not a downloaded browser) through Playwright, to see pages as people do.

Also a command: `python -m tests.integration.browser HTML PNG` screenshots a page
(scripts/screenshot-report uses it to refresh docs/report.png).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Nothing but the page: no sandbox (we may run as root), no GPU, and none of the browser's own traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WIDTH = 1200


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: install Debian's chromium (scripts/install-host-packages.sh)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_file(browser: Browser, path: Path, requests: list[str] | None = None) -> Page:
    """Open a local page at the report's design width; every URL the page requests is appended to `requests`."""
    page = browser.new_page(viewport={"width": WIDTH, "height": 900})
    if requests is not None:
        page.on("request", lambda request: requests.append(request.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page


def screenshot(html: Path, png: Path) -> None:
    with chromium() as browser:
        open_file(browser, html).screenshot(path=str(png), full_page=True)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m tests.integration.browser HTML PNG\n")
        return 2
    screenshot(Path(argv[0]), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
