"""Console identity: a key and self-signed certificate, the console ID derived
from it, and TLS contexts.

A console's ID is the SHA-256 fingerprint of its certificate, written in
base32 in groups of four (e.g. `K7QF-3MZD-...`) so that two people can read
it aloud to each other and compare. The key and certificate live beside the
database as `PATH.key` (readable only by its owner) and `PATH.crt`, made on
first use.

Authentication (see docs/PROTOCOL.md): every connection is TLS. The client
pins the server's certificate to a console ID on its trust list; the server
then authenticates the client inside that channel: the client presents its
certificate and signs the server's fresh nonce together with both console
IDs. Python's ssl module cannot accept a self-signed client certificate that
is trusted by fingerprint alone (it has no verification callback), so the
client's proof of key possession is carried in the protocol instead of the
TLS handshake; it binds to the same keys and certificates.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

AUTH_CONTEXT = b"crisis-console auth v1\n"


class IdentityError(Exception):
    """A key, certificate or console ID is missing, unreadable or malformed."""


def fingerprint(der: bytes) -> str:
    """The console ID of a DER certificate."""
    digest = hashlib.sha256(der).digest()
    text = base64.b32encode(digest).decode().rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalize_id(raw: str) -> str:
    """A console ID as typed (any case, with or without dashes or spaces)
    in its canonical form, or IdentityError."""
    text = re.sub(r"[\s\-:]", "", str(raw)).upper()
    if not re.fullmatch(r"[A-Z2-7]{52}", text):
        raise IdentityError(
            f"{raw!r} is not a console ID (52 letters and digits, e.g. as printed by `crisis-console id`)"
        )
    return "-".join(text[i : i + 4] for i in range(0, 52, 4))


def short_id(console_id: str) -> str:
    """The first three groups, for lists and logs."""
    return console_id[:14]


@dataclass(frozen=True)
class Identity:
    key_path: Path
    cert_path: Path
    key: ec.EllipticCurvePrivateKey
    cert_der: bytes

    @property
    def console_id(self) -> str:
        return fingerprint(self.cert_der)

    def sign(self, nonce: bytes, server_id: str, client_id: str) -> bytes:
        return self.key.sign(_auth_payload(nonce, server_id, client_id), ec.ECDSA(hashes.SHA256()))

    def rehearse(self) -> None:
        """Sign a proof and verify it, as connections do, before the first
        one: cryptography loads part of itself from disk on first use, and
        a listening console under a flood of connections may have used
        every file it may open by the time a console says hello (its
        hello then failed with "Too many open files")."""
        nonce, me = os.urandom(32), self.console_id
        verify_client(self.cert_der, self.sign(nonce, me, me), nonce, me)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_path, self.key_path)
        # Clients authenticate inside the channel (module docstring).
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # The server's certificate is self-signed: it is checked against the
        # trust list by fingerprint right after the handshake, not by a CA.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx


def _auth_payload(nonce: bytes, server_id: str, client_id: str) -> bytes:
    return AUTH_CONTEXT + nonce + b"\n" + server_id.encode() + b"\n" + client_id.encode()


def verify_client(cert_der: bytes, signature: bytes, nonce: bytes, server_id: str) -> str:
    """The console ID of a client that proved it holds the key of `cert_der`
    for this nonce and server; IdentityError otherwise."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        public = cert.public_key()
    except (ValueError, TypeError) as exc:
        raise IdentityError(f"the certificate is unreadable ({exc})") from None
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise IdentityError("the certificate's key is not an elliptic-curve key")
    client_id = fingerprint(cert_der)
    try:
        public.verify(signature, _auth_payload(nonce, server_id, client_id), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise IdentityError("the signature does not match the certificate") from None
    return client_id


def paths_for(db_path: Path) -> tuple[Path, Path]:
    return Path(str(db_path) + ".key"), Path(str(db_path) + ".crt")


def load_or_create(db_path: str | os.PathLike, *, name: str = "crisis-console") -> Identity:
    """This database's console identity, made on first use."""
    key_path, cert_path = paths_for(Path(db_path))
    if key_path.exists() != cert_path.exists():
        missing = cert_path if key_path.exists() else key_path
        raise IdentityError(f"{missing} is missing; restore it, or remove both files to make a new identity")
    if not key_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key_pem)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise IdentityError(f"cannot read this console's key or certificate beside {db_path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.public_key() != key.public_key():
        raise IdentityError(f"{cert_path} does not belong to {key_path}")
    return Identity(key_path, cert_path, key, cert.public_bytes(serialization.Encoding.DER))
