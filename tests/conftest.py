"""What every test session shares: the fault tests' rows of README's Reliability table."""

from __future__ import annotations

from collections.abc import Callable, Generator

import pytest

from tests import reliability

PENDING = pytest.StashKey[list[reliability.Row]]()
PASSED = pytest.StashKey[list[reliability.Row]]()

FaultRow = Callable[[str, str, str], None]
"""record(case, what labtool does, how it is repaired): one row of the Reliability table."""


@pytest.fixture
def fault_row(request: pytest.FixtureRequest) -> FaultRow:
    """Record this test's row of the Reliability table; it is kept only if the test passes."""
    rows: list[reliability.Row] = []
    request.node.stash[PENDING] = rows

    def record(case: str, happens: str, repair: str) -> None:
        rows.append(reliability.Row(case, happens, repair, request.node.nodeid))

    return record


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, object]:
    report = yield
    if getattr(report, "when", "") == "call" and getattr(report, "passed", False):
        pending: list[reliability.Row] = item.stash.get(PENDING, [])
        item.config.stash.setdefault(PASSED, []).extend(pending)
    return report


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-reliability",
        action="store_true",
        help="merge the rows of the fault tests that passed into docs/reliability.json and README's table "
        "(tracked files: without this option no test writes them)",
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With --record-reliability: the passed fault tests' rows into docs/reliability.json, and README's table."""
    if not session.config.getoption("--record-reliability"):
        return
    rows = session.config.stash.get(PASSED, [])
    known = reliability.load()
    merged = reliability.merge(known, rows)
    if rows:
        reliability.save(merged)
    if merged:
        reliability.rewrite_readme(reliability.render(merged))
