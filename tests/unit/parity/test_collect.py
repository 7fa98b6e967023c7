"""The collector that runs on each machine: its pure parts, run here on the host."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

from labtool.parity.fingerprint import COLLECTOR


@pytest.fixture(scope="module")
def collector() -> ModuleType:
    spec = importlib.util.spec_from_file_location("collect", COLLECTOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAGE = """<!doctype html><html><head><title>Lab notes</title></head><body>
<p>You are on <b>{host}</b></p><ul id="notes">{notes}</ul><form><input name="a"></form></body></html>"""


def structure(collector: ModuleType, page: str) -> tuple[str, list[str]]:
    skeleton = collector.Skeleton()
    skeleton.feed(page)
    return skeleton.title, skeleton.tags


def test_the_page_structure_ignores_text_and_the_students_notes(collector: ModuleType) -> None:
    empty = PAGE.format(host="seat01-vm", notes="<li>No notes yet.</li>")
    full = PAGE.format(host="seat01-ct", notes="<li><b>alice</b>: hi<br></li><li><b>bob</b>: ho</li>")
    assert structure(collector, empty) == structure(collector, full)
    title, tags = structure(collector, full)
    assert title == "Lab notes"
    assert tags[-6:] == ["/ul", "form", "input name=a", "/form", "/body", "/html"]


def test_a_changed_page_template_changes_the_structure(collector: ModuleType) -> None:
    page = PAGE.format(host="x", notes="")
    assert structure(collector, page) != structure(collector, page.replace("<p>", '<p class="new">'))


def test_files_are_described_by_kind_mode_owner_and_content(collector: ModuleType, tmp_path: Path) -> None:
    target = tmp_path / "a.conf"
    target.write_text("x")
    target.chmod(0o640)
    (tmp_path / "link").symlink_to(target)
    described = collector.describe(str(target))
    assert described.startswith("file 0640 ")
    assert described.endswith("sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
    assert collector.describe(str(tmp_path / "link")) == f"link -> {target}"
    assert collector.describe(str(tmp_path / "missing")) == "absent"
    os.chmod(tmp_path, 0o750)
    assert collector.describe(str(tmp_path)).startswith("directory 0750 ")


def test_nested_values_are_flattened_to_dotted_items(collector: ModuleType) -> None:
    flat = collector.flatten("", {"memory_limit": {"bytes": 5, "source": "MemTotal"}, "app": "labnotes"})
    assert flat == {"memory_limit.bytes": "5", "memory_limit.source": "MemTotal", "app": "labnotes"}
