import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from labtool.errors import MirrorUnreachableError
from labtool.images import mirror

DEB822 = """\
Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example.org/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main contrib
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_deb822_source_for_the_suite_is_found(tmp_path: Path) -> None:
    sources = write(tmp_path, "debian.sources", DEB822)
    assert mirror.host_mirror("bookworm", (sources,)) == "http://mirror.example.org/debian"


def test_disabled_deb822_stanza_is_skipped(tmp_path: Path) -> None:
    text = "Types: deb\nURIs: http://off.example.org/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n"
    assert mirror.host_mirror("bookworm", (write(tmp_path, "x.sources", text),)) is None


def test_one_line_source_with_options_is_found(tmp_path: Path) -> None:
    text = (
        "# comment\n"
        "deb-src http://a.example.org/debian bookworm main\n"
        "deb [arch=amd64] http://b.example.org/debian bookworm main\n"
    )
    assert mirror.host_mirror("bookworm", (write(tmp_path, "sources.list", text),)) == "http://b.example.org/debian"


def test_directory_of_sources_is_read_and_other_suites_ignored(tmp_path: Path) -> None:
    directory = tmp_path / "sources.list.d"
    directory.mkdir()
    write(directory, "old.list", "deb http://old.example.org/debian bullseye main\n")
    write(directory, "ignored.txt", "deb http://x.example.org/debian bookworm main\n")
    assert mirror.host_mirror("bookworm", (directory,)) is None
    write(directory, "new.list", "deb http://new.example.org/debian bookworm main\n")
    assert mirror.host_mirror("bookworm", (directory,)) == "http://new.example.org/debian"


@pytest.fixture
def local_mirror(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "dists/bookworm").mkdir(parents=True)
    (tmp_path / "dists/bookworm/Release").write_text("Suite: stable\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_reachable_mirror_passes(local_mirror: str) -> None:
    mirror.check_reachable(local_mirror, "bookworm")


def test_mirror_without_the_suite_is_one_clear_error(local_mirror: str) -> None:
    with pytest.raises(MirrorUnreachableError) as caught:
        mirror.check_reachable(local_mirror, "trixie")
    assert caught.value.message.startswith(f"the Debian mirror {local_mirror} cannot be reached")
    assert "\n" not in caught.value.message
    assert "LABTOOL_DEBIAN_MIRROR" in caught.value.hint


def test_closed_port_is_one_clear_error() -> None:
    with pytest.raises(MirrorUnreachableError, match="cannot be reached"):
        mirror.check_reachable("http://127.0.0.1:9", "bookworm", timeout=5)
