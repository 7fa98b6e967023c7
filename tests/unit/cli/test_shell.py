import pytest

from labtool.cli.shell import split_command
from labtool.errors import LabtoolError


@pytest.mark.parametrize(
    ("words", "command", "room"),
    [
        (["--", "uptime"], ["uptime"], "default"),
        (["--room", "demo", "--", "sh", "-c", "id -un"], ["sh", "-c", "id -un"], "demo"),
        (["--room=demo", "--", "ls", "--", "x"], ["ls", "--", "x"], "demo"),
        (["uptime", "-a"], ["uptime", "-a"], "default"),
        ([], [], "default"),
    ],
)
def test_command_and_room_are_split_at_the_first_double_dash(words: list[str], command: list[str], room: str) -> None:
    assert split_command(words, "default") == (command, room)


def test_anything_else_before_the_double_dash_is_a_readable_error() -> None:
    with pytest.raises(LabtoolError, match="unexpected argument '--seat' before --"):
        split_command(["--seat", "s1", "--", "uptime"], "default")
