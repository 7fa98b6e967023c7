"""Students' passwords: generated once with `secrets`, kept only as SHA-512 crypt hashes.

The hash is what Ansible's `user` module writes to /etc/shadow (`$6$salt$...`, glibc's
SHA-512 crypt). labtool computes it itself, following Ulrich Drepper's public
specification, rather than through the `crypt` module (deprecated, gone in Python
3.13) or passlib (unmaintained since 2020): the algorithm is a few lines over
hashlib, and the tests check it against the specification's vectors and glibc's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""What a student reads off paper and types: lowercase, no 0/o, 1/l/i."""
GROUPS, GROUP_LENGTH = 4, 4
"""Four groups of four: 16 characters of a 31-letter alphabet, about 79 bits."""
ROUNDS = 5000
"""glibc's default for SHA-512 crypt (written without `rounds=`); the passwords' entropy is what protects them."""
SALT_LENGTH = 16

_B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_HASH = re.compile(r"\$6\$(?:rounds=(?P<rounds>\d+)\$)?(?P<salt>[^$]{0,16})\$(?P<digest>[./0-9A-Za-z]{86})")
_MIN_ROUNDS, _MAX_ROUNDS = 1000, 999_999_999


def generate() -> str:
    """A new password, e.g. `kq7m-x3ta-9hfw-p2ne`."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS))


def hash_password(password: str) -> str:
    """The SHA-512 crypt hash of password with a fresh random salt."""
    salt = "".join(secrets.choice(_B64) for _ in range(SALT_LENGTH))
    return sha512_crypt(password, salt)


def verify(password: str, hashed: str) -> bool:
    """Whether password is the one hashed (compared in constant time)."""
    match = _HASH.fullmatch(hashed)
    if match is None:
        return False
    rounds = int(match["rounds"]) if match["rounds"] else None
    return hmac.compare_digest(sha512_crypt(password, match["salt"], rounds).encode(), hashed.encode())


def is_hash(text: str) -> bool:
    return _HASH.fullmatch(text) is not None


def sha512_crypt(password: str, salt: str, rounds: int | None = None) -> str:
    """glibc's `crypt(password, "$6$[rounds=N$]salt")`. rounds None: the default, written without `rounds=`."""
    secret, salt_bytes = password.encode(), salt[:SALT_LENGTH].encode()
    count = ROUNDS if rounds is None else min(max(rounds, _MIN_ROUNDS), _MAX_ROUNDS)
    final = _rounds(secret, salt_bytes, count)
    prefix = "$6$" if rounds is None else f"$6$rounds={count}$"
    return f"{prefix}{salt_bytes.decode()}${_encode(final)}"


def _rounds(secret: bytes, salt: bytes, count: int) -> bytes:
    alternate = hashlib.sha512(secret + salt + secret).digest()
    digest_a = hashlib.sha512(secret + salt + _stretch(alternate, len(secret)))
    length = len(secret)
    while length:
        digest_a.update(alternate if length & 1 else secret)
        length >>= 1
    result = digest_a.digest()
    p_bytes = _stretch(hashlib.sha512(secret * len(secret)).digest(), len(secret))
    s_bytes = _stretch(hashlib.sha512(salt * (16 + result[0])).digest(), len(salt))
    for i in range(count):
        digest_c = hashlib.sha512(p_bytes if i & 1 else result)
        if i % 3:
            digest_c.update(s_bytes)
        if i % 7:
            digest_c.update(p_bytes)
        digest_c.update(result if i & 1 else p_bytes)
        result = digest_c.digest()
    return result


def _stretch(block: bytes, length: int) -> bytes:
    """block repeated, cut to length bytes."""
    return (block * (length // len(block) + 1))[:length]


def _encode(final: bytes) -> str:
    """The specification's byte order: triples (i, i+21, i+42) rotated by i mod 3, then the last byte."""
    out = []
    for i in range(21):
        triple = (i, i + 21, i + 42)
        first, second, third = triple[i % 3 :] + triple[: i % 3]
        out.append(_b64(final[first], final[second], final[third], 4))
    out.append(_b64(0, 0, final[63], 2))
    return "".join(out)


def _b64(high: int, middle: int, low: int, count: int) -> str:
    word = (high << 16) | (middle << 8) | low
    chars = []
    for _ in range(count):
        chars.append(_B64[word & 0x3F])
        word >>= 6
    return "".join(chars)
