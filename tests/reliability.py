"""The Reliability table of README.md, written by the fault tests themselves.

Each fault test records its row (the fault, what labtool did, how it is repaired)
through the `fault_row` fixture, with what it measured; a row counts only when its
test passed. At the end of a session run with `--record-reliability` the rows are merged into docs/reliability.json
(a row keeps the date its test last passed) and the README's table is rewritten from
it, with the number of bad-input cases counted from tests/unit/cli/test_bad_input.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROWS = REPO / "docs" / "reliability.json"
README = REPO / "README.md"
BEGIN = "<!-- reliability table: written by the fault tests (tests/reliability.py), do not edit by hand -->"
END = "<!-- end of the reliability table -->"


@dataclass(frozen=True)
class Row:
    case: str
    happens: str
    """What labtool did, with what the test measured."""
    repair: str
    test: str
    """The test that checked it (its pytest node id)."""
    passed: str = ""
    """The day the test last passed (UTC)."""


def load(path: Path = ROWS) -> dict[str, Row]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {item["test"]: Row(**item) for item in raw}


def merge(known: dict[str, Row], new: list[Row]) -> dict[str, Row]:
    today = time.strftime("%Y-%m-%d", time.gmtime())
    merged = dict(known)
    for row in new:
        merged[row.test] = Row(row.case, row.happens, row.repair, row.test, today)
    return merged


def bad_input_cases() -> tuple[int, int]:
    """(cases, of which usage errors) in the table-driven bad-input test, counted from its table."""
    from tests.unit.cli.test_bad_input import CASES

    return len(CASES), sum(1 for case in CASES if case.code == 2)


def render(rows: dict[str, Row]) -> str:
    lines = [
        "| fault | what labtool does | how it is repaired | checked by (last passed) |",
        "| --- | --- | --- | --- |",
    ]
    for row in sorted(rows.values(), key=lambda r: (_order(r.test), r.test)):
        test = row.test.split("::")[-1]
        lines.append(f"| {row.case} | {row.happens} | {row.repair} | `{test}` ({row.passed}) |")
    cases, usage = bad_input_cases()
    lines.append("")
    lines.append(
        f"Bad input: `tests/unit/cli/test_bad_input.py` runs {cases} malformed rooms, settings and invocations "
        f"through the command line; each ends with one `error:` naming the file and key and a `hint:`, exit 1 "
        f"({usage} usage errors: exit 2), no traceback, nothing run, nothing written outside `LABTOOL_HOME`."
    )
    return "\n".join(lines)


def rewrite_readme(table: str, readme: Path = README) -> bool:
    """Replace the table between the markers; True when README.md changed."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{table}\n{END}{tail}"
    if new == text:
        return False
    readme.write_text(new)
    return True


def save(rows: dict[str, Row], path: Path = ROWS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = [asdict(rows[key]) for key in sorted(rows, key=lambda t: (_order(t), t))]
    path.write_text(json.dumps(ordered, indent=2) + "\n")


def _order(test: str) -> int:
    """Integration rows (a real room) first, then the unit tests' fakes."""
    return 0 if "/integration/" in test else 1
