"""Rooms: loading through ansible-inventory, validation messages, new rooms.

Each load of a room with an inventory runs `ansible-inventory` once (~0.5 s), so the
bad rooms are few and each packs several problems.
"""

import textwrap
from pathlib import Path

import pytest

from labtool import config
from labtool.errors import LabtoolError, RoomError
from labtool.model import Access, Kind, Student
from labtool.project import Project

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Project(REPO)
"""The reference lab project: its playbooks/site.yml and molecule/shared/tests are every room's default course."""
FIXTURES = Path(__file__).parent / "fixtures" / "rooms"

ONE_SEAT = "vms:\n  hosts:\n    seat01-vm:\ncontainers:\n  hosts:\n    seat01-ct:\n"
INDEX_20 = "network:\n  index: 20\n"
HINT_FIX = "run the command again"


def write(rooms_dir: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = rooms_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def in_lab(hosts: str | None) -> str | None:
    """A YAML inventory's top-level groups made children of group `lab`, as a room's are."""
    if hosts is None or hosts.startswith("lab:"):
        return hosts
    return "lab:\n  children:\n" + textwrap.indent(hosts, "    ")


def demo(
    hosts: str | None = ONE_SEAT, settings: str | None = INDEX_20, more: dict[str, str] | None = None
) -> dict[str, str]:
    """Files of room `demo` (None leaves the file out), its groups under `lab`; `more` adds files, e.g. other
    rooms'."""
    files = {"demo/hosts.yml": in_lab(hosts), "demo/labtool.yml": settings, **(more or {})}
    return {path: text for path, text in files.items() if text is not None}


BAD_ROOMS = [
    pytest.param(
        demo(
            settings=(
                "vm:\n  cpus: 0\n  memory_mib: 256\n  cpu: 2\n"
                "container:\n  cpus: -1.5\n  memory_mib: '64'\n  swap: 1\n"
                "network:\n  index: 300\n"
                "netwrk: {}\n"
            )
        ),
        [
            "inventories/demo/labtool.yml: vm.cpus: 0 is below 1; set it to 1 or more",
            "inventories/demo/labtool.yml: vm.memory_mib: 256 is below 512 MiB, the least the base image boots with;"
            " set it to 512 or more",
            "inventories/demo/labtool.yml: vm.cpu: unknown key; did you mean vm.cpus?",
            "inventories/demo/labtool.yml: container.cpus: -1.5 is not above 0;"
            " set it to a number above 0, e.g. 0.5 or 2",
            'inventories/demo/labtool.yml: container.memory_mib: "64" is not a whole number;'
            " set it to a whole number of 128 or more",
            "inventories/demo/labtool.yml: container.swap: unknown key;"
            " remove it (known: cpus, memory_mib, relax_sandboxing)",
            "inventories/demo/labtool.yml: network.index: 300 is above 254; set it to a whole number from 1 to 254",
            "inventories/demo/labtool.yml: netwrk: unknown section; did you mean network?",
        ],
        id="labtool.yml: zero, negative, too small, wrong type, unknown keys, out of range",
    ),
    pytest.param(
        demo(settings="vm: 2\ncontainer:\n  cpus: true\n  memory_mib: 128.5\n"),
        [
            "inventories/demo/labtool.yml: vm: must be a mapping of cpus, memory_mib; got 2",
            "inventories/demo/labtool.yml: container.cpus: true is not a number;"
            " set it to a number above 0, e.g. 0.5 or 2",
            "inventories/demo/labtool.yml: container.memory_mib: 128.5 is not a whole number;"
            " set it to a whole number of 128 or more",
            "inventories/demo/labtool.yml: network.index: missing;"
            " set it to a whole number from 1 to 254 that no other room uses, e.g. 10",
        ],
        id="labtool.yml: section not a mapping, booleans and fractions, required key missing",
    ),
    pytest.param(
        demo(settings="network:\n  index: 10\nvm:\n  cpus: [2\n", hosts=None),
        [
            "inventories/demo/labtool.yml: line 5, column 1: not valid YAML: expected ',' or ']',"
            " but got '<stream end>'; fix it there",
            "inventories/demo: no inventory file; add hosts.yml with the room's machines in groups vms and containers"
            " (`labtool room new` writes one)",
        ],
        id="labtool.yml: malformed YAML; no inventory file",
    ),
    pytest.param(
        demo(settings="network:\n  index: 10\nnetwork:\n  index: 11\n", hosts=None),
        [
            'inventories/demo/labtool.yml: line 3, column 1: not valid YAML: duplicate key "network"; fix it there',
            "inventories/demo: no inventory file; add hosts.yml with the room's machines in groups vms and containers"
            " (`labtool room new` writes one)",
        ],
        id="labtool.yml: duplicate key",
    ),
    pytest.param(
        demo(settings="- network\n", hosts=None),
        [
            'inventories/demo/labtool.yml: must be a mapping of sections container, network, vm; got ["network"]',
            "inventories/demo: no inventory file; add hosts.yml with the room's machines in groups vms and containers"
            " (`labtool room new` writes one)",
        ],
        id="labtool.yml: not a mapping",
    ),
    pytest.param(
        demo(settings="network:\n  index: 12\n", more={"other/labtool.yml": "network:\n  index: 12\n"}),
        [
            "inventories/demo/labtool.yml: network.index: 12 is also used by room other"
            " (inventories/other/labtool.yml); rooms on one host need different indexes:"
            " set it to one no other room uses, e.g. 10",
        ],
        id="network index taken by another room",
    ),
    pytest.param(
        demo(settings=None),
        [
            "inventories/demo/labtool.yml: missing; create it with at least `network: {index: N}`, N from 1 to 254"
            " that no other room uses, e.g. 10 (`labtool room new` writes a documented labtool.yml)",
        ],
        id="labtool.yml missing",
    ),
    pytest.param(
        demo(hosts="vms:\n  hosts:\n    seat01-vm:\n  - seat01-ct\n"),
        [
            "inventories/demo/hosts.yml: line 6, column 7: Ansible cannot read this inventory: YAML parsing failed:"
            " While parsing a block mapping did not find expected key;"
            " fix it until `ansible-inventory -i inventories/demo --list` reads it",
        ],
        id="inventory: malformed YAML",
    ),
    pytest.param(
        demo(hosts=None, more={"demo/hosts": "[vms]\nseat01-vm ansible_host\n[containers]\nseat01-ct\n"}),
        [
            "inventories/demo/hosts: Ansible cannot read this inventory:"
            " Expected key=value host variable assignment, got: ansible_host;"
            " fix it until `ansible-inventory -i inventories/demo --list` reads it",
        ],
        id="inventory: malformed INI",
    ),
    pytest.param(
        demo(hosts="vms:\n  hosts:\n    seat01-vm:\n    seat01-vm:\ncontainers:\n  hosts:\n    seat01-ct:\n"),
        [
            "inventories/demo/hosts.yml: line 6, column 9: Ansible cannot read this inventory:"
            " YAML parsing failed: Found duplicate mapping key 'seat01-vm';"
            " fix it until `ansible-inventory -i inventories/demo --list` reads it",
        ],
        id="inventory: duplicate machine name",
    ),
    pytest.param(
        demo(more={"demo/group_vars/vms.yml": "cpu_quota: [1\n"}),
        [
            "inventories/demo: Ansible cannot read this inventory: YAML parsing failed:"
            " While parsing a flow sequence did not find expected ',' or ']';"
            " fix it until `ansible-inventory -i inventories/demo --list` reads it",
        ],
        id="inventory: malformed group_vars file",
    ),
    pytest.param(
        demo(hosts="vms:\n  hostss:\n    seat01-vm:\n"),
        [
            'inventories/demo/hosts.yml: Ansible warns: Skipping unexpected key (hostss) in group (vms), only "vars",'
            ' "children" and "hosts" are valid; fix the inventory so Ansible reads it without warnings',
            "inventories/demo/hosts.yml: no seats: groups vms and containers are empty; add one VM and one container"
            " per seat, e.g. seat[01:03]-vm in group vms and seat[01:03]-ct in group containers",
        ],
        id="inventory: misspelt key Ansible skips; no seats",
    ),
    pytest.param(
        demo(
            hosts=(
                "vms:\n  hosts:\n    seat01-vm:\n    spare-vm:\n      labtool_seat: seat01\n    seat02-vm:\n"
                "    both-vm:\n"
                "containers:\n  hosts:\n    seat01-ct:\n    seat03-ct:\n    both-vm:\n"
                "web:\n  hosts:\n    www-ct:\n"
            )
        ),
        [
            "inventories/demo/hosts.yml: host both-vm: in both groups vms and containers;"
            " a machine is one or the other: remove it from one",
            "inventories/demo/hosts.yml: host www-ct: in neither group vms nor containers;"
            " add it to one of them, or remove it",
            "inventories/demo/hosts.yml: seat seat01: has 2 VMs (seat01-vm, spare-vm);"
            " a seat is one VM and one container: give all but one of them another seat"
            " (rename it or set labtool_seat)",
            "inventories/demo/hosts.yml: seat seat02: has VM seat02-vm but no container;"
            " add seat02-ct to group containers, or remove seat02-vm",
            "inventories/demo/hosts.yml: seat seat03: has container seat03-ct but no VM;"
            " add seat03-vm to group vms, or remove seat03-ct",
        ],
        id="pairs: two VMs in a seat, incomplete pairs, both groups, neither group",
    ),
    pytest.param(
        demo(
            settings=INDEX_20 + "access:\n  address: 0.0.0.0\n  port_base: 80\n  ports: 4\nstudents: {sudo: 1}\n",
            more={"demo/students.csv": "seat,name\nseat01,Ada Lovelace\nseat02,Grace Hopper\n"},
        ),
        [
            "inventories/demo/labtool.yml: access.ports: unknown key; remove it (known: address, port_base)",
            "inventories/demo/labtool.yml: access.address: 0.0.0.0 means every interface of this host, which would"
            " publish the lab to every network it is on; give the one address students connect to",
            "inventories/demo/labtool.yml: access.port_base: 80 is not a port from 1024 to 65532; set it to e.g. 20000",
            "inventories/demo/labtool.yml: students.sudo: 1 is not true or false",
            'inventories/demo/students.csv: line 3: seat "seat02" is not a seat of the room; did you mean seat01?',
        ],
        id="access and students: wildcard address, privileged port, unknown key, a student at no seat",
    ),
    pytest.param(
        demo(
            settings=INDEX_20 + "access:\n  address: 192.0.2.77\n  port_base: 65533\n",
            more={"demo/host_vars/seat01-vm.yml": "labtool_student: {name: Ada, login: Ada}\n"},
        ),
        [
            "inventories/demo/labtool.yml: access.address: 192.0.2.77 is not an address of this host;"
            " give one that `ip -brief address` lists, or 127.0.0.1",
            "inventories/demo/labtool.yml: access.port_base: 65533 is not a port from 1024 to 65532;"
            " set it to e.g. 20000",
            'inventories/demo/hosts.yml: host seat01-vm: labtool_student: login "Ada" is not a valid login;'
            " use a lowercase letter, then up to 31 lowercase letters, digits, _ or -",
        ],
        id="access: an address of another host; a student's bad login from host_vars",
    ),
    pytest.param(
        demo(
            hosts=(
                "vms:\n  hosts:\n    Seat01-vm:\n    desk:\n    x-vm:\n      labtool_seat: Desk 1\n"
                f"    {'a' * 61}-vm:\n"
                "containers:\n  hosts:\n    seat01-ct:\n    -x-ct:\n"
            )
        ),
        [
            f"inventories/demo/hosts.yml: host {name}: not a valid hostname; rename it using lowercase letters,"
            " digits and hyphens, at most 63 characters, not starting or ending with a hyphen"
            for name in ("-x-ct", "Seat01-vm", f"{'a' * 61}-vm")
        ]
        + [
            "inventories/demo/hosts.yml: host desk: its seat is unknown: the name does not end in -vm and it has no"
            " host variable labtool_seat; rename it to <seat>-vm or set labtool_seat",
            'inventories/demo/hosts.yml: host x-vm: labtool_seat "Desk 1" is not a valid seat name; use lowercase'
            " letters, digits and hyphens, at most 63 characters, not starting or ending with a hyphen",
            "inventories/demo/hosts.yml: seat seat01: has container seat01-ct but no VM;"
            " add seat01-vm to group vms, or remove seat01-ct",
        ],
        id="names: invalid hostnames (too long, uppercase, leading hyphen) and seat names, no seat",
    ),
]


@pytest.mark.parametrize(("files", "problems"), BAD_ROOMS)
def test_bad_room_reports_every_problem(rooms: Path, files: dict[str, str], problems: list[str]) -> None:
    write(rooms, files)
    with pytest.raises(RoomError) as caught:
        config.load(rooms, "demo", REFERENCE)
    assert list(caught.value.problems) == problems
    assert caught.value.message == "\n".join(problems)
    assert HINT_FIX in caught.value.hint


def test_a_room_may_not_say_how_its_machines_are_reached(rooms: Path) -> None:
    """Each of these could point the playbook (run with become) at the labtool host or past the lab machines."""
    owned = [
        "ansible_host",
        "ansible_connection",
        "ansible_ssh_common_args",
        "ansible_scp_extra_args",
        "ansible_sftp_extra_args",
        "ansible_paramiko_proxy_command",
        "ansible_docker_extra_args",
        "mitogen_via",
    ]
    host_vars = "".join(f"{name}: x\n" for name in owned) + "ansible_python_interpreter: /usr/bin/python3\n"
    write(rooms, demo(more={"demo/host_vars/seat01-vm.yml": host_vars}))
    with pytest.raises(RoomError) as caught:
        config.load(rooms, "demo", REFERENCE)
    (problem,) = caught.value.problems
    assert problem.startswith(f"inventories/demo/hosts.yml: host seat01-vm: sets {', '.join(sorted(owned))};")
    assert "ansible_python_interpreter" not in problem  # what runs on the machine itself is the course's to say


@pytest.mark.parametrize("room", ["ini-range", "yaml-range"])
def test_host_ranges_load_in_ini_and_yaml(room: str) -> None:
    loaded = config.load(FIXTURES, room, REFERENCE)
    assert [s.name for s in loaded.seats] == ["seat01", "seat02", "seat03"]
    assert [(s.vm.name, s.container.name) for s in loaded.seats] == [
        (f"seat0{i}-vm", f"seat0{i}-ct") for i in (1, 2, 3)
    ]
    assert all(s.vm.kind is Kind.VM and s.container.kind is Kind.CONTAINER for s in loaded.seats)


def test_settings_are_read_and_omitted_keys_default() -> None:
    yaml_room = config.load(FIXTURES, "yaml-range", REFERENCE)
    assert (yaml_room.vm.cpus, yaml_room.vm.memory_mib) == (2, 2048)
    assert (yaml_room.container.cpus, yaml_room.container.memory_mib) == (0.5, 256)
    assert yaml_room.networks.container_subnet == "10.213.22.0/24"
    ini_room = config.load(FIXTURES, "ini-range", REFERENCE)
    assert (ini_room.vm.cpus, ini_room.vm.memory_mib, ini_room.container.memory_mib) == (1, 1024, 512)


def test_labtool_seat_overrides_the_name_rule_also_from_host_vars() -> None:
    loaded = config.load(FIXTURES, "seat-variable", REFERENCE)
    assert [(s.name, s.vm.name, s.container.name) for s in loaded.seats] == [
        ("desk1", "pc-left", "box-right"),
        ("desk2", "seat02-vm", "desk2-ct"),
    ]


def test_the_default_room_is_one_seat() -> None:
    room = config.load(REPO / "inventories", "default", REFERENCE)
    assert [(s.name, s.vm.name, s.container.name) for s in room.seats] == [("seat01", "seat01-vm", "seat01-ct")]
    assert room.networks.index == 10
    assert (room.vm.cpus, room.vm.memory_mib, room.container.cpus, room.container.memory_mib) == (1, 1024, 1.0, 512)


def test_the_default_room_is_what_new_room_writes_plus_its_course(rooms: Path) -> None:
    written = config.new_room(rooms, "default", 1)
    default = REPO / "inventories" / "default"
    assert (written / "hosts.yml").read_text() == (default / "hosts.yml").read_text()
    settings, course_comment = (written / "labtool.yml").read_text().split("# What the room teaches")
    assert (default / "labtool.yml").read_text().startswith(settings)
    assert "# course:" in course_comment


def test_the_default_room_names_the_labnotes_course() -> None:
    room = config.load(REPO / "inventories", "default", REFERENCE)
    assert room.course.playbook == REPO / "playbooks" / "site.yml"
    assert room.course.tests == REPO / "molecule" / "shared" / "tests"
    assert room.course.app.fingerprint_url == "http://127.0.0.1/api/fingerprint"
    assert room.course.app.page_ignore_id == "notes"


def test_missing_room_lists_the_rooms_that_exist(rooms: Path) -> None:
    write(rooms, {"alpha/labtool.yml": "", "beta/labtool.yml": "", "not-a-room/hosts.yml": ""})
    with pytest.raises(RoomError) as caught:
        config.load(rooms, "gamma", REFERENCE)
    assert (
        caught.value.message == "room gamma does not exist (no directory inventories/gamma); the rooms are: alpha, beta"
    )
    assert "labtool room new gamma --seats N" in caught.value.hint


def test_missing_room_when_there_are_none(rooms: Path) -> None:
    with pytest.raises(RoomError, match=r"there are no rooms in inventories yet"):
        config.load(rooms, "default", REFERENCE)


def test_a_room_sharing_a_name_or_an_index_with_another_projects_room_on_this_host_is_refused(
    rooms: Path, tmp_path: Path
) -> None:
    """Names and indexes name things host-wide (containers, domains, networks): both rooms are named."""
    other = tmp_path / "other" / "inventories" / "demo"
    write(other.parent, demo())  # the same name, and index 20 too
    write(rooms, demo())
    with pytest.raises(RoomError) as caught:
        config.load(rooms, "demo", REFERENCE, {"demo": other})
    name_clash, index_clash = caught.value.problems
    assert name_clash.startswith(
        "inventories/demo: room name 'demo' is already used on this host by other/inventories/demo:"
    )
    assert "`labtool down demo` in its lab project" in name_clash
    assert index_clash.startswith("inventories/demo/labtool.yml: network.index: 20 is also used by room demo (")
    assert "(other/inventories/demo/labtool.yml)" in index_clash and "e.g. 10" in index_clash
    # The room itself, as the host knows it, is no clash; another name on another index is none either.
    assert config.load(rooms, "demo", REFERENCE, {"demo": rooms / "demo"}).name == "demo"
    write(other.parent, {"demo/labtool.yml": "network:\n  index: 21\n"})
    assert config.load(rooms, "demo", REFERENCE, {"net101": other}).networks.index == 20


def test_a_new_room_takes_an_index_no_room_on_this_host_uses(rooms: Path, tmp_path: Path) -> None:
    other = tmp_path / "other" / "inventories" / "default"
    write(other.parent, {"default/labtool.yml": "network:\n  index: 10\n"})
    made = config.new_room(rooms, "net101", 1, host_rooms={"default": other})
    assert config.read_settings_data(made / "labtool.yml")["network"]["index"] == 11
    with pytest.raises(RoomError, match="room name 'default' is already used on this host"):
        config.new_room(rooms, "default", 1, host_rooms={"default": other})


def test_invalid_room_name_is_refused_before_touching_the_disk(rooms: Path) -> None:
    with pytest.raises(RoomError, match=r'room name "\.\./etc" is not valid'):
        config.load(rooms, "../etc", REFERENCE)


def test_list_rooms(rooms: Path) -> None:
    assert config.list_rooms(rooms) == []
    write(rooms, {"b/labtool.yml": "", "a/labtool.yml": "", "c/hosts.yml": ""})
    assert config.list_rooms(rooms) == ["a", "b"]


def test_new_room_round_trip_takes_a_free_network_index(rooms: Path) -> None:
    config.new_room(rooms, "default", 1)
    path = config.new_room(rooms, "demo", 3)
    assert path == rooms / "demo"
    room = config.load(rooms, "demo", REFERENCE)
    assert [s.name for s in room.seats] == ["seat01", "seat02", "seat03"]
    assert room.networks.index == 11
    assert room.path == path


def test_new_room_host_range_is_zero_padded_to_the_seat_count() -> None:
    assert "seat[01:12]-vm:" in config.hosts_yml(12)
    assert "seat[001:100]-ct:" in config.hosts_yml(100)


def test_new_room_refuses_to_overwrite(rooms: Path) -> None:
    path = config.new_room(rooms, "demo", 2)
    (path / "hosts.yml").write_text("edited")
    with pytest.raises(RoomError, match=r"inventories/demo: already exists"):
        config.new_room(rooms, "demo", 5)
    assert (path / "hosts.yml").read_text() == "edited"


@pytest.mark.parametrize(
    ("name", "seats", "problems"),
    [
        (
            "Room 1",
            0,
            [
                'room name "Room 1" is not valid; use lowercase letters, digits and hyphens, at most 63 characters,'
                " not starting or ending with a hyphen",
                "seats: 0 is not a seat count; give a whole number from 1 to 250",
            ],
        ),
        ("demo", -2, ["seats: -2 is not a seat count; give a whole number from 1 to 250"]),
        ("demo", 251, ["seats: 251 is not a seat count; give a whole number from 1 to 250"]),
        (
            "-demo",
            1,
            [
                'room name "-demo" is not valid; use lowercase letters, digits and hyphens,'
                " at most 63 characters, not starting or ending with a hyphen"
            ],
        ),
    ],
)
def test_new_room_validates_name_and_seats(rooms: Path, name: str, seats: int, problems: list[str]) -> None:
    with pytest.raises(RoomError) as caught:
        config.new_room(rooms, name, seats)
    assert list(caught.value.problems) == problems
    assert not rooms.exists()


def test_room_error_is_a_labtool_error() -> None:
    error = RoomError(["a: x", "b: y"], "fix")
    assert isinstance(error, LabtoolError)
    assert (error.message, error.hint, error.problems) == ("a: x\nb: y", "fix", ("a: x", "b: y"))


def test_a_new_room_teaches_what_the_default_room_teaches(rooms: Path) -> None:
    written = config.new_room(rooms, "demo", 1, course_from=REPO / "inventories" / "default" / "labtool.yml")
    room = config.load(rooms, "demo", REFERENCE)
    assert room.course == config.load(REPO / "inventories", "default", REFERENCE).course
    assert "# course:" not in (written / "labtool.yml").read_text()


def test_students_and_published_access_are_read_with_the_room(rooms: Path) -> None:
    two_seats = "vms:\n  hosts:\n    seat0[1:2]-vm:\ncontainers:\n  hosts:\n    seat0[1:2]-ct:\n"
    write(
        rooms,
        demo(
            hosts=two_seats,
            settings=INDEX_20 + "access:\n  address: 127.0.0.1\n  port_base: 30000\nstudents:\n  sudo: false\n",
            # students.csv sits in the inventory directory: Ansible must not read it as an inventory.
            more={
                "demo/students.csv": "seat,name,email\nseat02,Grace Hopper,grace@example.org\n",
                "demo/host_vars/seat01-ct.yml": "labtool_student: Ada Lovelace\n",
            },
        ),
    )
    room = config.load(rooms, "demo", REFERENCE)
    assert [(s.name, s.student) for s in room.seats] == [
        ("seat01", Student("Ada Lovelace", "ada_lovelace")),
        ("seat02", Student("Grace Hopper", "grace_hopper", "grace@example.org")),
    ]
    assert room.access == Access("127.0.0.1", 30000)
    assert room.student_sudo is False


def test_a_room_whose_seats_outrun_the_ports_is_refused(rooms: Path) -> None:
    hosts = "vms:\n  hosts:\n    seat[01:20]-vm:\ncontainers:\n  hosts:\n    seat[01:20]-ct:\n"
    write(rooms, demo(hosts=hosts, settings=INDEX_20 + "access:\n  address: 127.0.0.1\n  port_base: 65500\n"))
    with pytest.raises(RoomError) as caught:
        config.load(rooms, "demo", REFERENCE)
    assert caught.value.problems == (
        "inventories/demo/labtool.yml: access.port_base: 65500 leaves too few ports for 20 seats (4 each, up to 65579);"
        " set it to 65456 or less",
    )


def test_a_settings_file_linked_from_outside_the_room_is_refused_unquoted(rooms: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2-is-my-password\n")
    write(rooms, demo(settings=None))
    (rooms / "demo" / "labtool.yml").symlink_to(secret)
    with pytest.raises(RoomError) as caught:
        config.load(rooms, "demo", REFERENCE)
    assert "is a link to a file outside the room" in caught.value.message
    assert "hunter2" not in caught.value.message


def test_a_room_directory_that_is_a_link_loop_is_a_missing_room_not_a_crash(rooms: Path) -> None:
    write(rooms, demo())
    (rooms / "loop").symlink_to(rooms / "loop")
    with pytest.raises(RoomError) as caught:
        config.load(rooms, "loop", REFERENCE)
    assert "room loop does not exist" in caught.value.message


def test_machines_outside_group_lab_are_refused_since_the_course_plays_lab(rooms: Path) -> None:
    write(rooms, {"demo/hosts.yml": ONE_SEAT, "demo/labtool.yml": INDEX_20})  # vms and containers at the top
    with pytest.raises(RoomError) as caught:
        config.load(rooms, "demo", REFERENCE)
    assert list(caught.value.problems) == [
        f"inventories/demo/hosts.yml: host {host}: not in group lab; make groups vms and containers children of lab"
        for host in ("seat01-ct", "seat01-vm")
    ]
