"""A verify report as JUnit XML: what CI systems read."""

from __future__ import annotations

from xml.etree import ElementTree

from labtool.model import Kind
from labtool.parity.diff import Difference, SeatParity
from labtool.report import junit
from labtool.verify import CaseResult, MachineTests, VerifyReport


def test_machines_and_parity_become_suites_with_failures_where_they_failed() -> None:
    report = VerifyReport(
        "default",
        [
            MachineTests("seat01-vm", Kind.VM, (CaseResult("test_healthz", "passed", 0.2),), 3.0),
            MachineTests("seat01-ct", Kind.CONTAINER, (CaseResult("test_ssh", "failed", 0.1, "ssh is down"),), 1.0),
            MachineTests("seat02-vm", Kind.VM, error="absent: bring it up"),
        ],
        [SeatParity("seat01", 300, (Difference("package:nginx", "1.0", "2.0"),), ())],
    )
    root = ElementTree.fromstring(junit.render(report))
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert list(suites) == ["seat01-vm", "seat01-ct", "seat02-vm", "parity"]
    assert suites["seat01-vm"].find("testcase/failure") is None
    failure = suites["seat01-ct"].find("testcase/failure")
    assert failure is not None and failure.get("message") == "ssh is down"
    error = suites["seat02-vm"].find("testcase/error")
    assert error is not None and error.get("message") == "absent: bring it up"
    drift = suites["parity"].find("testcase/failure")
    assert drift is not None and drift.text == "package:nginx: VM '1.0', container '2.0'"
    assert suites["parity"].get("failures") == "1"
