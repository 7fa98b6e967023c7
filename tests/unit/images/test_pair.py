from pathlib import Path

from labtool.images import pair


def test_base_pair_is_named_after_its_key() -> None:
    images = pair.base("abc123")
    assert images.docker_ref == "labtool/debian12:abc123"
    assert images.box == "labtool/debian12-abc123"
    assert not images.baked


def test_baked_pairs_of_different_courses_or_base_images_never_share_a_name() -> None:
    one = pair.baked("base1", "course1")
    assert one.baked
    others = [pair.baked("base1", "course2"), pair.baked("base2", "course1")]
    assert len({one.docker_ref, *(o.docker_ref for o in others)}) == 3
    assert len({one.box, *(o.box for o in others)}) == 3
    assert pair.baked("base1", "course1") == one  # the same inputs: the same pair, so it is found again


def test_baked_key_covers_what_the_bake_does_to_the_tree(tmp_path: Path) -> None:
    script = tmp_path / "reset-identity.sh"
    script.write_text("rm -f /etc/machine-id\n")
    before = pair.baked_key("base", "course", tmp_path)
    script.write_text("rm -f /etc/machine-id /etc/ssh/ssh_host_*\n")
    assert pair.baked_key("base", "course", tmp_path) != before


def test_a_pair_describes_itself_for_the_plan() -> None:
    assert pair.baked("b", "c").description.startswith("baked images ")
    assert pair.base("k").to_json() == {
        "key": "k",
        "baked": False,
        "docker_image": "labtool/debian12:k",
        "box": "labtool/debian12-k",
    }
