"""Collect one lab machine's fingerprint; runs ON the machine (as root, stdlib only).

labtool pipes this file to `python3 -` and passes a JSON request as the one argument:

    {"files": [paths the roles manage], "system_only": bool,
     "fingerprint_url": str | null, "page_url": str | null, "page_ignore_id": str | null}

or {"explain": {"services": [...], "files": [...]}} for the evidence of drift, or {"prime": true}
to fill the digest cache (DIGEST_CACHE) only.

It prints one JSON object of items, "category:key" -> value string, plus "facts" used by
`labtool compare`. Values are short, comparable strings, so the diff is a plain dict comparison.
What a course's app answers is collected only when the request names its URLs; everything
else (packages, their conffiles and modified files, files, services, ports, accounts,
system) comes from the machine itself, whatever the course.
"""

from __future__ import annotations

import functools
import grp
import hashlib
import html.parser
import json
import os
import platform
import pwd
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def run(*argv: str, ok_codes: tuple[int, ...] = (0,)) -> str:
    """A command's output; a command that fails (twice: a busy machine may time out once) stops the collection.

    Empty output from a failed command would read as "nothing installed/running" and show as drift.
    """
    for attempt in (1, 2):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode in ok_codes:
            return result.stdout
        if attempt == 1:
            time.sleep(2)
    raise SystemExit(f"collect: `{' '.join(argv)}` exited {result.returncode}: {result.stderr.strip()[:300]}")


def read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def packages() -> dict[str, str]:
    out = run("dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\n")
    items = {}
    for line in out.splitlines():
        status, name, version = [*line.split(), "", "", ""][:3]
        if status == "ii":
            items[f"package:{name}"] = version
    return items


def parse_conffiles(text: str) -> dict[str, str]:
    """Conffile path -> dpkg's md5sum of it as shipped, for the packages that are installed.

    `text` is `dpkg-query -W -f '${db:Status-Abbrev}${binary:Package}\n${Conffiles}\n'`: a line per
    package (status first, e.g. "ii "), then one line per conffile: " PATH MD5 [obsolete]
    [remove-on-upgrade]". PATH may hold spaces (dpkg reads the flags and the hash from the
    end), so the line is split from the right. Obsolete conffiles (no longer shipped) and
    remove-on-upgrade ones (the next upgrade deletes them) are not the package's state.
    """
    conffiles: dict[str, str] = {}
    installed = False
    for line in text.splitlines():
        if not line.startswith(" "):
            installed = line.startswith("ii")
            continue
        words = line[1:].split(" ")  # dpkg writes " PATH HASH[ obsolete][ remove-on-upgrade]"
        flags = set()
        while len(words) > 2 and words[-1] in ("obsolete", "remove-on-upgrade"):
            flags.add(words.pop())
        if installed and len(words) >= 2 and not flags:
            conffiles[" ".join(words[:-1])] = words[-1]
    return conffiles


def conffiles() -> dict[str, str]:
    """Every installed package's conffile, described like the files the roles manage."""
    return {f"conffile:{path}": describe(path) for path in parse_conffiles(dpkg_status())}


@functools.cache
def dpkg_status() -> str:
    """Each package's status and name (with its architecture where dpkg names it so), then its conffiles:
    read once, for the conffiles and the files dpkg verifies."""
    return run("dpkg-query", "-W", "-f", "${db:Status-Abbrev}${binary:Package}\n${Conffiles}\n")


DIGEST_CACHE = Path("/var/cache/labtool/dpkg-digests.json")
"""Each packaged file's md5 with the stat it was read under. A file whose size, mtime, ctime and inode
are unchanged is not read again (no user can set a ctime back), so only the first verify of a machine
hashes every packaged file. It is a cache: deleting it costs the next run time, nothing else."""
DPKG_INFO = Path("/var/lib/dpkg/info")
DIVERSIONS = Path("/var/lib/dpkg/diversions")


def dpkg_modified() -> dict[str, str]:
    """The package-owned files whose content differs from what the package shipped (or that are gone).

    `dpkg --verify`'s digest check (its only check in Debian 12's dpkg), done here so that an unchanged
    file's digest comes from DIGEST_CACHE: the same answer, in a fraction of the time on an emulated VM.
    """
    cache = load_digest_cache()
    fresh: dict[str, list[object]] = {}
    modified = {}
    for path, expected, is_conffile in packaged_files():
        try:
            info = os.stat(path)
        except OSError:
            modified[f"dpkg-modified:{path}"] = f"missing   {'c' if is_conffile else ' '}"
            continue
        key = [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]
        cached = cache.get(path)
        digest = cached[4] if cached and cached[:4] == key else file_md5(path)
        fresh[path] = [*key, digest]
        if digest != expected:
            modified[f"dpkg-modified:{path}"] = f"??5?????? {'c' if is_conffile else ' '}"
    save_digest_cache(fresh)
    return modified


def packaged_files() -> list[tuple[str, str, bool]]:
    """(path on disk, md5 dpkg recorded, is a conffile) of every file dpkg verifies, as `dpkg --verify` sees them."""
    listing = dpkg_status()
    installed = [line[3:] for line in listing.splitlines() if line[:1] != " " and line[1:2] not in ("n", "c", "")]
    diverted = diversions()
    found: dict[str, tuple[str, str, bool]] = {}
    for package in installed:
        name = package.split(":")[0]
        try:
            sums = (DPKG_INFO / f"{package}.md5sums").read_bytes().decode("utf-8", "surrogateescape")
        except OSError:
            continue
        for line in sums.splitlines():
            digest, _, relative = line.partition("  ")
            path = "/" + relative
            target, owner = diverted.get(path, (path, name))
            found[path] = (path if owner == name else target, digest, False)
    for path, digest in parse_conffiles(listing).items():
        if digest != "newconffile":  # dpkg's mark for a conffile not yet installed
            found[path] = (path, digest, True)
    return sorted(found.values())


def diversions() -> dict[str, tuple[str, str]]:
    """Diverted path -> (where its package's file is instead, the package that diverted it)."""
    try:
        lines = DIVERSIONS.read_text().splitlines()
    except OSError:
        return {}
    return {lines[i]: (lines[i + 1], lines[i + 2]) for i in range(0, len(lines) - 2, 3)}


def file_md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return "unreadable"
    return digest.hexdigest()


def load_digest_cache() -> dict[str, list[Any]]:
    try:
        loaded = json.loads(DIGEST_CACHE.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def save_digest_cache(digests: dict[str, list[object]]) -> None:
    try:
        DIGEST_CACHE.parent.mkdir(parents=True, exist_ok=True)
        partial = DIGEST_CACHE.with_suffix(".partial")
        partial.write_text(json.dumps(digests, separators=(",", ":")))
        partial.replace(DIGEST_CACHE)
    except OSError:
        pass  # a full or read-only disk: the next run hashes again


def flatten(prefix: str, value: object) -> dict[str, str]:
    if isinstance(value, dict):
        items: dict[str, str] = {}
        for key, inner in value.items():
            items.update(flatten(f"{prefix}.{key}" if prefix else str(key), inner))
        return items
    return {prefix: json.dumps(value) if not isinstance(value, str) else value}


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), ""
    except OSError as exc:
        return 0, "", str(exc)


def app_fingerprint(url: str) -> dict[str, str]:
    """The course app's own fingerprint: a JSON object, flattened to dotted `app:` items."""
    status, _, body = get(url)
    if status != 200:
        return {"app:error": f"GET {url} answered {status or body}"}
    try:
        return {f"app:{k}": v for k, v in flatten("", json.loads(body)).items()}
    except ValueError:
        return {"app:error": f"GET {url} answered something that is not JSON: {body[:100]!r}"}


class Skeleton(html.parser.HTMLParser):
    """The page's shape: its tags and attributes in order, without the text (which names the machine).

    The element whose id is `ignore_id` (if any) holds data that differs by design (say,
    what the students typed): only the element itself counts, not what is inside it.
    """

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self, ignore_id: str | None = None) -> None:
        super().__init__()
        self.ignore_id = ignore_id
        self.tags: list[str] = []
        self.title = ""
        self._in_title = False
        self._data_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._data_depth:
            self._data_depth += tag not in self.VOID  # void elements have no end tag to count back
            return
        self.tags.append(tag + "".join(f" {k}={v}" for k, v in attrs))
        self._in_title = tag == "title"
        self._data_depth = 1 if self.ignore_id is not None and ("id", self.ignore_id) in attrs else 0

    def handle_endtag(self, tag: str) -> None:
        if self._data_depth > 1:
            self._data_depth -= 1
            return
        self._data_depth = 0
        self.tags.append("/" + tag)
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def app_page(url: str, ignore_id: str | None = None) -> dict[str, str]:
    """The shape of the course app's page (not its text), and how it was answered."""
    status, content_type, body = get(url)
    skeleton = Skeleton(ignore_id)
    skeleton.feed(body)
    return {
        "page:status": str(status),
        "page:content-type": content_type,
        "page:title": skeleton.title.strip(),
        "page:structure": "sha256:" + hashlib.sha256("\n".join(skeleton.tags).encode()).hexdigest(),
    }


def describe(path: str) -> str:
    try:
        info = os.lstat(path)
    except OSError:
        return "absent"
    owner = f"{_name(pwd.getpwuid, info.st_uid)}:{_name(grp.getgrgid, info.st_gid)}"
    mode = f"{stat.S_IMODE(info.st_mode):04o}"
    if stat.S_ISLNK(info.st_mode):
        return f"link -> {os.readlink(path)}"
    if stat.S_ISDIR(info.st_mode):
        return f"directory {mode} {owner}"
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return f"file {mode} {owner} sha256:{digest}"


def _name(lookup: object, number: int) -> str:
    try:
        return str(lookup(number)[0])  # type: ignore[operator]
    except KeyError:
        return str(number)


def services() -> dict[str, str]:
    items = {}
    # Filtered in here: `--type=service --state=enabled` makes systemd take twice as long (6 s vs 3 s on a TCG VM).
    for line in run("systemctl", "list-unit-files", "--no-legend", "--plain").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].endswith(".service") and words[1] == "enabled":
            items[f"service-enabled:{words[0]}"] = "enabled"
    running = run("systemctl", "list-units", "--type=service", "--state=running", "--no-legend", "--plain")
    for line in running.splitlines():
        if line.split():
            items[f"service-running:{line.split()[0]}"] = "running"
    return items


def network() -> dict[str, str]:
    """What the machine listens on and its own addresses, as printed: labtool/parity/sockets.py reads them
    (the program behind a socket shows where root may see it; a container's root may not see other
    users' processes, so the socket's uid and the processes' owners come too)."""
    return {
        "ss": run("ss", "-Hlntupe"),
        "ip": run("ip", "-o", "addr", "show"),
        "ephemeral": read("/proc/sys/net/ipv4/ip_local_port_range"),
        "processes": run("ps", "-eo", "uid=,pid=,comm="),
    }


SANDBOX_RECORD = "/run/labtool/sandbox.json"
SANDBOX_DROP_IN = "50-labtool-sandbox.conf"
NOT_ASKED = {"", "no", "false", "0", "off", "default", "all", "inherit"}
CAUSES = {
    "user": "gives containers no user namespaces",
    "mnt": "gives a container no mount namespaces of its own (its root has no CAP_SYS_ADMIN)",
    "net": "gives a container no network namespaces of its own",
    "ipc": "gives a container no IPC namespaces of its own",
    "uts": "gives a container no hostname namespaces of its own",
    "start": "cannot set it up for a container",
}


def unit_directives(text: str) -> dict[str, dict[str, str]]:
    """Unit -> directive -> value from `systemctl cat`, the probe's own drop-in left out."""
    units: dict[str, dict[str, str]] = {}
    unit, skip = "", False
    for line in text.splitlines():
        if line.startswith("# /"):
            path = line[2:].strip()
            skip = path.endswith(SANDBOX_DROP_IN)
            if not path.endswith(".conf"):
                unit = path.rsplit("/", 1)[-1]
            continue
        key, sep, value = line.partition("=")
        if sep and unit and not skip and not line.startswith(("#", ";", "[")):
            units.setdefault(unit, {})[key.strip()] = value.strip()
    return units


def sandbox() -> tuple[dict[str, str], dict[str, str]]:
    """Container only (the probe runs nowhere else): per running or enabled service, the sandboxing
    directives it asks for that this host cannot give; items and the reason each is expected."""
    try:
        record = json.loads(Path(SANDBOX_RECORD).read_text())
    except (OSError, ValueError):
        return {}, {}
    limited = {d: i for d, i in record.get("directives", {}).items() if i.get("state") in ("failed", "ignored")}
    listed = run("systemctl", "list-units", "--type=service", "--all", "--no-legend", "--plain")
    units = sorted({line.split()[0] for line in listed.splitlines() if line.split() and "@" not in line.split()[0]})
    settings = unit_directives(run("systemctl", "cat", "--", *units, ok_codes=(0, 1))) if units else {}
    items, reasons = {}, {}
    for unit, directives in sorted(settings.items()):
        asked = [d for d in limited if directives.get(d, "").lower() not in NOT_ASKED]
        if not asked:
            continue
        words = []
        for directive in sorted(asked):
            info = limited[directive]
            how = "relaxed" if info.get("relaxed") else ("fails" if info["state"] == "failed" else "not in effect")
            words.append(f"{directive}= {how}")
        items[f"sandbox:{unit}"] = ", ".join(words)
        causes = sorted({CAUSES.get(limited[d].get("effect", ""), "refuses it") for d in asked})
        reasons[f"sandbox:{unit}"] = f"this host {' and '.join(causes)}: {', '.join(words)} for {unit} in the container"
    return items, reasons


def accounts() -> dict[str, str]:
    items = {}
    for user in pwd.getpwall():
        items[f"user:{user.pw_name}"] = f"uid={user.pw_uid} gid={user.pw_gid} home={user.pw_dir} shell={user.pw_shell}"
    for group in grp.getgrall():
        items[f"group:{group.gr_name}"] = f"gid={group.gr_gid} members={','.join(sorted(group.gr_mem))}"
    return items


def system() -> dict[str, str]:
    meminfo = dict(line.split(":", 1) for line in read("/proc/meminfo").splitlines() if ":" in line)
    addresses = sorted(
        f"{fields[1]} {fields[3]}"
        for fields in (line.split() for line in run("ip", "-o", "addr", "show").splitlines())
        if len(fields) > 3 and fields[1] != "lo"
    )
    return {
        "system:hostname": platform.node(),
        "system:boot_id": read("/proc/sys/kernel/random/boot_id"),
        "system:kernel_release": platform.release(),
        "system:virtualization": run("systemd-detect-virt", ok_codes=(0, 1)).strip() or "none",  # 1: "none"
        "system:pid1": read("/proc/1/cmdline").replace("\0", " ").strip(),
        "system:memtotal": meminfo.get("MemTotal", "").strip(),
        "system:cpus": str(os.cpu_count()),
        "system:addresses": " ".join(addresses),
        "system:os": read("/etc/debian_version"),
    }


def boot_seconds() -> float | None:
    """Kernel start (VM) or systemd start (container) to the end of boot, from systemd's own clock."""
    show = run(
        "systemctl",
        "show",
        "-p",
        "KernelTimestampMonotonic",
        "-p",
        "UserspaceTimestampMonotonic",
        "-p",
        "FinishTimestampMonotonic",
        "-p",
        "KernelTimestamp",
    )
    values = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
    try:
        finish = int(values["FinishTimestampMonotonic"])
        start = int(
            values["KernelTimestampMonotonic"]
            if values.get("KernelTimestamp")
            else values["UserspaceTimestampMonotonic"]
        )
    except (KeyError, ValueError):
        return None
    return round((finish - start) / 1e6, 2) if finish > start else None


def cgroup_files(controller: str, v1_name: str, v2_name: str) -> list[str]:
    """The values of a cgroup setting for this process's group and every group above it.

    Limits are inherited, so the tightest one anywhere up the hierarchy is the one
    that applies. Handles cgroup v2 (unified) and v1 (one hierarchy per controller).
    """
    values = []
    unified = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    for line in read("/proc/self/cgroup").splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and unified:
            base, name = Path("/sys/fs/cgroup"), v2_name
        elif controller in controllers.split(","):
            base, name = Path("/sys/fs/cgroup") / controllers, v1_name
        else:
            continue
        for group in [Path(path), *Path(path).parents]:
            value = read(str(base / group.relative_to("/") / name))
            if value:
                values.append(value)
    return values


def memory_limit() -> int | None:
    limits = [int(v) for v in cgroup_files("memory", "memory.limit_in_bytes", "memory.max") if v.isdigit()]
    tightest = min(limits, default=None)
    return tightest if tightest is not None and tightest < 2**60 else None  # v1 writes "no limit" as ~2**63


def cpu_limit() -> float | None:
    quotas = []
    for value in cgroup_files("cpu", "cpu.cfs_quota_us", "cpu.max"):
        quota, _, period = value.partition(" ")  # v2: "QUOTA PERIOD"; v1: the quota alone, period 100 ms
        if quota.isdigit() and int(quota) > 0:
            quotas.append(int(quota) / int(period or 100000))
    return round(min(quotas), 2) if quotas else None


def facts() -> dict[str, object]:
    """Measured inside the machine, for `labtool compare`."""
    meminfo = dict(line.split(":", 1) for line in read("/proc/meminfo").splitlines() if ":" in line)
    return {
        "boot_seconds": boot_seconds(),
        "processes": sum(1 for entry in os.listdir("/proc") if entry.isdigit()),
        "memtotal_bytes": int(meminfo.get("MemTotal", "0 kB").split()[0]) * 1024,
        "memory_limit_bytes": memory_limit(),
        "cpus": os.cpu_count(),
        "cpu_limit": cpu_limit(),
    }


def collect(request: dict[str, Any]) -> dict[str, str]:
    """The machine's items for this request."""
    items: dict[str, str] = {}
    if request.get("system_only"):  # `labtool compare` needs only these and the facts: skip the rest of the work
        items.update(system())
    else:
        for part in (packages, conffiles, dpkg_modified, services, accounts, system):
            items.update(part())
        # The course's app, if it has one and the course says where it answers.
        if request.get("fingerprint_url"):
            items.update(app_fingerprint(request["fingerprint_url"]))
        if request.get("page_url"):
            items.update(app_page(request["page_url"], request.get("page_ignore_id")))
    items.update({f"file:{path}": describe(path) for path in request.get("files") or []})
    return items


def explain(request: dict[str, Any]) -> dict[str, Any]:
    """What verify shows beside a drifted item: each service's state and last journal lines, each file's text."""
    units = {}
    for unit in request.get("services") or []:
        shown = run("systemctl", "show", unit, "-p", UNIT_PROPERTIES, ok_codes=(0, 1))
        journal = run("journalctl", "-u", unit, "-n", str(JOURNAL_LINES), "-o", "cat", "--no-pager", ok_codes=(0, 1))
        units[unit] = {"show": shown, "journal": journal.splitlines()[-JOURNAL_LINES:]}
    return {"units": units, "files": {path: file_text(path) for path in request.get("files") or []}}


UNIT_PROPERTIES = "LoadState,ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,ConditionResult,UnitFileState"
JOURNAL_LINES = 8
MAX_TEXT = 64 * 1024


def file_text(path: str) -> dict[str, str]:
    """A file's text to diff, unless it may hold a secret (not readable by all) or is not text."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return {"state": "not a regular file"}
        if not info.st_mode & stat.S_IROTH:
            return {"state": "secret"}
        data = Path(path).read_bytes()[:MAX_TEXT]
        return {"state": "text", "text": data.decode()}
    except UnicodeDecodeError:
        return {"state": "binary"}
    except OSError:
        return {"state": "absent"}


def main() -> None:
    request = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    if request.get("prime"):  # the image build: record every packaged file's digest, so no VM hashes them again
        dpkg_modified()
        json.dump({}, sys.stdout)
        return
    if request.get("explain"):
        json.dump(explain(request["explain"]), sys.stdout)
        return
    output: dict[str, Any] = {"items": collect(request), "facts": facts()}
    if not request.get("system_only"):
        sandbox_items, reasons = sandbox()
        output["items"].update(sandbox_items)
        output["expected"] = reasons
        output["network"] = network()
    json.dump(output, sys.stdout)


if __name__ == "__main__":  # also when piped to `python3 -`
    main()
