"""The `up` use case: a room from whatever it is to every chosen machine created, running and provisioned.

In order: no other labtool may be at work on the room, and what a killed one left running is
stopped; the course's requirements are installed (installed roles are part of the
provisioning key); the plan is made against the room's current image pair; the new machines
are checked against the host's free memory and disk; the course is baked first when asked
(then planned again, so new machines come from the baked pair); the plan runs. The verb
(cli/up.py) parses, delegates and prints: progress and the live view are given in, and
nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass

from labtool import lab_hosts, placement, requirements
from labtool.backends.vagrant import accel
from labtool.cancel import Cancel
from labtool.host import capacity
from labtool.images import bake
from labtool.lab import Lab, UpReport, open_lab
from labtool.model import Kind, Room
from labtool.plan import Action, Plan
from labtool.progress import Progress
from labtool.provision import provision_key
from labtool.settings import Settings

LiveView = Callable[[list[str]], AbstractContextManager[Progress]]
"""Shows the named machines' progress while the plan runs; gives the progress to report it to."""


@dataclass(frozen=True)
class UpOptions:
    seats: Collection[str] | None = None
    """The seats to bring up; None for all."""
    kinds: Collection[Kind] | None = None
    """Only their machines of these kinds (`provision --container`); None for both."""
    parallel: int = 1
    """Provisioning runs at once."""
    force_provision: bool = False
    """Provision machines whose provisioning is up to date too."""
    force: bool = False
    """Create the machines even where the host lacks the memory or disk for them (a warning, not an error)."""
    bake: bool = False
    """Bake the course into an image pair first, when the plan creates machines."""


@dataclass(frozen=True)
class UpResult:
    lab: Lab
    plan: Plan
    report: UpReport | None
    """None when the plan had nothing to do."""


def bring_up(
    settings: Settings, room: Room, options: UpOptions, *, cancel: Cancel, progress: Progress, view: LiveView
) -> UpResult:
    lab = open_lab(settings, room, cancel=cancel)
    lab.check_free()  # another labtool at work on the room: say so now, not after planning
    lab.recover(progress)  # what a killed labtool left running would fight over the machines
    installed = requirements.install(room.course.project, on_wait=progress)
    if installed:
        progress(f"installed roles from requirements.yml: {', '.join(installed)}")
    lab, plan = planned(settings, room, options, cancel)
    if not plan.changes:
        return UpResult(lab, plan, None)
    if len(room.hosts) > 1:  # each new seat goes where it fits; this host's check would count every seat here
        place_new_seats(lab, plan, options.parallel, progress)
    else:
        assessment = assess(lab, plan, options.parallel)
        if options.force and not assessment.fits:
            progress(f"warning: --force: {capacity.summary(assessment)}")
        elif not options.force:
            capacity.check(assessment)
    if options.bake and plan.creates:  # after the capacity check: a refused room bakes nothing
        bake.bake(settings, room, provision_key(room), progress=progress)
        lab, plan = planned(settings, room, options, cancel)
    made_from = f"; new machines from the {plan.images.description}" if plan.images and plan.creates else ""
    progress(f"room {room.name!r}: {len(plan.changes)} of {len(plan.steps)} machines need work{made_from}")
    with view([step.machine.name for step in plan.changes]) as shown:
        return UpResult(lab, plan, lab.up(plan, parallel=options.parallel, progress=shown))


def planned(settings: Settings, room: Room, options: UpOptions, cancel: Cancel | None = None) -> tuple[Lab, Plan]:
    """The room's lab on its current image pair (baked when current, else base), and its plan."""
    key = provision_key(room)
    lab = open_lab(settings, room, bake.images_for(settings, key), cancel)
    return lab, lab.plan(options.seats, kinds=options.kinds, force_provision=options.force_provision, key=key)


def assess(lab: Lab, plan: Plan, parallel: int) -> capacity.Assessment:
    """The plan's new machines against this host's free memory and disk, at this host's measured costs."""
    costs = capacity.Costs.measured(kvm=accel.detect(lab.settings.vm_accel).is_kvm)
    return capacity.assess(lab.room, plan, parallel, costs, capacity.read_free())


def place_new_seats(lab: Lab, plan: Plan, parallel: int, progress: Progress) -> None:
    """Put each seat the plan creates machines for, and that has no host yet, on the lab host with most room.

    Each host is surveyed over SSH now; one that is not ready takes no new seat (its seats already
    there keep their place). The placement is recorded before any machine is made, so a seat
    interrupted half-made is finished where it was begun.
    """
    room = lab.room
    new = {step.machine.seat for step in plan.steps if Action.CREATE in step.actions} - set(lab.placed)
    if not new:
        return
    left: dict[str, int] = {}
    for facts in lab_hosts.survey(room.hosts, lab.settings.vm_accel):
        if not facts.ok:
            progress(f"lab host {facts.host.name} takes no new seat: {facts.error or 'its daemons do not answer'}")
            continue
        left[facts.host.name] = facts.seats_that_fit(room, parallel)
    placed = placement.place(room, lab.placed, left, new)
    lab.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    placement.record(lab.state_dir, placed)
    lab.placed.update(placed)
    progress("seats placed: " + ", ".join(f"{seat} on {placed[seat]}" for seat in sorted(new)))
