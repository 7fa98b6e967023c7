"""Helpers of the labnotes exercise checks (`labtool check` runs them on each student machine).

Each test is worth the points of its `@pytest.mark.points(n)` marker (1 without
one): labtool loads the plugin that knows the marker (`-p labtool.checks_plugin`);
to run the checks by hand, load it too:
`pytest checks --hosts=ansible://seat01-ct -p labtool.checks_plugin`.
"""

from __future__ import annotations

from typing import Any

MACHINE_SUFFIXES = ("-vm", "-ct")


def inventory_vars(host: Any) -> dict[str, Any]:
    """The machine's inventory variables; empty when not run through Ansible."""
    try:
        return dict(host.ansible.get_variables())
    except Exception:  # any non-Ansible backend simply has none
        return {}


def expected_author(host: Any) -> str:
    """Who must sign the exercise's note: the seat's student, or the seat's name when the room names no students."""
    variables = inventory_vars(host)
    student = variables.get("labtool_student")
    if isinstance(student, dict):
        student = student.get("name")
    if isinstance(student, str) and student.strip():
        return student.strip()
    seat = variables.get("labtool_seat")
    if isinstance(seat, str) and seat:
        return seat
    name = str(variables.get("inventory_hostname", ""))
    return next((name.removesuffix(s) for s in MACHINE_SUFFIXES if name.endswith(s)), name)


def response_headers(host: Any, path: str, *headers: str) -> dict[str, str]:
    """The headers nginx sends for GET http://127.0.0.1{path} on the machine, names in lower case."""
    options = " -H %s" * len(headers)
    out = host.check_output(f"curl -sS --max-time 10 -o /dev/null -D -{options} http://127.0.0.1%s", *headers, path)
    found: dict[str, str] = {}
    for line in out.splitlines()[1:]:
        name, _, value = line.partition(":")
        if value:
            found[name.strip().lower()] = value.strip()
    return found
