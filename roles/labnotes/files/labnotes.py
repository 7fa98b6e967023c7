"""labnotes: the lab's web app.

Students keep notes here, and every page shows the machine's *fingerprint*:
which kernel, which PID 1, which memory limit and which virtualization the
app sees. The same code runs on the VM and on the container of every seat, so
whatever differs between the two fingerprints is the machine, not the app.

Runs under gunicorn (Debian's package) behind nginx; only Debian's
python3-flask and the standard library are used. Settings come from the
environment (see the systemd unit and /etc/labnotes/labnotes.env).
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import sqlite3
import subprocess
import time
from importlib import metadata
from pathlib import Path

from flask import Flask, g, jsonify, redirect, render_template_string, request, url_for

VERSION = "1.0.0"
DB_PATH = Path(os.environ.get("LABNOTES_DB", "/var/lib/labnotes/notes.sqlite3"))
TITLE = os.environ.get("LABNOTES_TITLE", "Lab notes")
# Debian packages whose exact versions prove both machines got the same bits.
DEB_PACKAGES = ("python3-flask", "python3-werkzeug", "python3-jinja2", "gunicorn", "nginx")
PY_PACKAGES = ("flask", "werkzeug", "jinja2", "gunicorn")
MAX_NOTE = 2000
STARTED = time.monotonic()

app = Flask(__name__)


# --- storage -----------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)
"""


def db() -> sqlite3.Connection:
    """One connection per request; the schema is created on first use."""
    if "db" not in g:
        g.db = sqlite3.connect(DB_PATH, timeout=5)
        g.db.row_factory = sqlite3.Row
        g.db.execute(SCHEMA)
    return g.db


@app.teardown_appcontext
def close_db(_exc: BaseException | None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def list_notes() -> list[dict[str, object]]:
    rows = db().execute("SELECT id, author, body, created FROM notes ORDER BY id DESC")
    return [dict(row) for row in rows]


def add_note(author: str, body: str) -> int:
    author, body = author.strip()[:80] or "anonymous", body.strip()[:MAX_NOTE]
    if not body:
        raise ValueError("a note needs some text")
    with db() as conn:  # commits on success
        cur = conn.execute("INSERT INTO notes (author, body) VALUES (?, ?)", (author, body))
    return int(cur.lastrowid or 0)


# --- fingerprint ---------------------------------------------------------------


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _run(*cmd: str) -> str | None:
    # systemd-detect-virt exits 1 (printing "none") on bare metal: keep the output.
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def memory_limit() -> dict[str, object]:
    """The memory this process may use: the tightest cgroup limit, else MemTotal.

    A container usually sees the host's MemTotal but may have a cgroup limit; a
    VM sees its own RAM. Handles cgroup v2 (unified) and v1 (memory controller)
    and walks up the hierarchy, because limits are inherited. "No limit" is
    "max" in v2 and a huge number in v1, so it never beats MemTotal.
    """
    meminfo = _read("/proc/meminfo") or ""
    memtotal = next((int(ln.split()[1]) * 1024 for ln in meminfo.splitlines() if ln.startswith("MemTotal:")), 0)
    limit, source = memtotal, "MemTotal"
    unified = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    for line in (_read("/proc/self/cgroup") or "").splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and unified:
            base, name, version = Path("/sys/fs/cgroup"), "memory.max", "v2"
        elif "memory" in controllers.split(","):
            base, name, version = Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes", "v1"
        else:
            continue
        for group in [Path(path), *Path(path).parents]:
            value = _read(base / group.relative_to("/") / name)
            if value and value.isdigit() and int(value) < limit:
                limit, source = int(value), f"cgroup {version} {group}"
    return {"bytes": limit, "source": source, "memtotal_bytes": memtotal}


def fingerprint() -> dict[str, object]:
    pid1 = (_read("/proc/1/cmdline") or "").replace("\0", " ").strip()
    uptime = _read("/proc/uptime")
    debs = _run("dpkg-query", "-W", "-f", "${Package}=${Version}\\n", *DEB_PACKAGES) or ""
    return {
        "app": "labnotes",
        "app_version": VERSION,
        "app_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "python_version": platform.python_version(),
        "python_packages": {name: _version(name) for name in PY_PACKAGES},
        "debian_packages": dict(line.split("=", 1) for line in debs.splitlines() if "=" in line),
        "hostname": socket.gethostname(),
        "kernel_release": platform.release(),
        "virtualization": _run("systemd-detect-virt") or "unknown",
        "pid1_command": pid1 or None,
        "pid1_name": _read("/proc/1/comm"),
        "memory_limit": memory_limit(),
        "uptime_seconds": float(uptime.split()[0]) if uptime else None,
        "app_uptime_seconds": round(time.monotonic() - STARTED, 1),
    }


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


# --- routes ---------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}
th{text-align:left;padding-right:1em}li{margin:.4em 0}</style></head>
<body><h1>{{ title }}</h1>
<p>You are on <b>{{ fp.hostname }}</b>, a
<b>{{ "container" if fp.virtualization in containers else "virtual machine" }}</b>
({{ fp.virtualization }}).</p>
<table>
<tr><th>Kernel</th><td>{{ fp.kernel_release }}</td></tr>
<tr><th>PID 1</th><td>{{ fp.pid1_command }}</td></tr>
<tr><th>Memory limit</th><td>{{ fp.memory_limit.bytes // 1048576 }} MiB ({{ fp.memory_limit.source }})</td></tr>
<tr><th>Uptime</th><td>{{ fp.uptime_seconds | int }} s</td></tr>
<tr><th>App</th><td>labnotes {{ fp.app_version }}, Python {{ fp.python_version }}</td></tr>
</table>
<p><a href="/api/fingerprint">Full fingerprint (JSON)</a></p>
<h2>Notes</h2>
<form method="post" action="{{ url_for('post_note') }}">
<input name="author" placeholder="your name" maxlength="80">
<input name="body" placeholder="note" size="50" maxlength="{{ max_note }}" required>
<button>Add</button></form>
<ul id="notes">{% for n in notes %}<li><b>{{ n.author }}</b> ({{ n.created }}): {{ n.body }}</li>
{% else %}<li>No notes yet.</li>{% endfor %}</ul>
</body></html>
"""
CONTAINERS = {"docker", "podman", "lxc", "lxc-libvirt", "systemd-nspawn", "openvz", "rkt", "wsl", "container-other"}


@app.get("/")
def index() -> str:
    return render_template_string(
        PAGE, title=TITLE, fp=fingerprint(), notes=list_notes(), containers=CONTAINERS, max_note=MAX_NOTE
    )


@app.post("/notes")
def post_note():  # noqa: ANN201 - a redirect response
    try:
        add_note(request.form.get("author", ""), request.form.get("body", ""))
    except ValueError:
        pass  # an empty form just reloads the page
    return redirect(url_for("index"), code=303)


@app.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    db().execute("SELECT 1").fetchone()  # the app is only healthy if its data is reachable
    return "ok\n", 200, {"Content-Type": "text/plain"}


@app.get("/api/fingerprint")
def api_fingerprint():  # noqa: ANN201 - a JSON response
    return jsonify(fingerprint())


@app.get("/api/notes")
def api_notes():  # noqa: ANN201 - a JSON response
    return jsonify(list_notes())


@app.post("/api/notes")
def api_add_note():  # noqa: ANN201 - a JSON response
    data = request.get_json(silent=True) or {}
    try:
        note_id = add_note(str(data.get("author", "")), str(data.get("body", "")))
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(id=note_id), 201
