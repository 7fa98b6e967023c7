"""`labtool serve`: the class's web application (the instructor's live room, students' terminals)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labtool.cli.context import add_verb, lab_project, load_room
from labtool.cli.output import progress, say
from labtool.errors import LabtoolError
from labtool.host import addresses
from labtool.lab import open_lab
from labtool.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8443

DESCRIPTION = """\
Serve the class in the browser, over HTTPS, on one address of this host (127.0.0.1 unless
--address names another; never every interface). The instructor logs in with the token kept
in LABTOOL_HOME/serve/instructor-token (0600) and sees each room's seats live, one page per
seat, and buttons for verify, check, reset, a new password and checkpoints: they run labtool's
own verbs under the room's lock, so a command in a terminal and the page never work on a room at
once. A student logs in with their handout's login and password and sees only their seat: a
terminal on either machine (SSH as themselves), their check results and, with
--student-restore, their seat's checkpoints to go back to. Every action is logged, with who
did it, in LABTOOL_HOME/serve/audit.log."""


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "serve",
        summary="serve the class in the browser: the instructor's live room, students' terminals",
        description=DESCRIPTION,
        examples=[
            "labtool serve                                   # the default room, https://127.0.0.1:8443/",
            "labtool serve net101 net102 --address 192.0.2.10 --port 443",
            "labtool serve --cert school.pem --key school.key --student-restore",
        ],
    )
    parser.add_argument("rooms", nargs="*", metavar="ROOM", help="the rooms to serve (default: the default room)")
    parser.add_argument(
        "--address", default=DEFAULT_ADDRESS, help=f"this host's address to serve on ({DEFAULT_ADDRESS})"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port ({DEFAULT_PORT})")
    parser.add_argument(
        "--cert", type=Path, metavar="FILE", help="the server's PEM certificate (default: labtool makes one)"
    )
    parser.add_argument("--key", type=Path, metavar="FILE", help="the certificate's PEM key")
    parser.add_argument(
        "--student-restore", action="store_true", help="let students restore their own seat to its checkpoints"
    )
    parser.add_argument(
        "--new-token", action="store_true", help="issue a new instructor token (the old one stops working)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # The web stack (aiohttp, asyncssh, Jinja2) is imported here, not with the CLI: it costs every other verb ~0.5 s.
    from labtool.serve import auth, tls
    from labtool.serve.app import make_app
    from labtool.serve.classroom import Classroom
    from labtool.serve.jobs import Jobs

    _check_address(args.address, args.port)
    if (args.cert is None) != (args.key is None):
        raise LabtoolError("--cert and --key go together", "give both, or neither for a certificate labtool makes")
    settings = Settings.from_env()
    directory = settings.home / "serve"
    labs = []
    for name in args.rooms or [None]:
        args.room = name
        labs.append(open_lab(settings, load_room(args, settings)))
    cert, key = (args.cert, args.key) if args.cert else tls.made_certificate(directory, args.address)
    context = tls.context(cert, key)
    token_file = auth.instructor_token(directory, renew=args.new_token)
    project = lab_project(args).root
    app = make_app(
        Classroom(labs, student_restore=args.student_restore),
        Jobs(directory / "jobs", project),
        token_file,
        directory / "audit.log",
    )
    host = f"[{args.address}]" if ":" in args.address else args.address
    say(f"serving room(s) {', '.join(lab.room.name for lab in labs)} on https://{host}:{args.port}/")
    say(f"instructor token: in {token_file} (readable by you only)")
    if not args.cert:
        say(f"certificate: made by labtool, {cert} (the browser asks once to trust it)")
    progress("Ctrl-C stops the server")
    asyncio.run(_serve(app, args.address, args.port, context))
    return 0


def _check_address(address: str, port: int) -> None:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise LabtoolError(
            f"--address {address}: is not an IP address", "give one of this host's, e.g. 127.0.0.1"
        ) from None
    if parsed.is_unspecified:
        raise LabtoolError(
            f"--address {address} means every interface of this host, which would serve the class on every network "
            "it is on",
            "give the one address the class reaches, e.g. the lab network's",
        )
    if not addresses.is_local(address):
        raise LabtoolError(f"--address {address}: is not an address of this host", "give one `ip -brief address` lists")
    if not 1 <= port <= 65535:
        raise LabtoolError(f"--port {port}: is not a port", "give a port from 1 to 65535, e.g. 8443")
    if not addresses.port_is_free(address, port):
        raise LabtoolError(f"{address}:{port} is in use", "stop what listens there, or choose another --port")


async def _serve(app: web.Application, address: str, port: int, context: Any) -> None:
    from aiohttp import web

    from labtool.serve.app import SERVER

    runner = web.AppRunner(app, access_log=None)  # the audit log says who did what; no request log of URLs
    await runner.setup()
    site = web.TCPSite(runner, address, port, ssl_context=context)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await app[SERVER].jobs.drain()
