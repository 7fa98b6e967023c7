"""The server's certificate: one the instructor gives, or one labtool makes for the address it serves on.

A made certificate is self-signed, for that address only, and kept 0600 in LABTOOL_HOME
with its key; the browser asks once to trust it. A school's own certificate is better:
`labtool serve --cert FILE --key FILE`.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from labtool.errors import LabtoolError
from labtool.state import PRIVATE, atomic_write

VALID_DAYS = 365


def made_certificate(directory: Path, address: str) -> tuple[Path, Path]:
    """The certificate and key labtool made for `address`, made now when missing or for another address."""
    cert, key = directory / f"cert-{address}.pem", directory / f"key-{address}.pem"
    if cert.is_file() and key.is_file() and not _expiring(cert):
        return cert, key
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"labtool serve {address}")])
    now = datetime.datetime.now(datetime.UTC)
    alternative: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(address))]
    if ipaddress.ip_address(address).is_loopback:
        alternative.append(x509.DNSName("localhost"))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    key_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    atomic_write(key, key_pem.decode(), mode=PRIVATE)
    atomic_write(cert, certificate.public_bytes(serialization.Encoding.PEM).decode(), mode=PRIVATE)
    return cert, key


def _expiring(cert: Path) -> bool:
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    return loaded.not_valid_after_utc < datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=7)


def context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context of TLS 1.2 and newer with the certificate; a readable error naming a bad file."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        tls.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise LabtoolError(
            f"cannot use the certificate {cert} with the key {key}: {getattr(exc, 'strerror', None) or exc}",
            "give a PEM certificate and its unencrypted PEM key (--cert FILE --key FILE), or leave both out and "
            "labtool makes one",
        ) from exc
    return tls
