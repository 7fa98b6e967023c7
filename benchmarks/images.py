"""Benchmark the base images: cold and warm build, sizes, container ready time, VM boot to SSH.

Run on a host prepared by `scripts/up`:  .venv/bin/python benchmarks/images.py [--skip-cold] [--runs N]
Ratios are against baselines measured in the same run (warm vs cold build, VM vs container start),
so a busy machine shifts both sides alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from labtool.backends.docker import image as docker_image
from labtool.backends.vagrant import accel, libvirt
from labtool.backends.vagrant import box as vagrant_box
from labtool.backends.vagrant.backend import Network, VagrantProject, VmSpec
from labtool.images import build, pair, recipe
from labtool.settings import Settings

MIB = 1024 * 1024


def timed_build(settings: Settings, force: bool) -> tuple[float, build.BuildReport]:
    started = time.monotonic()
    report = build.build(settings, force=force)
    return time.monotonic() - started, report


def container_ready_seconds(key: str) -> float:
    """From `docker run` to systemd reporting the system running."""
    client = docker_image.client()
    started = time.monotonic()
    container = client.containers.run(
        docker_image.ref(key),
        detach=True,
        name=f"labtool-bench-{uuid.uuid4().hex[:8]}",
        labels={"labtool.room": "benchmark"},
        **docker_image.run_options(),
    )
    try:
        while container.exec_run(["systemctl", "is-system-running"]).output.decode().strip() != "running":
            if time.monotonic() - started > 60:
                raise RuntimeError("the container did not finish booting within 60 s")
            time.sleep(0.05)
        return time.monotonic() - started
    finally:
        container.remove(force=True)


def vm_boot_to_ssh_seconds(settings: Settings, key: str) -> float:
    """From `vagrant up` of a new VM (of the base box built with `key`) to a command answered over SSH."""
    with tempfile.TemporaryDirectory(prefix="labtool-bench-") as state:
        network = Network("labtool-bench", "192.168.249.0/24")
        box = pair.base(key).box
        backend = VagrantProject(
            Path(state), network, accel.detect(settings.vm_accel), "labtoolbench_", box, libvirt_uri=libvirt.LOCAL_URI
        )
        backend.define([VmSpec("bench-vm", memory=1024)])
        started = time.monotonic()
        try:
            backend.up("bench-vm")
            backend.ssh("bench-vm", "true")
            return time.monotonic() - started
        finally:
            backend.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-cold", action="store_true", help="do not force a cold rebuild first")
    parser.add_argument("--runs", type=int, default=3, help="container starts to take the median of")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = Settings.from_env()

    results: dict[str, object] = {}
    if not args.skip_cold:
        cold, report = timed_build(settings, force=True)
        results["cold_build_s"] = round(cold, 1)
        results["cold_build_steps_s"] = report.seconds
    warm, report = timed_build(settings, force=False)
    if not report.cached:
        raise SystemExit("the warm build was not a cache hit")
    results["warm_build_s"] = round(warm, 2)
    if not args.skip_cold:
        results["warm_vs_cold"] = round(warm / cold, 4)
    results["docker_image_mib"] = round(docker_image.size_bytes(report.docker_image) / MIB)
    results["vagrant_box_mib"] = round(vagrant_box.size_bytes(report.box) / MIB)
    container = statistics.median(container_ready_seconds(report.key) for _ in range(args.runs))
    vm = vm_boot_to_ssh_seconds(settings, report.key)
    results["container_ready_s"] = round(container, 2)
    results["vm_boot_to_ssh_s"] = round(vm, 1)
    results["vm_vs_container_start"] = round(vm / container, 1)
    results["vm_accel"] = accel.detect(settings.vm_accel).driver
    results["recipe_key"] = recipe.cache_key()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, value in results.items():
            print(f"{name:24} {value}")


if __name__ == "__main__":
    main()
