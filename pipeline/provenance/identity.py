"""Who signs: the user's key and certificate (settings `c2pa_key`/`c2pa_cert`), or a local CA and a leaf
certificate newsreel makes on first use in the user data dir (`<user data>/newsreel/c2pa/`, private keys mode
0600), never in the output or the cache. A local certificate is trusted on the machine that made it (its CA is a
trust anchor there) and proves elsewhere only that the file is unchanged since it was signed, not who signed it.
cryptography is imported only inside the functions that use it.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import NewsreelError

ALGS = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


@dataclass(frozen=True)
class SigningIdentity:
    key_pem: bytes
    chain_pem: bytes  # the signing certificate first, then its CA chain
    alg: str  # es256 | es384 | es512 | ps256 | ed25519
    source: Literal["local", "configured"]
    where: Path  # the certificate file


def key_dir() -> Path:
    """Where newsreel keeps its own signing CA and key: the user data dir, never the output or the cache."""
    import platformdirs

    return platformdirs.user_data_path("newsreel") / "c2pa"


def signing_identity(key: Path | None = None, cert: Path | None = None, *, create: bool = True) -> SigningIdentity:
    """The user's key and certificate chain when both are given, else newsreel's local one (made on first use)."""
    if (key is None) != (cert is None):
        raise NewsreelError(
            "a C2PA signing key needs its certificate and the other way round",
            "set both c2pa_key and c2pa_cert (PEM files), or neither to use newsreel's local signing key",
        )
    if key is not None and cert is not None:
        return _configured_identity(Path(key).expanduser(), Path(cert).expanduser())
    return local_identity(create=create)


def _configured_identity(key: Path, cert: Path) -> SigningIdentity:
    try:
        key_pem, chain_pem = key.read_bytes(), cert.read_bytes()
    except OSError as exc:
        raise NewsreelError(f"cannot read the C2PA signing key or certificate: {exc.strerror}: {exc.filename}",
                            "check the c2pa_key and c2pa_cert paths") from None
    return SigningIdentity(key_pem, chain_pem, _alg_of(key_pem, key), "configured", cert)


def _alg_of(key_pem: bytes, where: Path) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        private = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise NewsreelError(f"{where} is not an unencrypted PEM private key ({exc})",
                            "give c2pa_key a PEM private key without a passphrase") from None
    if isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name in ALGS:
        return ALGS[private.curve.name]
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(private, rsa.RSAPrivateKey):
        return "ps256"
    raise NewsreelError(f"{where}: C2PA cannot sign with this kind of key",
                        "use an EC P-256/P-384/P-521, Ed25519 or RSA (2048+ bits) key")


def local_identity(*, create: bool = True) -> SigningIdentity:
    """newsreel's own signing key and certificate in `key_dir()`, made on first use (a CA and a leaf)."""
    folder = key_dir()
    info_file = folder / "signer.json"
    if not info_file.is_file():
        if not create:
            raise NewsreelError("newsreel has no local signing key yet", "make a video first")
        _make_local_ca(folder)
    try:
        info = json.loads(info_file.read_text())
        key_file = folder / "signer.key"
        if key_file.stat().st_mode & 0o077:
            key_file.chmod(0o600)  # a private key is for its owner alone
        return SigningIdentity(key_file.read_bytes(), (folder / "signer.pem").read_bytes(), info["alg"], "local",
                               folder / "signer.pem")
    except (OSError, ValueError, KeyError) as exc:
        raise NewsreelError(f"newsreel's local signing key in {folder} is unreadable ({exc})",
                            f"remove the folder {folder}: a new key is made on the next run") from None


def local_ca() -> Path | None:
    """The local CA certificate (a trust anchor on this machine), if newsreel has made one."""
    ca = key_dir() / "ca.pem"
    return ca if ca.is_file() else None


def _make_local_ca(folder: Path) -> None:
    """A self-signed CA and a leaf certificate for signing, P-256, valid 10 years; the leaf carries what C2PA asks
    of a signing certificate: keyUsage digitalSignature, extendedKeyUsage emailProtection, an authority key id.
    Written to a temp folder beside the final one and renamed into place, so two first runs cannot mix halves."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ident = secrets.token_hex(4)  # names the pair without naming the machine or the user
    now = datetime.datetime.now(datetime.UTC)
    until = now + datetime.timedelta(days=3650)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "newsreel (self-issued)")])

    def usage(sign: bool, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"newsreel local CA {ident}")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(True, True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(name(f"newsreel signer {ident}")).issuer_name(ca_name)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(True, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def private(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".c2pa-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(mode=0o700)
    try:
        files = {
            "ca.key": (private(ca_key), 0o600),
            "signer.key": (private(leaf_key), 0o600),
            "ca.pem": (pem(ca), 0o644),
            "signer.pem": (pem(leaf) + pem(ca), 0o644),
            "signer.json": (json.dumps({"alg": "es256", "id": ident, "created": now.isoformat(timespec="seconds"),
                                        "expires": until.isoformat(timespec="seconds")}).encode(), 0o644),
        }
        for fname, (data, mode) in files.items():
            fd = os.open(tmp / fname, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "signer.json").is_file():  # not a race lost to another first run
                raise
    except OSError as exc:
        raise NewsreelError(f"cannot create newsreel's signing key in {folder}: {exc.strerror}",
                            "make the user data folder writable") from None
    finally:
        if tmp.exists():
            for child in tmp.iterdir():
                child.unlink()
            tmp.rmdir()
