"""A verify report as JUnit XML, for CI systems: one suite per machine, and one for parity."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from labtool.state import SHARED, atomic_write
from labtool.verify import VerifyReport


def render(report: VerifyReport) -> str:
    suites = ElementTree.Element("testsuites", name=f"labtool verify {report.room}")
    for machine in report.machines:
        suite = _suite(suites, machine.machine, len(machine.cases), len(machine.failed))
        if machine.error:
            case = ElementTree.SubElement(suite, "testcase", classname=machine.machine, name="suite")
            ElementTree.SubElement(case, "error", message=machine.error)
        for test in machine.cases:
            case = ElementTree.SubElement(
                suite, "testcase", classname=machine.machine, name=test.name, time=str(test.seconds)
            )
            if test.outcome in ("failed", "error", "skipped"):
                tag = {"failed": "failure"}.get(test.outcome, test.outcome)
                ElementTree.SubElement(case, tag, message=test.message)
    parity = _suite(suites, "parity", len(report.seats), sum(not s.ok for s in report.seats))
    for seat in report.seats:
        case = ElementTree.SubElement(parity, "testcase", classname="parity", name=seat.seat)
        if seat.error:
            ElementTree.SubElement(case, "error", message=seat.error)
        elif seat.drift:
            failure = ElementTree.SubElement(case, "failure", message=f"{len(seat.drift)} items drifted")
            failure.text = "\n".join(f"{d.item}: VM {d.vm!r}, container {d.container!r}" for d in seat.drift)
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _suite(parent: ElementTree.Element, name: str, tests: int, failures: int) -> ElementTree.Element:
    return ElementTree.SubElement(parent, "testsuite", name=name, tests=str(tests), failures=str(failures))


def write(report: VerifyReport, path: Path) -> None:
    atomic_write(path, render(report), mode=SHARED)
