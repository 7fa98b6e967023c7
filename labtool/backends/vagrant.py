"""The VM backend: the project's single Vagrantfile, driven through python-vagrant.

labtool writes the machine list as JSON (the Vagrantfile reads it from
LABTOOL_MACHINES) and keeps Vagrant's state per room (VAGRANT_DOTFILE_PATH), so
`vagrant status` by hand, with the same two variables, shows the same VMs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labtool.errors import LabtoolError
from labtool.host.accel import Accel
from labtool.images import recipe

PROJECT_DIR = Path(__file__).resolve().parents[2]


class VagrantError(LabtoolError):
    """A Vagrant command failed."""


@dataclass(frozen=True)
class VmSpec:
    name: str
    cpus: int = 1
    memory: int = 1024


@dataclass(frozen=True)
class Network:
    """A libvirt management network of its own, so rooms never share a subnet or a bridge."""

    name: str
    subnet: str


class VagrantBackend:
    def __init__(self, state_dir: Path, network: Network, accel: Accel, prefix: str) -> None:
        self.state_dir = state_dir
        self.network = network
        self.accel = accel
        self.prefix = prefix
        self.machines_file = state_dir / "machines.json"
        self.log = state_dir / "vagrant.log"

    @property
    def env(self) -> dict[str, str]:
        return {
            "LABTOOL_MACHINES": str(self.machines_file),
            "VAGRANT_DOTFILE_PATH": str(self.state_dir / "vagrant"),
            "VAGRANT_DEFAULT_PROVIDER": "libvirt",
            "VAGRANT_CHECKPOINT_DISABLE": "1",  # no phoning home: the lab is offline
        }

    def define(self, machines: Sequence[VmSpec]) -> None:
        """Write the machine list the Vagrantfile reads."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        spec = {
            "box": recipe.BOX_NAME,
            "driver": self.accel.driver,
            "cpu_model": self.accel.cpu_model,
            "prefix": self.prefix,
            "network": asdict(self.network),
            "machines": [asdict(m) for m in machines],
        }
        self.machines_file.write_text(json.dumps(spec, indent=2) + "\n")

    def up(self, name: str) -> None:
        with self._vagrant(f"start the VM {name}") as v:
            v.up(vm_name=name, provider="libvirt")

    def destroy(self, name: str | None = None) -> None:
        with self._vagrant("destroy the VMs") as v:
            v.destroy(vm_name=name)

    def ssh(self, name: str, command: str) -> str:
        with self._vagrant(f"run `{command}` on {name}") as v:
            return str(v.ssh(vm_name=name, command=command))

    def states(self) -> dict[str, str]:
        with self._vagrant("read the VMs' states") as v:
            return {s.name: s.state for s in v.status()}

    def domain_name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @contextmanager
    def _vagrant(self, doing: str) -> Iterator[Any]:
        import vagrant

        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_cm = vagrant.make_file_cm(str(self.log))  # type: ignore[no-untyped-call]
        client = vagrant.Vagrant(  # type: ignore[no-untyped-call]
            root=str(PROJECT_DIR), env=self._full_env(), out_cm=log_cm, err_cm=log_cm
        )
        try:
            yield client
        except subprocess.CalledProcessError as exc:
            raise VagrantError(f"vagrant failed to {doing} (exit {exc.returncode})", f"see {self.log}") from exc

    def _full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}
