"""The one error hierarchy. The CLI renders every LabtoolError as `error: ... / hint: ...`."""

from __future__ import annotations

from collections.abc import Sequence


class LabtoolError(Exception):
    """A failure the user can act on: a message saying what went wrong and a hint saying how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class CommandError(LabtoolError):
    """An external command failed or timed out."""

    def __init__(self, message: str, hint: str = "", *, output: str = "") -> None:
        super().__init__(message, hint)
        self.output = output


class CommandTimeoutError(CommandError):
    """An external command did not finish within its timeout and was killed."""

    def __init__(self, message: str, hint: str = "", *, timeout: float) -> None:
        super().__init__(message, hint)
        self.timeout = timeout


class SettingsError(LabtoolError):
    """A setting (environment variable) has a value labtool cannot use."""


class DaemonError(LabtoolError):
    """A daemon labtool needs did not start or does not answer."""


class DaemonUnreachableError(CommandError, DaemonError):
    """A command failed because the daemon behind it does not answer (virsh without libvirtd)."""


class ImageBuildError(LabtoolError):
    """Building the base rootfs, the Docker image or the Vagrant box failed."""


class MirrorUnreachableError(ImageBuildError):
    """The Debian mirror used for the rootfs cannot be reached."""


class RoomError(LabtoolError):
    """A room (inventories/<room>/) does not exist or is invalid.

    `problems` holds every problem found, each naming the file, the key or host, and
    the fix; the message lists them one per line so the user fixes all in one go.
    """

    def __init__(self, problems: Sequence[str], hint: str = "") -> None:
        super().__init__("\n".join(problems), hint)
        self.problems = tuple(problems)
