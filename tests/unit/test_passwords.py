"""Students' passwords: generated with enough entropy, hashed as glibc's SHA-512 crypt, verified."""

from __future__ import annotations

import shutil
import subprocess
import warnings

import pytest

from labtool import passwords

# The specification's own vectors (Drepper, "Unix crypt using SHA-256 and SHA-512"), default and explicit rounds.
SPEC_VECTORS = [
    (
        "Hello world!",
        "saltstring",
        None,
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
    ),
    (
        "Hello world!",
        "saltstringsaltstring",
        10000,
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
    ),
    (
        "This is just a test",
        "toolongsaltstring",
        5000,
        "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
    ),
    (
        "a very much longer text to encrypt.  This one even stretches over morethan one line.",
        "anotherlongsaltstring",
        1400,
        "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
    ),
    (
        "we have a short salt string but not a short password",
        "short",
        77777,
        "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0",
    ),
    (
        "the minimum number is still observed",
        "roundstoolow",
        10,
        "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.",
    ),
]


@pytest.mark.parametrize(("password", "salt", "rounds", "expected"), SPEC_VECTORS)
def test_sha512_crypt_matches_the_specifications_vectors(
    password: str, salt: str, rounds: int | None, expected: str
) -> None:
    assert passwords.sha512_crypt(password, salt, rounds) == expected
    assert passwords.verify(password, expected)


def test_hashes_match_what_the_system_computes_for_the_same_salt() -> None:
    """glibc through Python's crypt module where it still exists, else OpenSSL's `passwd -6`."""
    cases = [("", "abc"), ("é€ unicode ✓", "./09AZaz"), ("x" * 200, "s" * 16), (passwords.generate(), "abcdefgh")]
    for password, salt in cases:
        assert passwords.sha512_crypt(password, salt) == _system_crypt(password, salt), (password, salt)


def _system_crypt(password: str, salt: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            crypt = None  # type: ignore[assignment]
    if crypt is not None:
        return str(crypt.crypt(password, f"$6${salt}"))
    if shutil.which("openssl") is None:
        pytest.skip("neither Python's crypt module nor openssl is here to compare with")
    result = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=password, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_generated_passwords_are_readable_and_never_repeat() -> None:
    made = {passwords.generate() for _ in range(200)}
    assert len(made) == 200
    for password in made:
        groups = password.split("-")
        assert [len(g) for g in groups] == [passwords.GROUP_LENGTH] * passwords.GROUPS
        assert set("".join(groups)) <= set(passwords.ALPHABET)
    assert not set("01ilo") & set(passwords.ALPHABET), "characters that read alike on paper"
    # 16 characters of a 31-letter alphabet: more than 78 bits.
    assert passwords.GROUPS * passwords.GROUP_LENGTH * 4.95 > 78


def test_a_hash_verifies_its_password_only_and_each_hash_has_its_own_salt() -> None:
    password = passwords.generate()
    first, second = passwords.hash_password(password), passwords.hash_password(password)
    assert first != second and first.startswith("$6$") and passwords.is_hash(first)
    assert password not in first
    assert passwords.verify(password, first) and passwords.verify(password, second)
    assert not passwords.verify(password + "x", first)
    assert not passwords.verify(password.upper(), first)
    assert not passwords.verify(password, "!")
    assert not passwords.verify(password, password)
