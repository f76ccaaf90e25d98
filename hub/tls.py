"""The hub's HTTPS certificate: a local certificate authority made once, and a server certificate it signs.

Azure's tools (the CLI, azure-identity, Terraform) speak only https, and refuse a certificate they
cannot verify. So on first start the hub makes its own certificate authority under DATA_DIR/tls/
(ca.pem, with its key ca-key.pem readable by its owner only), kept for every later start: trusting it
once (REQUESTS_CA_BUNDLE, the browser's authorities) is enough. The server certificate it signs names
127.0.0.1, localhost, ::1 and HUB_HOSTNAMES; it is issued again when those names change or it is
within RENEW_BEFORE of its end. A deployment with its own certificate (TLS_CERT_FILE, TLS_KEY_FILE)
makes no authority at all.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
import re
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ALWAYS_NAMED = ("127.0.0.1", "localhost", "::1")
CA_LIFETIME = datetime.timedelta(days=3650)
# Apple's platforms refuse server certificates valid for more than 825 days, even from a local authority.
SERVER_LIFETIME = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=30)
# Clocks of the machines that check the certificate may run a little behind this one's.
BACKDATE = datetime.timedelta(hours=1)
CA_NAME = "Migrate Hub local certificate authority"
# Clients check the subject alternative names, never the common name.
SERVER_NAME = "Migrate Hub"
# A DNS name as a certificate may carry it: labels of letters, digits and hyphens, a leading wildcard label.
DNS_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


class TlsSetupError(Exception):
    """A certificate setting that cannot work; the message says which and what to do."""


@dataclass(frozen=True)
class ServerCertificate:
    cert_path: Path
    key_path: Path
    # The authority to trust: None when the deployment brought its own certificate.
    ca_path: Path | None


def hostnames(raw: str) -> list[str]:
    """HUB_HOSTNAMES (comma-separated) as the names to certify, after the ones always named."""
    names = list(ALWAYS_NAMED)
    for part in raw.split(","):
        name = part.strip().lower().removeprefix("[").removesuffix("]")
        if not name:
            continue
        try:
            name = str(ipaddress.ip_address(name))
        except ValueError:
            if not DNS_NAME.match(name.rstrip(".")):
                raise TlsSetupError(
                    f"HUB_HOSTNAMES: {part.strip()!r} is neither a host name nor an IP address. "
                    "List names separated by commas, e.g. HUB_HOSTNAMES=hub.contoso.test,10.0.0.5"
                ) from None
            name = name.rstrip(".")
        if name not in names:
            names.append(name)
    return names


def configured_certificate(*, tls_dir: Path, names: list[str], cert_file: str, key_file: str) -> ServerCertificate:
    """The deployment's own certificate when TLS_CERT_FILE and TLS_KEY_FILE are set (checked to load),
    else the local authority's, made or renewed as needed."""
    if bool(cert_file) != bool(key_file):
        raise TlsSetupError("Set both TLS_CERT_FILE and TLS_KEY_FILE (the certificate chain and its key), or neither.")
    if cert_file:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as error:
            raise TlsSetupError(
                f"TLS_CERT_FILE {cert_file} and TLS_KEY_FILE {key_file} cannot be used: {error}. They must be "
                "readable PEM files, the certificate (with its chain) and its unencrypted private key."
            ) from error
        return ServerCertificate(Path(cert_file), Path(key_file), None)
    return local_certificate(tls_dir, names)


def authority_to_trust(tls_dir: Path, cert_file: str) -> str | None:
    """The PEM of the local authority a client of the hub must trust: None when the deployment serves
    its own certificate (TLS_CERT_FILE; clients trust its issuer already) or none has been made."""
    if cert_file:
        return None
    try:
        return (tls_dir / "ca.pem").read_text()
    except FileNotFoundError:
        return None


def local_certificate(tls_dir: Path, names: list[str], *, now: datetime.datetime | None = None) -> ServerCertificate:
    """The local authority's server certificate for `names`, making the authority the first time and the
    certificate whenever the one on disk no longer fits. Processes sharing tls_dir take turns."""
    now = now or datetime.datetime.now(datetime.UTC)
    tls_dir.mkdir(parents=True, exist_ok=True)
    paths = ServerCertificate(tls_dir / "server.pem", tls_dir / "server-key.pem", tls_dir / "ca.pem")
    with _locked(tls_dir / ".lock"):
        ca_cert, ca_key = _certificate_authority(tls_dir, now)
        if not _fits(paths, ca_cert, names, now):
            key = _new_key()
            _write(paths.key_path, _key_pem(key), private=True)
            _write(
                paths.cert_path, _server_cert(key, ca_cert, ca_key, names, now).public_bytes(serialization.Encoding.PEM)
            )
    return paths


def _certificate_authority(tls_dir: Path, now: datetime.datetime):
    cert_path, key_path = tls_dir / "ca.pem", tls_dir / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        try:
            return (
                x509.load_pem_x509_certificate(cert_path.read_bytes()),
                serialization.load_pem_private_key(key_path.read_bytes(), password=None),
            )
        except ValueError as error:
            raise TlsSetupError(
                f"The local certificate authority in {tls_dir} cannot be read ({error}). Move ca.pem and "
                "ca-key.pem away to have a new one made (and trust the new ca.pem instead)."
            ) from error
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage("key_cert_sign", "crl_sign"),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    # The key first: a ca.pem without its key beside it would be made again next start.
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _key_usage(*allowed: str) -> x509.KeyUsage:
    """KeyUsage that allows only the uses named (KeyUsage's keyword names)."""
    uses = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement")
    uses += ("key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{use: use in allowed for use in uses})


def _fits(paths: ServerCertificate, ca_cert, names: list[str], now: datetime.datetime) -> bool:
    """Whether the server certificate on disk is this authority's, for exactly `names`, not near its end,
    and its key the one beside it."""
    try:
        cert = x509.load_pem_x509_certificate(paths.cert_path.read_bytes())
        key = serialization.load_pem_private_key(paths.key_path.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        certified = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    if cert.public_key() != key.public_key():
        return False
    named = {str(n) for n in certified.get_values_for_type(x509.IPAddress)}
    named |= set(certified.get_values_for_type(x509.DNSName))
    return named == set(names) and cert.not_valid_after_utc - now > RENEW_BEFORE


def _server_cert(key, ca_cert, ca_key, names: list[str], now: datetime.datetime) -> x509.Certificate:
    alternatives = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + SERVER_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage("digital_signature", "key_encipherment"),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _new_key() -> rsa.RSAPrivateKey:
    # RSA rather than an elliptic curve: every TLS client the hub meets accepts it.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, content: bytes, *, private: bool = False) -> None:
    """Write whole or not at all (a process starting meanwhile reads the old file or the new one); a
    private file is created readable by its owner only, never briefly readable by others."""
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(descriptor, 0o600 if private else 0o644)  # a stale draft keeps its old mode
        file.write(content)
    os.replace(draft, path)


@contextmanager
def _locked(path: Path):
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
