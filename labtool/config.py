"""Rooms: load inventories/<room>/ into a validated `Room`, list the rooms, write new ones.

A room directory is an ordinary Ansible inventory plus labtool.yml, labtool's settings
for the room. The inventory is read through `ansible-inventory` itself, so INI, YAML,
host ranges (`seat[01:24]-vm`) and group_vars/host_vars all mean what Ansible says.
Loading checks everything and raises one RoomError listing every problem, each naming
the file, the key or host, and the fix.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labtool import access, course, inventory_cache, lab_hosts, proc, students
from labtool.errors import RoomError
from labtool.model import (
    GROUP_OF_KIND,
    LAB_GROUP,
    SEAT_VARIABLE,
    SUFFIX_OF_KIND,
    ContainerResources,
    Kind,
    Machine,
    Networks,
    Room,
    Seat,
    VmResources,
)
from labtool.project import Project

SETTINGS_FILE = "labtool.yml"
VM_MIN_MEMORY_MIB = 512
"""Below this the base image's kernel and systemd do not finish booting."""
CONTAINER_MIN_MEMORY_MIB = 128
"""Below this systemd as PID 1 plus the lab's services get OOM-killed."""
INDEX_RANGE = range(1, 255)
"""The network index is the third octet of the room's /24 subnets."""
MAX_SEATS = 250
MAX_CPUS = 64
MAX_MEMORY_MIB = 256 * 1024
"""Sanity limits per machine: above them a value is a typo, not a lab machine."""
"""One /24 per kind and room: 253 usable addresses, minus the gateway and some slack."""

# RFC 1123 label: machine names become hostnames, container names and Vagrant machine names.
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
# Connection variables: labtool's generated inventory sets them; a room setting one could point
# the playbook (run with become) at the labtool host itself or at another machine.
# Every connection plugin's own settings count (ssh's scp and sftp extra arguments, paramiko, libssh), and
# mitogen's (`mitogen_via` would hop through any host).
_CONNECTION_VARIABLE = re.compile(
    r"^(ansible_(host|port|user|connection|password|private_key_file|remote_user|become_password"
    r"|(ssh|scp|sftp|paramiko|libssh|docker)_.+)|mitogen_.+)$"
)
_LABEL_RULE = "lowercase letters, digits and hyphens, at most 63 characters, not starting or ending with a hyphen"

# Read a room so that a broken inventory is an error rather than a warning and an empty
# room: skip labtool.yml (it is not an inventory), fail on any source Ansible cannot
# parse and on duplicate YAML keys (which would silently merge two machines into one).
INVENTORY_PLUGINS = "yaml,ini"
ANSIBLE_ENV = {
    "ANSIBLE_INVENTORY_IGNORE_REGEX": r"^(labtool\.yml|students\.csv)$",
    "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
    "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "True",
    "ANSIBLE_DUPLICATE_YAML_DICT_KEY": "error",
    "ANSIBLE_DEPRECATION_WARNINGS": "False",
    "ANSIBLE_NOCOLOR": "True",
    "ANSIBLE_FORCE_COLOR": "False",
    # Only the documented file formats: reading a room must never run a script or a plugin's lookups.
    "ANSIBLE_INVENTORY_ENABLED": INVENTORY_PLUGINS,
}
INVENTORY_TIMEOUT = 60.0

# Directory entries Ansible does not read as inventory sources (its always-ignored names
# and default ignored extensions, plus labtool.yml): used to spot a room with no inventory.
_NOT_INVENTORY = re.compile(
    r"^\.|^(host_vars|group_vars|vars_plugins|labtool\.yml|students\.csv)$|(\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst"
    r"|\.orig|\.cfg|\.retry)$"
)
_YAML_SUFFIXES = (".yml", ".yaml", ".json")


# -- public API ---------------------------------------------------------------------


def list_rooms(rooms_dir: Path) -> list[str]:
    """The rooms in rooms_dir: its subdirectories holding a labtool.yml, sorted."""
    if not rooms_dir.is_dir():
        return []
    return sorted(p.name for p in rooms_dir.iterdir() if (p / SETTINGS_FILE).is_file())


def load(
    rooms_dir: Path,
    name: str,
    project: Project,
    host_rooms: Mapping[str, Path] | None = None,
    inventory_cache: Path | None = None,
) -> Room:
    """Read and validate room `name` of the lab project; raise RoomError listing every problem found.

    `host_rooms` are the rooms this host knows (state.known_rooms), of any lab project: a room may share
    neither its name nor its network index with one of them, since both name things host-wide.
    `inventory_cache` keeps what `ansible-inventory` said of the room until the room changes (inventory_cache.py).
    """
    room_dir = _existing_room_dir(rooms_dir, name)
    problems: list[str] = []
    _check_name_is_free(room_dir, host_rooms or {}, problems)
    others = _other_indexes(rooms_dir, name, host_rooms or {})
    settings = _read_settings(room_dir, _free_index(others), problems)
    where = _display(room_dir / SETTINGS_FILE)
    room_course = course.read(settings.pop(COURSE_SECTION, None), where, project, problems)
    room_access = access.read(settings.pop(access.SECTION, None), where, problems)
    student_sudo = students.read_settings(settings.pop(students.SECTION, None), where, problems)
    room_hosts = lab_hosts.read(settings.pop(lab_hosts.SECTION, None), where, problems)
    _check_index_is_free(room_dir, settings, others, problems)
    inventory = _read_inventory(room_dir, problems, inventory_cache)
    seats = _seats(inventory, _inventory_label(room_dir), problems) if inventory is not None else []
    if inventory is not None:
        seats = students.attach(
            seats,
            inventory.get("_meta", {}).get("hostvars", {}),
            room_dir,
            inventory_where=_inventory_label(room_dir),
            csv_where=_display(room_dir / students.CSV_FILE),
            problems=problems,
        )
        seats = lab_hosts.pin(
            seats, inventory.get("_meta", {}).get("hostvars", {}), room_hosts, _inventory_label(room_dir), problems
        )
    if room_access is not None:
        lab_hosts.check_access(room_hosts, where, problems)
    fits = access.fits_problem(room_access, len(seats), where) if room_access else None
    if fits:
        problems.append(fits)
    if problems:
        raise RoomError(problems, _fix_hint(room_dir))
    return Room(
        name=name,
        path=room_dir,
        seats=tuple(seats),
        vm=VmResources(**settings["vm"]),
        container=ContainerResources(**settings["container"]),
        networks=Networks(**settings["network"]),
        course=room_course,
        access=room_access,
        student_sudo=student_sudo,
        hosts=room_hosts,
    )


def host_variables(room_dir: Path, inventory_cache: Path | None = None) -> dict[str, dict[str, Any]]:
    """Each host's variables as Ansible reads the room (its group_vars and host_vars applied)."""
    problems: list[str] = []
    inventory = _read_inventory(room_dir, problems, inventory_cache)
    if inventory is None:
        raise RoomError(problems, _fix_hint(room_dir))
    hostvars = inventory.get("_meta", {}).get("hostvars", {})
    return {str(k): v for k, v in hostvars.items() if isinstance(v, dict)} if isinstance(hostvars, dict) else {}


def new_room(
    rooms_dir: Path,
    name: str,
    seats: int,
    course_from: Path | None = None,
    host_rooms: Mapping[str, Path] | None = None,
) -> Path:
    """Write rooms_dir/<name>/ (hosts.yml with `seats` seats, documented labtool.yml); return it.

    The new room teaches what the labtool.yml at `course_from` teaches (its `course:`
    section), if it exists and names one; else the defaults, shown commented out. Never
    overwrites: an existing directory of that name is an error.
    """
    room_dir = rooms_dir / name
    problems = [p for p in (_room_name_problem(name), _seat_count_problem(seats)) if p]
    if not problems and room_dir.exists():
        problems.append(f"{_display(room_dir)}: already exists; pick another name, or edit that room instead")
    if not problems:
        _check_name_is_free(room_dir, host_rooms or {}, problems)
    index = free_index(rooms_dir, name, host_rooms or {})
    if index is None:
        problems.append(f"{_display(rooms_dir)}: every network index 1..254 is taken; remove a room first")
    if problems or index is None:
        raise RoomError(problems, "nothing was written; fix the above and run it again")
    try:
        room_dir.mkdir(parents=True)
        (room_dir / "hosts.yml").write_text(hosts_yml(seats))
        (room_dir / SETTINGS_FILE).write_text(settings_yml(index, _course_in(course_from)))
    except OSError as exc:
        raise RoomError(
            [f"{_display(room_dir)}: cannot be written: {exc.strerror}"], "check the directory's owner and free space"
        ) from exc
    return room_dir


def hosts_yml(seats: int) -> str:
    """The inventory of a new room: seats seat01.. as one host range per kind."""
    width = max(2, len(str(seats)))
    names = f"seat{1:0{width}d}" if seats == 1 else f"seat[{1:0{width}d}:{seats:0{width}d}]"
    return _HOSTS_TEMPLATE.format(vms=f"{names}-vm", containers=f"{names}-ct")


def _course_in(settings_file: Path | None) -> dict[str, Any] | None:
    if settings_file is None or not settings_file.is_file():
        return None
    data = read_settings_data(settings_file)
    chosen = data.get(COURSE_SECTION) if isinstance(data, dict) else None
    return chosen if isinstance(chosen, dict) else None


def settings_yml(index: int, chosen_course: Mapping[str, Any] | None = None) -> str:
    """The labtool.yml of a new room: every key at its default, each explained; the course given, if any."""
    text = _settings_text(index)
    if chosen_course is None:
        return text
    settings, _ = text.split(_COURSE_HEADING)
    course_yaml = yaml.safe_dump({COURSE_SECTION: dict(chosen_course)}, sort_keys=False, default_flow_style=False)
    return f"{settings}{_COURSE_HEADING}; as the project's default room teaches it.\n{course_yaml}"


_COURSE_HEADING = "# What the room teaches"


def _settings_text(index: int) -> str:
    return _SETTINGS_TEMPLATE.format(
        vm=VmResources(),
        container=ContainerResources(),
        relax="true" if ContainerResources().relax_sandboxing else "false",
        index=index,
        vm_min=VM_MIN_MEMORY_MIB,
        container_min=CONTAINER_MIN_MEMORY_MIB,
        playbook=course.DEFAULT_PLAYBOOK,
        tests=course.DEFAULT_TESTS,
        checks=course.DEFAULT_CHECKS,
    )


_HOSTS_TEMPLATE = """\
---
# The room's machines: an ordinary Ansible inventory (YAML here; INI works too).
# Each seat is one VM in group `vms` plus one container in group `containers`.
# A machine's seat is its host variable `labtool_seat`, or else its name without
# the suffix -vm / -ct: seat01-vm and seat01-ct form seat seat01.
# Host ranges such as seat[01:24]-vm are expanded by Ansible.
lab:
  children:
    vms:
      hosts:
        {vms}:
    containers:
      hosts:
        {containers}:
"""

_SETTINGS_TEMPLATE = """\
---
# labtool's settings for this room; the rest of the directory is its Ansible inventory.
# Every key is optional except network.index; unknown keys are errors.

vm:                    # each seat's VM (Vagrant + libvirt)
  cpus: {vm.cpus}              # virtual CPUs: a whole number, 1 or more
  memory_mib: {vm.memory_mib}     # RAM in MiB: {vm_min} or more, the least the base image boots with

container:             # each seat's container (Docker, systemd as PID 1)
  cpus: {container.cpus}            # CPU limit: any number above 0 (0.5 = half a core)
  memory_mib: {container.memory_mib}      # memory limit in MiB: {container_min} or more
  # Sandboxing directives of stock units (PrivateUsers=, BindPaths= ...) that this host cannot give a
  # container are turned off there, each shown by verify as an expected difference; false shows the raw failure.
  relax_sandboxing: {relax}

network:
  # The third octet of the room's subnets (containers 10.213.<index>.0/24,
  # VMs 10.214.<index>.0/24): 1..254, different for every room on this host.
  index: {index}

# Published access, off unless set: each seat's SSH and app on its lab host at ports
# port_base + 4 * seat's position + 0..3 (container SSH, container app, VM SSH, VM app).
# access:
#   address: 127.0.0.1        # an address of this host; never a wildcard (another host's: its address: under hosts:)
#   port_base: 20000

# Students: students.csv in this directory (seat,name[,email][,login]) or the host
# variable labtool_student. Each gets an account on both machines of their seat.
# students:
#   sudo: true                # students may use sudo on their own seat's machines

# What the room teaches; paths are relative to the lab project. Uncomment to change.
# course:
#   playbook: {playbook}          # applied to every machine of the room
#   tests: {tests}       # the testinfra suite `labtool verify` runs on each machine
#   expected_differences: parity.yml   # more allowed VM-vs-container differences, each with its reason
#   checks: {checks}                     # exercise checks `labtool check` grades (default: checks/ if it exists)
#   app:                               # the course's app, if it describes itself (parity then compares it)
#     fingerprint_url: http://127.0.0.1/api/fingerprint
#     page_url: http://127.0.0.1/
"""


# -- the room directory ---------------------------------------------------------------


def _existing_room_dir(rooms_dir: Path, name: str) -> Path:
    problem = _room_name_problem(name)
    if problem:
        raise RoomError([problem], "room names become network and container names; rename the directory")
    room_dir = rooms_dir / name
    if room_dir.is_dir():
        return room_dir
    rooms = list_rooms(rooms_dir)
    there = f"the rooms are: {', '.join(rooms)}" if rooms else f"there are no rooms in {_display(rooms_dir)} yet"
    raise RoomError(
        [f"room {name} does not exist (no directory {_display(room_dir)}); {there}"],
        f"use one of those, or create it with `labtool room new {name} --seats N`",
    )


def _room_name_problem(name: str) -> str | None:
    if _LABEL.fullmatch(name):
        return None
    return f"room name {json.dumps(name)} is not valid; use {_LABEL_RULE}"


def _seat_count_problem(seats: int) -> str | None:
    if isinstance(seats, int) and not isinstance(seats, bool) and 1 <= seats <= MAX_SEATS:
        return None
    return f"seats: {seats} is not a seat count; give a whole number from 1 to {MAX_SEATS}"


def _fix_hint(room_dir: Path) -> str:
    return (
        "fix each problem above and run the command again; "
        f"`ansible-inventory -i {_display(room_dir)} --graph` shows how Ansible reads the room's inventory"
    )


def _display(path: Path) -> str:
    """Paths in messages: relative to the working directory when inside it, as users type them."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # outside the working directory, or a link loop
        return str(path)


# -- labtool.yml ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Number:
    """One numeric setting: its type and bounds; `unit` explains the lower bound where it matters."""

    whole: bool
    minimum: float
    above_minimum: bool = False
    maximum: float | None = None
    unit: str = ""
    cap: float | None = None
    """A sanity limit above which the value is surely a typo (a machine of 4096 CPUs)."""

    @property
    def expected(self) -> str:
        if self.maximum is not None:
            return f"a whole number from {self.minimum} to {self.maximum}"
        if self.above_minimum:
            return f"a number above {self.minimum}, e.g. 0.5 or 2"
        return f"a whole number of {self.minimum} or more"


@dataclass(frozen=True)
class _Flag:
    """One yes/no setting."""

    expected: str = "true or false"


# Section -> key -> rule. Omitted keys take the model's defaults, except _REQUIRED ones.
_SCHEMA: Mapping[str, Mapping[str, _Number | _Flag]] = {
    "vm": {
        "cpus": _Number(whole=True, minimum=1, cap=MAX_CPUS),
        "memory_mib": _Number(
            whole=True, minimum=VM_MIN_MEMORY_MIB, unit="MiB, the least the base image boots with", cap=MAX_MEMORY_MIB
        ),
    },
    "container": {
        "cpus": _Number(whole=False, minimum=0, above_minimum=True, cap=MAX_CPUS),
        "memory_mib": _Number(
            whole=True,
            minimum=CONTAINER_MIN_MEMORY_MIB,
            unit="MiB, the least a systemd container runs with",
            cap=MAX_MEMORY_MIB,
        ),
        "relax_sandboxing": _Flag(),
    },
    "network": {"index": _Number(whole=True, minimum=INDEX_RANGE.start, maximum=INDEX_RANGE.stop - 1)},
}
_REQUIRED = {("network", "index")}
COURSE_SECTION = "course"
"""What the room teaches: paths into the lab project, checked by labtool.course rather than as numbers."""
_OTHER_SECTIONS = (COURSE_SECTION, access.SECTION, students.SECTION, lab_hosts.SECTION)
"""Sections checked by their own modules (course, published access, student accounts), not as numbers."""

_Settings = dict[str, Any]


def _read_settings(room_dir: Path, free_index: int | None, problems: list[str]) -> _Settings:
    """labtool.yml's values that passed the schema, per section (problems go to `problems`)."""
    path = room_dir / SETTINGS_FILE
    where = _display(path)
    example = f" that no other room uses, e.g. {free_index}" if free_index is not None else ""
    if path.exists() and not path.is_file():
        problems.append(f"{where}: is not a regular file; make labtool.yml a plain YAML file")
        return {section: {} for section in _SCHEMA}
    if path.is_symlink() and not _inside(path, room_dir):
        # Its text would be quoted in errors: a link must not make labtool show a file outside the room.
        problems.append(f"{where}: is a link to a file outside the room; copy the settings into the room instead")
        return {section: {} for section in _SCHEMA}
    if not path.is_file():
        problems.append(
            f"{where}: missing; create it with at least `network: {{index: N}}`, N from 1 to 254{example} "
            "(`labtool room new` writes a documented labtool.yml)"
        )
        return {section: {} for section in _SCHEMA}
    data, problem = _parse_yaml(path, where)
    if problem:
        problems.append(problem)
        return {section: {} for section in _SCHEMA}
    return _check_schema(data, where, example, problems)


def _inside(path: Path, directory: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(directory.resolve(strict=True))
    except (OSError, RuntimeError):  # a dangling link or a loop
        return False


def _parse_yaml(path: Path, where: str) -> tuple[Any, str | None]:
    """The file's data, or the problem that stops it being read (then the schema is not checked)."""
    try:
        if path.stat().st_size > MAX_SETTINGS_BYTES:
            return None, f"{where}: is over {MAX_SETTINGS_BYTES // 1024} KiB; a room's settings are a few lines"
        return yaml.load(path.read_text(), Loader=_StrictLoader), None  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return None, f"{where}: {at}not valid YAML: {_clip(str(exc.problem), MAX_QUOTED)}; fix it there"
    except RecursionError:
        return None, f"{where}: nested too deeply to be a room's settings; fix it there"
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        return None, f"{where}: cannot be read: {_clip(str(exc), MAX_QUOTED)}; make it a readable UTF-8 YAML file"


def read_settings_data(path: Path) -> Any:
    """labtool.yml's data as the strict loader reads it, or None when it cannot be read for any reason."""
    data, problem = _parse_yaml(path, str(path))
    return None if problem else data


MAX_SETTINGS_BYTES = 64 * 1024


class _NoDuplicatesLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, which plain YAML loaders silently let the last one win."""


class _StrictLoader(_NoDuplicatesLoader):
    """Also rejects anchors and aliases (an alias bomb expands to gigabytes; settings never need them),
    and leading-zero numbers (YAML 1.1 reads 010 as 8)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.events.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (& and *) are not allowed here", event.start_mark
            )
        return super().compose_node(parent, index)


def _construct_int(loader: _StrictLoader, node: yaml.ScalarNode) -> int:
    if re.fullmatch(r"[-+]?0[0-9_]+", str(node.value)):
        plain = str(node.value).lstrip("+-0_") or "0"
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value} has a leading zero (YAML reads it as octal); write {plain}", node.start_mark
        )
    return int(loader.construct_yaml_int(node))


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _construct_mapping(loader: _NoDuplicatesLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {json.dumps(key)}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_NoDuplicatesLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _check_schema(data: Any, where: str, example: str, problems: list[str]) -> _Settings:
    settings: _Settings = {section: {} for section in _SCHEMA}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"{where}: must be a mapping of sections {_known(_SCHEMA)}; got {_show(data)}")
        return settings
    for section, body in data.items():
        if section in _OTHER_SECTIONS:
            settings[section] = body
        elif section not in _SCHEMA:
            known = {**_SCHEMA, **{other: {} for other in _OTHER_SECTIONS}}
            problems.append(f"{where}: {section}: unknown section; {_unknown_fix(str(section), known, '')}")
        elif not isinstance(body, dict):
            problems.append(f"{where}: {section}: must be a mapping of {_known(_SCHEMA[section])}; got {_show(body)}")
        else:
            settings[section] = _check_section(section, body, where, problems)
    for section, key in sorted(_REQUIRED):
        raw = data.get(section, {})
        if isinstance(raw, dict) and key not in raw:
            problems.append(f"{where}: {section}.{key}: missing; set it to {_SCHEMA[section][key].expected}{example}")
    return settings


def _check_section(section: str, body: dict[Any, Any], where: str, problems: list[str]) -> dict[str, Any]:
    rules = _SCHEMA[section]
    values: dict[str, Any] = {}
    for key, value in body.items():
        name = f"{section}.{key}"
        rule = rules.get(str(key))
        if rule is None:
            problems.append(f"{where}: {name}: unknown key; {_unknown_fix(str(key), rules, section + '.')}")
            continue
        problem = _flag_problem(value, rule) if isinstance(rule, _Flag) else _number_problem(value, rule)
        if problem:
            problems.append(f"{where}: {name}: {problem}")
        else:
            values[str(key)] = value
    return values


def _flag_problem(value: Any, rule: _Flag) -> str | None:
    return None if isinstance(value, bool) else f"{_show(value)} is not a yes/no value; set it to {rule.expected}"


def _number_problem(value: Any, rule: _Number) -> str | None:
    kinds = (int,) if rule.whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        what = "a whole number" if rule.whole else "a number"
        return f"{_show(value)} is not {what}; set it to {rule.expected}"
    if not math.isfinite(value):
        return f"{_show(value)} is not a finite number; set it to {rule.expected}"
    return _below_problem(value, rule) or _above_problem(value, rule)


def _below_problem(value: float, rule: _Number) -> str | None:
    if rule.above_minimum and value <= rule.minimum:
        return f"{value} is not above {rule.minimum}; set it to {rule.expected}"
    if value < rule.minimum and rule.maximum is not None:
        return f"{value} is below {rule.minimum}; set it to {rule.expected}"
    if value < rule.minimum:
        unit = f" {rule.unit}" if rule.unit else ""
        return f"{value} is below {rule.minimum}{unit}; set it to {rule.minimum} or more"
    return None


def _above_problem(value: float, rule: _Number) -> str | None:
    if rule.maximum is not None and value > rule.maximum:
        return f"{value} is above {rule.maximum}; set it to {rule.expected}"
    if rule.cap is not None and value > rule.cap:
        return f"{value} is above {rule.cap:g}, more than a lab machine can use; set it to {rule.cap:g} or less"
    return None


def _unknown_fix(key: str, known: Mapping[str, object], prefix: str) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    if close:
        return f"did you mean {prefix}{close[0]}?"
    return f"remove it (known: {_known(known)})"


def _known(keys: Iterable[str]) -> str:
    return ", ".join(sorted(keys))


def _show(value: object) -> str:
    """A value as the user wrote it in YAML: strings quoted, null/true/false spelled the YAML way; clipped."""
    return _clip(json.dumps(value, default=str))


MAX_SHOWN = 80
MAX_QUOTED = 300
"""How much of a value (MAX_SHOWN) or of a parser's message (MAX_QUOTED) a message may quote."""


def _clip(text: str, limit: int = MAX_SHOWN) -> str:
    """Messages quote what the user (or Ansible) wrote, but never pages of it."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- network index ----------------------------------------------------------------------


def _check_name_is_free(room_dir: Path, host_rooms: Mapping[str, Path], problems: list[str]) -> None:
    other = host_rooms.get(room_dir.name)
    if other is None or _same_dir(other, room_dir):
        return
    problems.append(
        f"{_display(room_dir)}: room name {room_dir.name!r} is already used on this host by {_display(other)}: "
        "container, VM and network names come from a room's name; rename this room's directory (inventories/<name>/), "
        f"or take the other room down first (`labtool down {room_dir.name}` in its lab project)"
    )


def _check_index_is_free(room_dir: Path, settings: _Settings, others: Mapping[int, Path], problems: list[str]) -> None:
    index = settings["network"].get("index")
    if index is None or index not in others:
        return
    free = _free_index(others)
    example = f", e.g. {free}" if free is not None else ""
    other = others[index]
    problems.append(
        f"{_display(room_dir / SETTINGS_FILE)}: network.index: {index} is also used by room {other.name} "
        f"({_display(other / SETTINGS_FILE)}); rooms on one host need different indexes: "
        f"set it to one no other room uses{example}"
    )


def _other_indexes(rooms_dir: Path, name: str, host_rooms: Mapping[str, Path]) -> dict[int, Path]:
    """Network index -> room directory, for the project's other rooms and every other room the host knows
    whose labtool.yml states one (broken ones are skipped)."""
    this = rooms_dir / name
    candidates = [rooms_dir / other for other in list_rooms(rooms_dir)] + sorted(host_rooms.values())
    used: dict[int, Path] = {}
    seen: list[Path] = []
    for other in candidates:
        if _same_dir(other, this) or any(_same_dir(other, s) for s in seen):
            continue
        seen.append(other)
        try:
            index = read_settings_data(other / SETTINGS_FILE)["network"]["index"]
        except (KeyError, TypeError):  # a broken room is that room's problem, not this one's
            continue
        if isinstance(index, int) and not isinstance(index, bool):
            used.setdefault(index, other)
    return used


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):  # a link loop is no room of this one
        return False


def free_index(rooms_dir: Path, name: str, host_rooms: Mapping[str, Path]) -> int | None:
    """A network index that neither the project's other rooms nor any room this host knows uses."""
    return _free_index(_other_indexes(rooms_dir, name, host_rooms))


def _free_index(used: Iterable[int]) -> int | None:
    """The lowest free index from 10 up (10 is the default room's), then below 10."""
    taken = set(used)
    return next((i for i in [*range(10, INDEX_RANGE.stop), *range(INDEX_RANGE.start, 10)] if i not in taken), None)


# -- the inventory, through Ansible ------------------------------------------------------------


def _read_inventory(room_dir: Path, problems: list[str], cache: Path | None = None) -> dict[str, Any] | None:
    """`ansible-inventory --list` of the room as JSON, or None (with the problem recorded)."""
    where = _inventory_label(room_dir)
    if not _inventory_sources(room_dir):
        problems.append(
            f"{where}: no inventory file; add hosts.yml with the room's machines in groups vms and containers "
            "(`labtool room new` writes one)"
        )
        return None
    argv = [_ansible_inventory(), "-i", str(room_dir), "--list"]
    digest = inventory_cache.key(room_dir, argv, ANSIBLE_ENV) if cache is not None else None
    kept = inventory_cache.get(cache, digest) if cache is not None and digest is not None else None
    if kept is None:
        result = proc.run(argv, env=ANSIBLE_ENV, check=False, timeout=INVENTORY_TIMEOUT)
        if not result.ok:
            problems.append(_parse_failure(result.stderr or result.stdout, room_dir))
            return None
        kept = (result.stdout, result.stderr)
        if cache is not None and digest is not None:
            inventory_cache.put(cache, digest, *kept)
    stdout, stderr = kept
    problems.extend(_inventory_warnings(stderr, where))
    try:
        data = json.loads(stdout)
    except ValueError:
        problems.append(f"{where}: `{proc.command_line(argv)}` printed no JSON; run it by hand to see why")
        return None
    return data if isinstance(data, dict) else None


def _ansible_inventory() -> str:
    beside = Path(sys.executable).with_name("ansible-inventory")
    return str(beside) if beside.exists() else "ansible-inventory"


def _inventory_sources(room_dir: Path) -> list[Path]:
    return sorted(p for p in room_dir.iterdir() if not _NOT_INVENTORY.search(p.name))


def _inventory_label(room_dir: Path) -> str:
    """Where inventory problems point: the inventory file if there is one, else the directory."""
    sources = _inventory_sources(room_dir) if room_dir.is_dir() else []
    return _display(sources[0] if len(sources) == 1 and sources[0].is_file() else room_dir)


@dataclass(frozen=True)
class _AnsibleMessage:
    """One [WARNING] or [ERROR] block of Ansible's output: its first line and the place it points at."""

    level: str
    text: str
    path: Path | None = None
    line: int | None = None
    column: int | None = None

    @property
    def at(self) -> str:
        return f"line {self.line}, column {self.column}: " if self.line else ""


_MESSAGE_START = re.compile(r"^\[(WARNING|ERROR)\]: ", re.MULTILINE)
_ORIGIN = re.compile(r"^Origin: (?P<path>[^<\s].*?)(?::(?P<line>\d+):(?P<column>\d+))?$", re.MULTILINE)
_ATTEMPT = re.compile(r"Failed to parse inventory with '(?P<plugin>[\w.]+)' plugin: (?P<reason>.+)")
_FAILED_SOURCE = re.compile(r"Completely failed to parse inventory source (?P<path>.+)$", re.MULTILINE)
# Warnings about the inventory's content; others (e.g. about ansible.cfg) do not concern the room.
_INVENTORY_WARNING = re.compile(r"skipping|invalid|duplicate|unexpected|inventory|group", re.IGNORECASE)


def _ansible_messages(output: str) -> list[_AnsibleMessage]:
    starts = list(_MESSAGE_START.finditer(output))
    messages = []
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(output)
        block = output[match.end() : end]
        origin = _ORIGIN.search(block)
        messages.append(
            _AnsibleMessage(
                level=match[1],
                text=block.split("\n", 1)[0].strip(),
                path=Path(origin["path"]) if origin else None,
                line=int(origin["line"]) if origin and origin["line"] else None,
                column=int(origin["column"]) if origin and origin["column"] else None,
            )
        )
    return messages


def _parse_failure(output: str, room_dir: Path) -> str:
    """One line from Ansible's many: the failing file, the parser that fits its name, and the position."""
    messages = _ansible_messages(output)
    failed = _FAILED_SOURCE.search(output)
    source = Path(failed["path"].strip()) if failed else None
    attempts = {m["plugin"]: m["reason"] for msg in messages if (m := _ATTEMPT.match(msg.text))}
    preferred = ("yaml", "auto") if source and source.suffix in _YAML_SUFFIXES else ("ini",)
    reasons = [attempts[p] for p in preferred if p in attempts] + list(attempts.values())
    reason = reasons[0] if reasons else (messages[-1].text if messages else proc.tail(output, 3))
    at = next((msg.at for msg in messages if msg.line and msg.text.endswith(reason)), "")
    if not at and source and source.suffix in _YAML_SUFFIXES:
        at = _yaml_position(source)  # Ansible's yaml plugin names no position; PyYAML finds the same fault
    reason = _clip(reason.removeprefix("Failed to parse inventory: ").rstrip("."), MAX_QUOTED)
    # Without a failed source (e.g. a broken group_vars file) Ansible names no file: point at the room.
    place = _display(source) if source and source.is_file() else _display(room_dir)
    return (
        f"{place}: {at}Ansible cannot read this inventory: {reason}; "
        f"fix it until `ansible-inventory -i {_display(room_dir)} --list` reads it"
    )


def _yaml_position(path: Path) -> str:
    try:
        if path.stat().st_size <= MAX_SETTINGS_BYTES * 16:
            yaml.load(path.read_text(), Loader=_NoDuplicatesLoader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    except (yaml.YAMLError, OSError, UnicodeDecodeError, RecursionError):
        pass
    return ""


def _inventory_warnings(output: str, where: str) -> list[str]:
    """Inventory warnings are problems: Ansible skips what it warns about, so machines would go missing."""
    return [
        f"{_display(msg.path) if msg.path else where}: {msg.at}Ansible warns: {msg.text.rstrip('.')}; "
        "fix the inventory so Ansible reads it without warnings"
        for msg in _ansible_messages(output)
        if msg.level == "WARNING" and _INVENTORY_WARNING.search(msg.text)
    ]


# -- machines and seats -----------------------------------------------------------------


def _seats(inventory: dict[str, Any], where: str, problems: list[str]) -> list[Seat]:
    machines = _machines(inventory, where, problems)
    by_seat: dict[str, dict[Kind, list[Machine]]] = {}
    for machine in machines:
        by_seat.setdefault(machine.seat, {kind: [] for kind in Kind})[machine.kind].append(machine)
    if len(by_seat) > MAX_SEATS:
        problems.append(f"{where}: {len(by_seat)} seats; a room has at most {MAX_SEATS}: split it into rooms")
    seats = []
    for name in sorted(by_seat, key=_natural):
        seat_problems = _pair_problems(name, by_seat[name])
        problems.extend(f"{where}: seat {name}: {p}" for p in seat_problems)
        if not seat_problems:
            seats.append(Seat(name, by_seat[name][Kind.VM][0], by_seat[name][Kind.CONTAINER][0]))
    return seats


def _machines(inventory: dict[str, Any], where: str, problems: list[str]) -> list[Machine]:
    groups = {k: v for k, v in inventory.items() if k != "_meta" and isinstance(v, dict)}
    hostvars = inventory.get("_meta", {}).get("hostvars", {})
    members = {kind: _members(groups, GROUP_OF_KIND[kind]) for kind in Kind}
    in_lab = _members(groups, LAB_GROUP)
    if not any(members.values()):
        problems.append(
            f"{where}: no seats: groups vms and containers are empty; add one VM and one container per seat, "
            "e.g. seat[01:03]-vm in group vms and seat[01:03]-ct in group containers"
        )
    machines = []
    for host in _all_hosts(groups):
        host_problems: list[str] = []
        owned = sorted(k for k in hostvars.get(host, {}) if _CONNECTION_VARIABLE.match(k))
        if owned:
            host_problems.append(
                f"sets {', '.join(owned)}; labtool owns how lab machines are reached (it generates their "
                "connection details): remove it from the room's host_vars, group_vars and inventory"
            )
        valid = bool(_LABEL.fullmatch(host))
        if not valid:
            host_problems.append(f"not a valid hostname; rename it using {_LABEL_RULE}")
        kinds = [kind for kind in Kind if host in members[kind]]
        if not kinds:
            host_problems.append("in neither group vms nor containers; add it to one of them, or remove it")
        elif len(kinds) == 2:
            host_problems.append("in both groups vms and containers; a machine is one or the other: remove it from one")
        elif host not in in_lab:
            # The course's plays run on `hosts: lab`: outside it, a machine would come up and be played nothing.
            host_problems.append(f"not in group {LAB_GROUP}; make groups vms and containers children of {LAB_GROUP}")
        else:
            seat = _seat_of(host, kinds[0], hostvars.get(host, {}), host_problems)
            # A misnamed machine stays out of the pairing: its partner then asks for the right name.
            if seat is not None and valid:
                machines.append(Machine(host, kinds[0], seat))
        problems.extend(f"{where}: host {host}: {p}" for p in host_problems)
    return machines


def _seat_of(host: str, kind: Kind, hostvars: Mapping[str, Any], problems: list[str]) -> str | None:
    """The documented pairing rule: host variable labtool_seat, else the name minus -vm / -ct."""
    if SEAT_VARIABLE in hostvars:
        seat = hostvars[SEAT_VARIABLE]
        if isinstance(seat, str) and _LABEL.fullmatch(seat):
            return seat
        problems.append(f"{SEAT_VARIABLE} {_show(seat)} is not a valid seat name; use {_LABEL_RULE}")
        return None
    suffix = SUFFIX_OF_KIND[kind]
    if len(host) > len(suffix) and host.endswith(suffix):
        return host.removesuffix(suffix)
    problems.append(
        f"its seat is unknown: the name does not end in {suffix} and it has no host variable {SEAT_VARIABLE}; "
        f"rename it to <seat>{suffix} or set {SEAT_VARIABLE}"
    )
    return None


def _pair_problems(seat: str, machines: Mapping[Kind, list[Machine]]) -> list[str]:
    problems = []
    for kind in Kind:
        if len(machines[kind]) > 1:
            names = ", ".join(m.name for m in machines[kind])
            problems.append(
                f"has {len(machines[kind])} {_plural(kind)} ({names}); a seat is one VM and one container: "
                f"give all but one of them another seat (rename it or set {SEAT_VARIABLE})"
            )
    for kind, other in ((Kind.VM, Kind.CONTAINER), (Kind.CONTAINER, Kind.VM)):
        if machines[kind] and not machines[other]:
            problems.append(
                f"has {_singular(kind)} {machines[kind][0].name} but no {_singular(other)}; "
                f"add {seat}{SUFFIX_OF_KIND[other]} to group {GROUP_OF_KIND[other]}, "
                f"or remove {machines[kind][0].name}"
            )
    return problems


def _members(groups: Mapping[str, Any], group: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """Hosts of a group including its child groups' (Ansible's --list shows only direct hosts)."""
    if group in seen or group not in groups:
        return set()
    body = groups[group]
    hosts = set(body.get("hosts", []))
    for child in body.get("children", []):
        hosts |= _members(groups, child, seen | {group})
    return hosts


def _all_hosts(groups: Mapping[str, Any]) -> list[str]:
    """Every host of the inventory, once each, sorted so messages come in a stable order."""
    return sorted({host for body in groups.values() for host in body.get("hosts", [])}, key=_natural)


def _plural(kind: Kind) -> str:
    return "VMs" if kind is Kind.VM else "containers"


def _singular(kind: Kind) -> str:
    return "VM" if kind is Kind.VM else "container"


def _natural(name: str) -> list[Any]:
    """Sort key putting seat2 before seat10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
