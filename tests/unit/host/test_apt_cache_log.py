"""Reading apt-cacher-ng's transfer log: bytes from the mirror vs from the cache, per client.

two-containers.log was captured on this project's host: two containers of a room's network
(one after the other, both 10.213.226.2) each ran `apt-get update && apt-get install -y
--download-only hello` through the cache.
"""

from pathlib import Path

from labtool.host import apt_cache_log
from labtool.host.apt_cache_log import FETCHED, SERVED, Traffic, Transfer

FIXTURE = Path(__file__).parents[1] / "fixtures" / "apt-cacher" / "two-containers.log"
FIRST_RUN_LINES = 7  # the first container's lines; the second's follow


def test_each_line_is_a_transfer_with_direction_size_client_and_file() -> None:
    transfers = apt_cache_log.parse(FIXTURE.read_text())
    assert len(transfers) == 12
    assert transfers[0] == Transfer(1795863821, FETCHED, 151287, "10.213.226.2", "debrep/dists/bookworm/InRelease")
    assert transfers[0].release_file
    assert not transfers[2].release_file  # a by-hash package list
    assert transfers[-1].direction == SERVED


def test_the_first_machine_fetches_everything_and_the_second_only_rechecks_the_release_file() -> None:
    lines = FIXTURE.read_text().splitlines(keepends=True)
    first = apt_cache_log.summarize(apt_cache_log.parse("".join(lines[:FIRST_RUN_LINES])))
    second_transfers = apt_cache_log.parse("".join(lines[FIRST_RUN_LINES:]))
    second = apt_cache_log.summarize(second_transfers)
    # The first: InRelease, two package lists fetched; hello's .deb was already cached by an earlier run.
    assert first == Traffic(
        fetched_bytes=151287 + 8790638 + 6107546,
        release_bytes=151287,
        served_bytes=151293 + 8790703 + 6107603 + 53313,
        hits=1,
        misses=3,
    )
    assert first.new_bytes == 8790638 + 6107546
    # The second: every package list and package from the cache; only InRelease is fetched again.
    assert second.new_bytes == 0
    assert second.release_bytes == second.fetched_bytes == 151287
    assert (second.hits, second.misses) == (3, 1)
    assert second.hit_ratio > 0.98


def test_a_file_fetched_once_for_two_requests_is_one_miss_and_one_hit() -> None:
    text = (
        "10|I|1000|10.213.1.2|debrep/pool/main/h/hello/hello.deb\n"
        "10|O|1010|10.213.1.2|debrep/pool/main/h/hello/hello.deb\n"
        "11|O|1010|10.214.1.5|debrep/pool/main/h/hello/hello.deb\n"
    )
    traffic = apt_cache_log.by_client(apt_cache_log.parse(text))
    assert traffic["10.213.1.2"] == Traffic(1000, 0, 1010, hits=0, misses=1)
    assert traffic["10.214.1.5"] == Traffic(0, 0, 1010, hits=1, misses=0)


def test_only_the_named_clients_count() -> None:
    transfers = apt_cache_log.parse(FIXTURE.read_text())
    assert apt_cache_log.summarize(transfers, {"10.214.226.9"}) == Traffic()
    assert apt_cache_log.summarize(transfers, {"10.213.226.2"}) == apt_cache_log.summarize(transfers)


def test_lines_of_another_shape_are_skipped() -> None:
    text = "garbage\n1|X|5|c|p\nx|I|5|c|p\n1|I|five|c|p\n12|O|7|10.0.0.1|a/b|with|bars\n99|I|3"
    assert apt_cache_log.parse(text) == [Transfer(12, SERVED, 7, "10.0.0.1", "a/b|with|bars")]


def test_reading_from_a_position_returns_only_what_came_after(tmp_path: Path) -> None:
    log = tmp_path / "apt-cacher.log"
    assert apt_cache_log.position(log) == 0 and apt_cache_log.read(log) == []
    log.write_text("1|I|10|c|a.deb\n1|O|11|c|a.deb\n")
    mark = apt_cache_log.position(log)
    with log.open("a") as handle:
        handle.write("2|O|11|d|a.deb\n")
    assert apt_cache_log.read(log, since=mark) == [Transfer(2, SERVED, 11, "d", "a.deb")]
    assert len(apt_cache_log.read(log)) == 3


def test_a_rotated_log_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "apt-cacher.log"
    log.write_text("3|O|11|d|a.deb\n")
    assert apt_cache_log.read(log, since=10_000) == [Transfer(3, SERVED, 11, "d", "a.deb")]


def test_nothing_served_is_a_zero_hit_ratio_and_json_names_every_figure() -> None:
    assert Traffic().hit_ratio == 0.0
    assert Traffic(100, 40, 400, 3, 1).to_json() == {
        "fetched_bytes": 100,
        "release_bytes": 40,
        "new_bytes": 60,
        "served_bytes": 400,
        "hits": 3,
        "misses": 1,
        "hit_ratio": 0.75,
    }
