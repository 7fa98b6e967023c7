"""The course section of labtool.yml, and what the provisioning key covers."""

from pathlib import Path

import pytest

from labtool import course
from labtool.model import Course
from labtool.provision import provision_key
from tests.unit.projects import small_project
from tests.unit.rooms import paired_room


def read(root: Path, raw: object) -> tuple[Course, list[str]]:
    problems: list[str] = []
    return course.read(raw, "labtool.yml", small_project(root), problems), problems


def test_defaults_are_the_reference_layout_and_must_exist(tmp_path: Path) -> None:
    chosen, problems = read(tmp_path, None)
    assert chosen.playbook == tmp_path / "playbooks" / "site.yml"
    assert problems == [
        f"labtool.yml: course.tests: molecule/shared/tests (the default) is not a directory in the lab project "
        f"{tmp_path}; create it or set course.tests to the directory your course uses"
    ]


def test_chosen_paths_and_app(tmp_path: Path) -> None:
    (tmp_path / "parity.yml").write_text("- items: ['file:/etc/x']\n  reason: the VM writes it at boot\n")
    raw = {
        "playbook": "playbooks/site.yml",
        "tests": "tests",
        "expected_differences": "parity.yml",
        "app": {"fingerprint_url": "http://127.0.0.1/about.json"},
    }
    chosen, problems = read(tmp_path, raw)
    assert problems == []
    assert (chosen.tests, chosen.expected_differences) == (tmp_path / "tests", tmp_path / "parity.yml")
    assert chosen.app.fingerprint_url == "http://127.0.0.1/about.json"
    assert chosen.app.page_url is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            {"tests": "tests", "playbook": "../outside.yml"},
            "course.playbook: ../outside.yml is outside the lab project",
        ),
        ({"tests": "tests", "playbook": "playbooks/nope.yml"}, "course.playbook: playbooks/nope.yml is not a file"),
        ({"tests": "tests", "playbok": "x"}, "course.playbok: unknown key"),
        ({"tests": 3}, "course.tests: 3 is not a path"),
        ({"tests": "tests", "app": {"page_url": "ftp://x"}}, "course.app.page_url: ftp://x is not an http(s) URL"),
        ({"tests": "tests", "expected_differences": "tests/test_x.py"}, "course.expected_differences: "),
        ("playbooks/site.yml", "course: must be a mapping"),
    ],
)
def test_bad_course_settings_are_room_problems(tmp_path: Path, raw: object, problem: str) -> None:
    _, problems = read(tmp_path, raw)
    assert any(problem in p for p in problems), problems


def test_checks_are_the_projects_checks_directory_when_there_is_one_and_optional(tmp_path: Path) -> None:
    chosen, problems = read(tmp_path, {"tests": "tests"})
    assert (chosen.checks, problems) == (None, [])
    (tmp_path / "checks").mkdir()
    chosen, problems = read(tmp_path, {"tests": "tests"})
    assert (chosen.checks, problems) == (tmp_path / "checks", [])
    (tmp_path / "grading").mkdir()
    chosen, problems = read(tmp_path, {"tests": "tests", "checks": "grading"})
    assert (chosen.checks, problems) == (tmp_path / "grading", [])


@pytest.mark.parametrize(
    ("checks", "problem"),
    [
        (
            "exercises",
            "labtool.yml: course.checks: exercises is not a directory in the lab project {root}; "
            "create it or set course.checks to the directory your course uses",
        ),
        ("../elsewhere", "labtool.yml: course.checks: ../elsewhere is outside the lab project {root}; "),
        (["checks"], 'labtool.yml: course.checks: ["checks"] is not a path; give a directory inside the project'),
        ("playbooks/site.yml", "labtool.yml: course.checks: playbooks/site.yml is not a directory"),
    ],
)
def test_a_bad_checks_setting_names_the_file_the_key_and_the_fix(tmp_path: Path, checks: object, problem: str) -> None:
    chosen, problems = read(tmp_path, {"tests": "tests", "checks": checks})
    assert chosen.checks is None
    assert len(problems) == 1 and problems[0].startswith(problem.format(root=tmp_path)), problems


def test_roles_used_follow_roles_include_role_and_meta_dependencies(tmp_path: Path) -> None:
    chosen, _ = read(tmp_path, {"tests": "tests"})
    assert [p.name for p in course.roles_used(chosen)] == ["common", "helper", "web"]


def test_a_templated_role_name_means_every_role(tmp_path: Path) -> None:
    chosen, _ = read(tmp_path, {"tests": "tests"})
    site = tmp_path / "playbooks" / "site.yml"
    site.write_text(site.read_text().replace("name: helper", 'name: "{{ which }}"'))
    assert [p.name for p in course.roles_used(chosen)] == ["common", "helper", "unused", "web"]


def test_the_provisioning_key_changes_with_used_roles_only(tmp_path: Path) -> None:
    (tmp_path / "room").mkdir()
    (tmp_path / "room" / "hosts.yml").write_text("lab: {}\n")
    chosen, _ = read(tmp_path / "project", {"tests": "tests"})
    room = paired_room(1, path=tmp_path / "room", course=chosen)
    before = provision_key(room)
    (tmp_path / "project" / "roles" / "unused" / "tasks" / "main.yml").write_text("---\n[]\n")
    assert provision_key(room) == before
    (tmp_path / "project" / "roles" / "common" / "defaults" / "main.yml").write_text("---\ncommon_x: 2\n")
    after_dependency = provision_key(room)
    assert after_dependency != before
    (tmp_path / "project" / "playbooks" / "group_vars" / "lab.yml").write_text("---\nweb_port: 8080\n")
    assert provision_key(room) != after_dependency
    (tmp_path / "room" / "hosts.yml").write_text("lab: {hosts: {}}\n")
    assert provision_key(room) not in (before, after_dependency)


def test_installed_requirements_are_found_after_the_projects_own_roles(tmp_path: Path) -> None:
    project = small_project(tmp_path, {"roles/web/meta/main.yml": "---\ndependencies: [vendored]\n"})
    vendored = project.installed_roles_dir / "vendored" / "tasks" / "main.yml"
    vendored.parent.mkdir(parents=True)
    vendored.write_text("---\n[]\n")
    chosen = Course(project, tmp_path / "playbooks" / "site.yml", tmp_path / "tests")
    assert "vendored" in [p.name for p in course.roles_used(chosen)]
