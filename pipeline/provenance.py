"""Provenance anyone can check: a C2PA manifest signed into every video, a `provenance.json` sidecar, and `verify`.

Sealing (`seal`, called by the runner after every stage is done, as the very last step: any remux after signing
drops the manifest) signs the compose stage's MP4 straight from the cache into the run folder under a temp name,
reads the signed copy back, and renames it over `video.mp4`. The manifest (C2PA, written with `c2pa-python`) says:

- who made it: `claim_generator_info` newsreel/<version>;
- that it is AI-generated: a `c2pa.created` action with the IPTC digital source type `trainedAlgorithmicMedia`,
  then a `c2pa.edited` action for the compose step (motion, captions, graphics, the visible label, the encode);
- how: one assertion per stage (`org.newsreel.script`, `.image`, `.voice`, `.captions`, `.compose`) with the
  provider, its version and parameters, the model identity, the prompts and seeds, the cache key, and the sha256 of
  every file the stage exported; `org.newsreel.label` says whether the on-screen "AI-GENERATED" label is on,
  `org.newsreel.watermark` whether the frames carry the invisible video watermark.

The C2PA binding (`c2pa.hash.bmff`) hashes the MP4's boxes, so changing any media byte breaks the manifest. The
sidecar holds the same assertions plus the sha256 of the signed file, so the run folder can be checked too.

The signing key and certificate are the user's (`key`/`cert` arguments, from settings), or a local CA and a leaf
certificate newsreel makes on first use in the user data dir (`<user data>/newsreel/c2pa/`, private keys mode
0600), never in the output or the cache. A local certificate is trusted on the machine that made it (its CA is a
trust anchor there) and proves elsewhere only that the file is unchanged since it was signed, not who signed it.

`verify(path)` reads a file's manifest, checks the sidecar next to it and looks for the watermark, and returns a
`Verdict` with a status, an exit code and one-line summary; `format_verdict` renders it for people.
c2pa, cryptography and numpy are imported only inside the functions that use them.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from . import __version__
from .errors import NewsreelError

GENERATOR = "newsreel"
NS = "org.newsreel"  # prefix of our own assertion labels
SIDECAR = "provenance.json"
SIDECAR_FORMAT = "newsreel-provenance/1"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
C2PA_BMFF_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # the uuid box that holds a C2PA manifest
SCRIPT_TEMPLATES = ("script_prompt.j2", "script_continue.j2")  # the prompts the built-in script providers render
BUILTIN_SCRIPT_PROVIDERS = ("local", "openai")
# What a signed file must not change after signing: hard-binding hash failures.
CONTENT_CHANGED = ("assertion.bmffHash.mismatch", "assertion.dataHash.mismatch", "assertion.boxesHash.mismatch",
                   "assertion.collectionHash.mismatch")
NOT_TRUSTED = ("signingCredential.untrusted",)
NO_NETWORK = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
ALGS = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


# ---------------------------------------------------------------------------------------------------------------
# Keys and certificates.


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


# ---------------------------------------------------------------------------------------------------------------
# The manifest.


def _sha256_of(source: Path | bytes) -> str:
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    h = hashlib.sha256()
    with open(source, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stage_files(stage: str, artifact: Any) -> tuple[str, ...]:
    """The run-folder files a stage exported (its contract's `exports`), or the usual names without the artifact."""
    if artifact is not None:
        from .stages import STAGES

        if stage in STAGES:
            try:
                return tuple(STAGES[stage].exports(artifact))
            except Exception:  # noqa: BLE001, S110 - an artifact that cannot say: fall back to the usual names
                pass
    return {
        "script": ("script.json",),
        "image": ("image.png",),
        "voice": ("narration.wav",),
        "captions": ("captions.srt", "captions.vtt", "captions.ass"),
        "compose": ("video.mp4", "poster.jpg"),
    }.get(stage, ())


def label_state(record: dict[str, Any]) -> dict[str, Any]:
    """Whether the visible on-screen label is on, from the compose stage's parameters: a non-empty `label` is on;
    `label` set to null, "" or false (or `label_visible: false`) is off; no `label` parameter is unknown."""
    params = (record.get("stages", {}).get("compose") or {}).get("params") or {}
    if params.get("label_visible") is False:
        return {"visible": False, "text": None}
    if "label" not in params:
        return {"visible": None, "text": None, "note": "the compose provider does not report a visible label"}
    text = params.get("label")
    if isinstance(text, str) and text.strip():
        return {"visible": True, "text": text}
    return {"visible": False, "text": None}


def watermark_state(record: dict[str, Any]) -> dict[str, Any]:
    """Whether the compose stage marked the frames: its notes["watermark"] (the method name), or a `watermark`
    parameter."""
    compose = record.get("stages", {}).get("compose") or {}
    note = (compose.get("notes") or {}).get("watermark")
    param = (compose.get("params") or {}).get("watermark")
    if note:
        return {"embedded": True, "method": note if isinstance(note, str) else str(note), "payload": "newsreel"}
    if param is False:
        return {"embedded": False, "note": "turned off"}
    return {"embedded": False, "note": "the compose stage does not report marking the frames"}


def _templates_digest() -> dict[str, str]:
    from .assets import TEMPLATES_DIR

    out = {}
    for name in SCRIPT_TEMPLATES:
        path = TEMPLATES_DIR / name
        if path.is_file():
            out[name] = _sha256_of(path)
    return out


def stage_assertions(record: dict[str, Any], artifacts: dict[str, Any], hashes: dict[str, str]) -> list[dict]:
    """One `org.newsreel.<stage>` assertion per stage: what ran, with what, and the hashes of what it made."""
    out = []
    for stage, rec in record.get("stages", {}).items():
        art = artifacts.get(stage)
        data: dict[str, Any] = {
            "provider": rec.get("provider"),
            "provider_version": rec.get("version"),
            "params": rec.get("params", {}),
            "model": rec.get("identity") or None,
            "cache_key": rec.get("key"),
            "output_digest": rec.get("digest"),
            "files": {n: hashes[n] for n in _stage_files(stage, art) if n in hashes},
        }
        if stage == "script":
            data["headline"] = record.get("headline")
            if art is not None:
                data["written_by"] = getattr(art, "model", "") or None
                data["title"] = getattr(art, "title", None)
            if rec.get("provider") in BUILTIN_SCRIPT_PROVIDERS:
                data["prompt_templates_sha256"] = _templates_digest()
        elif stage == "image" and art is not None:
            data["images"] = [
                {"prompt": im.prompt, "seed": im.seed, "width": im.width, "height": im.height,
                 **({"notes": dict(im.notes)} if im.notes else {})}
                for im in getattr(art, "images", [])
            ]
            script = artifacts.get("script")
            if script is not None and getattr(script, "negative_prompt", ""):
                data["negative_prompt"] = script.negative_prompt
        elif stage == "voice":
            data["engine"] = rec.get("provider")
            data["voice"] = (getattr(art, "voice", "") or None) if art is not None else None
            if art is not None:
                data["seconds"] = round(float(getattr(art, "duration", 0.0)), 3)
        elif stage == "compose":
            data["visible_label"] = label_state(record)
            if art is not None:
                data["frame"] = {"width": art.width, "height": art.height, "fps": art.fps,
                                 "seconds": round(float(art.duration), 3)}
        out.append({"label": f"{NS}.{stage}", "data": data})
    return out


def build_manifest(record: dict[str, Any], artifacts: dict[str, Any], hashes: dict[str, str]) -> dict[str, Any]:
    """The C2PA manifest definition (c2pa-python's JSON form) for one run."""
    agent = {"name": GENERATOR, "version": __version__}
    label = label_state(record)
    shown = f"the visible label '{label['text']}'" if label.get("visible") else "no visible AI label"
    providers = ", ".join(f"{s} {r.get('provider')}" for s, r in record.get("stages", {}).items())
    actions = [
        {
            "action": "c2pa.created",
            "digitalSourceType": TRAINED,
            "softwareAgent": agent,
            "description": "Generated by newsreel from one headline: the script, background picture, voice and "
                           f"captions are machine-made ({providers}). Not real news footage.",
        },
        {
            "action": "c2pa.edited",
            "softwareAgent": agent,
            "description": f"Composed: motion over the background, captions, news graphics, {shown}, H.264/AAC encode.",
        },
    ]
    assertions = [
        {"label": "c2pa.actions.v2", "data": {"actions": actions}},
        *stage_assertions(record, artifacts, hashes),
        {"label": f"{NS}.label", "data": label},
        {"label": f"{NS}.watermark", "data": watermark_state(record)},
    ]
    return {
        "claim_generator_info": [agent],
        "title": record.get("headline") or "newsreel video",
        "format": "video/mp4",
        "assertions": assertions,
    }


# ---------------------------------------------------------------------------------------------------------------
# Sealing a run folder.


@dataclass
class Sealed:
    files: dict[str, Path | bytes]  # what the runner still has to export: the rest, plus provenance.json
    summary: dict[str, Any] = field(default_factory=dict)  # for run.json


def is_bmff(head: bytes) -> bool:
    """An ISO base media file (MP4, MOV, M4A) starts with an ftyp box (or, rarely, another top-level box)."""
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid")


def seal(
    out: Path,
    files: dict[str, Path | bytes],
    record: dict[str, Any],
    artifacts: dict[str, Any] | None = None,
    *,
    key: Path | None = None,
    cert: Path | None = None,
    cache_dir: Path | None = None,
) -> Sealed:
    """Sign the run's video into `out/video.mp4` (temp name, read back, renamed) and make `provenance.json`.

    `files` is the runner's export map (run-folder name -> cache file or bytes). Returns the map with the video
    taken out (it is in place, signed) and provenance.json added. A compose output that is not an MP4 (a test
    provider's) is left in the map unsigned, and the sidecar says so.
    """
    t0 = time.perf_counter()
    artifacts = artifacts or {}
    out = Path(out)
    rest = dict(files)
    hashes = {n: _sha256_of(src) for n, src in files.items() if n not in ("video.mp4", "run.json", SIDECAR)}
    video = rest.get("video.mp4")
    head = b""
    if video is not None:
        head = video[:16] if isinstance(video, bytes) else _head(video)
    manifest = build_manifest(record, artifacts, hashes)
    sidecar: dict[str, Any] = {
        "format": SIDECAR_FORMAT,
        "newsreel": __version__,
        "headline": record.get("headline"),
        "created": record.get("created"),
        "video": None,
        "c2pa": {"embedded": False},
        "label": label_state(record),
        "watermark": watermark_state(record),
        "cache_keys": {s: r.get("key") for s, r in record.get("stages", {}).items()},
        "files": hashes,
        "claim_generator": f"{GENERATOR}/{__version__}",
        "digital_source_type": TRAINED,
        "assertions": manifest["assertions"],
    }
    summary: dict[str, Any] = {"sidecar": SIDECAR}
    if video is not None and isinstance(video, Path) and is_bmff(head):
        identity = signing_identity(key, cert)
        _check_outside(identity.where, out, cache_dir)
        signed = _sign_into(out, video, manifest, identity)
        rest.pop("video.mp4")
        sidecar["video"] = {"file": "video.mp4", "sha256": signed["sha256"], "bytes": signed["bytes"],
                            "unsigned_sha256": _sha256_of(video)}
        sidecar["c2pa"] = {
            "embedded": True,
            "manifest": signed["manifest"],
            "signer": signed["signer"],
            "signing_key": identity.source,
            "validation": signed["state"],
        }
        summary.update(c2pa=True, manifest=signed["manifest"], signer=signed["signer"].get("common_name"),
                       signing_key=identity.source)
    elif video is not None:
        sidecar["video"] = {"file": "video.mp4", "sha256": _sha256_of(video)}
        sidecar["c2pa"] = {"embedded": False, "note": "the compose output is not an MP4: no manifest was signed"}
        summary.update(c2pa=False)
    rest[SIDECAR] = (json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n").encode()
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return Sealed(rest, summary)


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(16)
    except OSError:
        return b""


def _check_outside(where: Path, out: Path, cache_dir: Path | None) -> None:
    key = where.resolve().parent
    for folder, what in ((out, "output"), (cache_dir, "cache")):
        if folder is None:
            continue
        folder = Path(folder).resolve()
        if key == folder or folder in key.parents:
            raise NewsreelError(f"the C2PA signing key is inside the {what} folder {folder}",
                                f"keep signing keys out of the {what}: move them and point c2pa_key/c2pa_cert there")


def _sign_into(out: Path, source: Path, manifest: dict[str, Any], identity: SigningIdentity) -> dict[str, Any]:
    """Sign `source` into out/video.mp4 via a temp file in `out`; read the result back before renaming it."""
    try:
        import c2pa
    except ImportError:
        raise NewsreelError("the c2pa-python package is not installed: videos cannot be signed",
                            "pip install c2pa-python") from None

    tmp = out / f".video.mp4.{uuid.uuid4().hex[:8]}.sign"
    try:
        try:
            info = c2pa.C2paSignerInfo(identity.alg, identity.chain_pem, identity.key_pem, None)
            signer = c2pa.Signer.from_info(info)
            with c2pa.Builder(manifest) as builder, open(source, "rb") as src, open(tmp, "w+b") as dst:
                builder.sign(signer, "video/mp4", src, dst)
        except c2pa.C2paError as exc:
            if identity.source == "configured":
                raise NewsreelError(
                    f"C2PA signing with {identity.where} failed: {' '.join(str(exc).split())}",
                    "the certificate must be a leaf with keyUsage digitalSignature, extendedKeyUsage emailProtection "
                    "and an authority key identifier, listed first in the PEM, then its CA chain; or unset "
                    "c2pa_key/c2pa_cert to sign with newsreel's local key",
                ) from None
            raise NewsreelError(f"C2PA signing failed: {' '.join(str(exc).split())}",
                                f"remove {key_dir()} to make a new local signing key") from None
        # Read the signed copy back: a manifest that does not validate is never shipped.
        anchors = [identity.chain_pem.decode("ascii", "replace")]
        report = read_manifest(tmp, anchors)
        if report.error or report.content_changed or report.signature_failures:
            raise NewsreelError(f"the signed video does not validate: {report.error or report.failures}",
                                "report this as a bug, with the output of `newsreel doctor`")
        facts = {"sha256": _sha256_of(tmp), "bytes": tmp.stat().st_size, "manifest": report.label,
                 "signer": report.signer, "state": report.state}
        os.replace(tmp, out / "video.mp4")
        return facts
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------------
# Reading.


@dataclass
class ManifestReport:
    present: bool = False
    error: str = ""  # the reader raised: damaged manifest or asset
    label: str = ""
    state: str = ""  # c2pa validation state: Trusted | Valid | Invalid
    failures: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    signer: dict[str, Any] = field(default_factory=dict)
    successes: list[str] = field(default_factory=list)

    @property
    def content_changed(self) -> bool:
        return any(code in CONTENT_CHANGED for code in self.failures)

    @property
    def signature_failures(self) -> list[str]:
        return [c for c in self.failures if c not in CONTENT_CHANGED and c not in NOT_TRUSTED]

    @property
    def trusted(self) -> bool:
        """The signing certificate chains to a trust anchor (whatever else failed: a tampered file can have a
        trusted signer)."""
        return self.state == "Trusted" or "signingCredential.trusted" in self.successes


def read_manifest(path: Path, trust_anchors: list[str] | None = None) -> ManifestReport:
    """The active C2PA manifest of a file and its validation, without raising: damage becomes `error`."""
    try:
        import c2pa
    except ImportError:
        return ManifestReport(error="the c2pa-python package is not installed (pip install c2pa-python)")
    config: dict[str, Any] = dict(NO_NETWORK)
    if trust_anchors:
        config["trust"] = {"trust_anchors": "\n".join(trust_anchors)}
    try:
        context = c2pa.Context.from_dict(config)
        with open(path, "rb") as f:
            reader = c2pa.Reader.try_create(_mime(path), f, None, context)
            if reader is None:
                return ManifestReport(present=False)
            with reader:
                active = reader.get_active_manifest() or {}
                results = reader.get_validation_results() or {}
                state = reader.get_validation_state() or ""
                label = json.loads(reader.json()).get("active_manifest", "")
    except Exception as exc:  # noqa: BLE001 - c2pa raises on some damage: that is an invalid manifest
        return ManifestReport(present=True, error=" ".join(f"{type(exc).__name__.strip('_')}: {exc}".split())[:300])
    codes = results.get("activeManifest") or {}
    failures = [f.get("code", "") for f in codes.get("failure", [])]
    successes = [f.get("code", "") for f in codes.get("success", [])]
    return ManifestReport(True, "", label, state, failures, active, dict(active.get("signature_info") or {}), successes)


def _mime(path: Path) -> str:
    return {".mov": "video/quicktime", ".m4v": "video/mp4", ".m4a": "audio/mp4"}.get(path.suffix.lower(), "video/mp4")


# ---------------------------------------------------------------------------------------------------------------
# Verifying.

Status = Literal[
    "verified", "tampered", "invalid", "no-provenance", "other-tool", "truncated", "not-a-video", "missing"
]
EXIT_CODES: dict[str, int] = {"verified": 0, "tampered": 1, "invalid": 1, "no-provenance": 1, "other-tool": 1,
                              "truncated": 1, "not-a-video": 2, "missing": 2}


class ManifestCheck(BaseModel):
    present: bool
    readable: bool = True
    generator: str = ""  # "newsreel/0.1.0", or the other tool's name
    from_newsreel: bool = False
    signature_valid: bool = False
    content_matches: bool = False
    trusted: bool = False
    signed_by: str = ""
    issuer: str = ""
    algorithm: str = ""
    ai_generated: bool = False
    digital_source_type: str = ""
    actions: list[str] = []
    assertions: list[str] = []
    stages: dict[str, dict[str, Any]] = {}
    visible_label: dict[str, Any] | None = None
    failures: list[str] = []
    error: str = ""
    label: str = ""


class SidecarCheck(BaseModel):
    path: str
    readable: bool = True
    video_matches: bool | None = None  # the file's sha256 equals the sidecar's
    manifest_matches: bool | None = None  # the embedded manifest is the one the sidecar names
    files: dict[str, str] = {}  # other run-folder file -> ok | changed | missing
    problem: str = ""


class Verdict(BaseModel):
    path: str
    status: Status
    exit_code: int
    summary: str
    details: list[str] = []
    manifest: ManifestCheck | None = None
    sidecar: SidecarCheck | None = None
    watermark: dict[str, Any] | None = None


def verify(
    path: Path | str,
    *,
    watermark: bool = True,
    trust_anchors: list[Path] | None = None,
    max_frames: int = 12,
) -> Verdict:
    """Check a video's provenance: its C2PA manifest, the provenance.json beside it, and the invisible watermark.

    Never raises for a bad file: every kind of bad input is a Verdict of its own (status and exit code: verified 0;
    tampered, invalid, no-provenance, other-tool, truncated 1; not-a-video, missing 2). A run folder may be given
    for its video.mp4. `trust_anchors`: PEM files of CA certificates to trust besides this machine's newsreel CA.
    """
    path = Path(path)
    if path.is_dir() and (path / "video.mp4").is_file():
        path = path / "video.mp4"
    shown = str(path)
    if not path.exists():
        return _verdict(shown, "missing", f"No such file: {shown}.")
    if not path.is_file():
        return _verdict(shown, "not-a-video", f"Not a video: {shown} is a folder without a video.mp4.")
    try:
        with open(path, "rb") as f:
            head = f.read(16)
        size = path.stat().st_size
    except OSError as exc:
        return _verdict(shown, "missing", f"Cannot read {shown}: {exc.strerror}.")
    details: list[str] = []
    bmff = is_bmff(head)
    short = _truncated_by(path, size) if bmff else 0

    anchors, anchor_problems = _anchors(trust_anchors)
    details += anchor_problems
    report = read_manifest(path, anchors)
    if not bmff and report.error:
        report = ManifestReport()  # not an asset the C2PA reader knows: no manifest, and we say what it is below
    if not report.present and not short:
        kind = _what_is(path)
        if kind != "video":
            return _verdict(shown, "not-a-video", f"Not a video: {shown} is {kind}.")
    mcheck = _manifest_check(report) if report.present else None
    sidecar = _sidecar_check(path, report)
    wm = None
    if watermark:
        from .video_watermark import detect_video

        wm = detect_video(path, max_frames=max_frames).to_json()

    status, summary = _judge(report, mcheck, sidecar, wm, short)
    details += _describe(mcheck, sidecar, wm)
    return Verdict(path=shown, status=status, exit_code=EXIT_CODES[status], summary=summary, details=details,
                   manifest=mcheck, sidecar=sidecar, watermark=wm)


def _verdict(path: str, status: Status, summary: str) -> Verdict:
    return Verdict(path=path, status=status, exit_code=EXIT_CODES[status], summary=summary)


def _anchors(extra: list[Path] | None) -> tuple[list[str], list[str]]:
    anchors, problems = [], []
    ca = local_ca()
    if ca is not None:
        try:
            anchors.append(ca.read_text())
        except OSError:
            pass
    for p in extra or []:
        try:
            anchors.append(Path(p).read_text())
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"trust anchors {p}: unreadable ({exc}); not used")
    return anchors, problems


def _truncated_by(path: Path, size: int) -> int:
    """How many bytes the file lacks: the top-level box sizes run past its end by that much (0 when whole)."""
    pos = 0
    try:
        with open(path, "rb") as f:
            while pos < size:
                f.seek(pos)
                hdr = f.read(16)
                if len(hdr) < 8:
                    return 8 - len(hdr)
                box = int.from_bytes(hdr[:4], "big")
                if box == 1:
                    if len(hdr) < 16:
                        return 16 - len(hdr)
                    box = int.from_bytes(hdr[8:16], "big")
                elif box == 0:  # runs to the end of the file
                    return 0
                if box < 8:
                    return 0  # not a box structure we can judge; the reader will say what is wrong
                pos += box
    except OSError:
        return 0
    return max(0, pos - size)


def _what_is(path: Path) -> str:
    """'video', or a phrase saying what the file is instead."""
    from .media import FfmpegError, probe

    images = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "bmp_pipe", "tiff_pipe")
    try:
        info = probe(path)
    except (FfmpegError, OSError):
        return "not a media file ffmpeg can read"
    except NewsreelError as exc:
        return f"unreadable ({exc.one_line()})"
    if info.video is None:
        return "audio only" if info.audio is not None else "not a video"
    if any(info.format.startswith(f) for f in images) or not info.duration:
        return "a still image"
    return "video"


def _manifest_check(report: ManifestReport) -> ManifestCheck:
    if report.error:
        return ManifestCheck(present=True, readable=False, error=report.error)
    m = report.manifest
    gen = (m.get("claim_generator_info") or [{}])[0] if m.get("claim_generator_info") else {}
    if gen:
        generator = f"{gen.get('name', '')}/{gen.get('version', '')}".strip("/")
    else:
        generator = str(m.get("claim_generator", ""))
    actions, dst, stages, label = [], "", {}, None
    names = []
    for a in m.get("assertions") or []:
        names.append(a.get("label", ""))
        data = a.get("data") or {}
        if a.get("label", "").startswith("c2pa.actions"):
            for act in data.get("actions") or []:
                actions.append(act.get("action", ""))
                dst = dst or act.get("digitalSourceType", "")
        elif a.get("label") == f"{NS}.label":
            label = data
        elif a.get("label", "").startswith(NS + ".") and "provider" in data:
            stage = a["label"][len(NS) + 1:]
            made = stage in ("script", "image", "voice")  # the stages a model may have made
            keys = ("provider", "model", "written_by", "voice") if made else ("provider",)
            stages[stage] = {k: data[k] for k in keys if data.get(k)}
            if stage == "image" and data.get("images") and data["images"][0].get("seed") is not None:
                stages[stage]["seed"] = data["images"][0]["seed"]
    sig = report.signer
    return ManifestCheck(
        present=True,
        generator=generator,
        from_newsreel=gen.get("name") == GENERATOR,
        signature_valid=not report.signature_failures,
        content_matches=not report.content_changed and not report.signature_failures,
        trusted=report.trusted,
        signed_by=str(sig.get("common_name", "")),
        issuer=str(sig.get("issuer", "")),
        algorithm=str(sig.get("alg", "")),
        ai_generated=dst.rsplit("/", 1)[-1] in ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia",
                                                "algorithmicMedia", "compositeSynthetic"),
        digital_source_type=dst,
        actions=actions,
        assertions=names,
        stages=stages,
        visible_label=label,
        failures=report.failures,
        label=report.label,
    )


def _sidecar_check(path: Path, report: ManifestReport) -> SidecarCheck | None:
    side = path.parent / SIDECAR
    if not side.is_file():
        return None
    check = SidecarCheck(path=str(side))
    try:
        data = json.loads(side.read_text())
        video = data.get("video") or {}
        expected = video["sha256"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        check.readable = False
        check.problem = f"unreadable ({type(exc).__name__})"
        return check
    same_name = path.name == video.get("file", "video.mp4")
    check.video_matches = _sha256_of(path) == expected
    if not check.video_matches and not same_name:  # a sidecar about another file in the same folder
        check.video_matches = None
        check.problem = f"describes {video.get('file')}, not this file"
        return check
    named = (data.get("c2pa") or {}).get("manifest")
    if named and report.present and report.label:
        check.manifest_matches = named == report.label
    if same_name:
        for name, digest in (data.get("files") or {}).items():
            other = path.parent / name
            if not other.is_file():
                check.files[name] = "missing"
            else:
                check.files[name] = "ok" if _sha256_of(other) == digest else "changed"
    return check


def _judge(report: ManifestReport, m: ManifestCheck | None, sidecar: SidecarCheck | None,
           wm: dict[str, Any] | None, short: int) -> tuple[Status, str]:
    marked = bool(wm and wm.get("found"))
    wm_line = (f" The newsreel video watermark is present (score {wm['score']}), so it was made with newsreel."
               if marked else "")
    if short:
        return "truncated", (f"Truncated: the file ends {short} bytes before its last box does, so it is incomplete "
                             "and cannot match anything signed.")
    if m is None:
        if sidecar and sidecar.video_matches:
            return "no-provenance", ("No provenance: no C2PA manifest in this file; provenance.json beside it matches "
                                     "its hash but is unsigned." + wm_line)
        stripped = " Its C2PA manifest was stripped." if marked else ""
        return "no-provenance", "No provenance: this file carries no C2PA manifest." + stripped + wm_line
    if not m.readable:
        return "invalid", f"Invalid: the C2PA manifest is damaged and cannot be read ({m.error})." + wm_line
    if not m.from_newsreel:
        valid = "valid" if m.signature_valid and m.content_matches else "not valid"
        tool = m.generator or "an unknown tool"
        return "other-tool", f"Not made by newsreel: the C2PA manifest was written by {tool} (signature {valid})."
    if report.content_changed:
        return "tampered", ("Tampered: the video's content no longer matches its signed C2PA manifest "
                            f"({', '.join(c for c in m.failures if c in CONTENT_CHANGED)}).")
    if report.signature_failures:
        return "invalid", f"Invalid: the C2PA manifest does not verify ({', '.join(report.signature_failures)})."
    if sidecar is not None and sidecar.readable and sidecar.video_matches is False:
        return "tampered", ("Tampered: the manifest is valid, but provenance.json beside the file describes "
                            "different bytes (the file was changed or swapped after the run).")
    trust = " (trusted on this machine)" if m.trusted else " (certificate not in your trust list)"
    who = f"signed by '{m.signed_by}'{trust}"
    return "verified", (f"Verified: made by {m.generator}, AI-generated ({m.digital_source_type.rsplit('/', 1)[-1]}), "
                        f"unchanged since it was {who}.")


def _describe(m: ManifestCheck | None, sidecar: SidecarCheck | None, wm: dict[str, Any] | None) -> list[str]:
    lines = []
    if m is not None and m.readable:
        lines.append(f"manifest: {m.label or '?'} by {m.generator or '?'}")
        if m.signed_by:
            trust = ("trusted: its certificate chains to a trust anchor on this machine" if m.trusted else
                     "not trusted here: the certificate is not in your trust list, so the signature proves the file is "
                     "unchanged since signing, not who signed it (newsreel signs with a key made on the machine that "
                     "made the video; its CA is trusted only there, or where you add it with --trust)")
            lines.append(f"signer: {m.signed_by} (issuer {m.issuer or '?'}, {m.algorithm or '?'}); {trust}")
        if m.digital_source_type:
            lines.append(f"source type: {m.digital_source_type}")
        if m.actions:
            lines.append(f"actions: {', '.join(m.actions)}")
        for stage, facts in m.stages.items():
            lines.append(f"{stage}: " + ", ".join(f"{k} {_short(v)}" for k, v in facts.items()))
        if m.visible_label is not None:
            v = m.visible_label.get("visible")
            shown = f"on ('{m.visible_label.get('text')}')" if v else "off" if v is False else "unknown"
            lines.append(f"visible label: {shown}")
        failures = [c for c in m.failures if c not in NOT_TRUSTED]  # untrusted: said on the signer line
        if failures:
            lines.append(f"validation failures: {', '.join(failures)}")
    if sidecar is not None:
        if not sidecar.readable:
            lines.append(f"sidecar: {sidecar.path} {sidecar.problem}")
        else:
            states = {True: "matches this file", False: "does NOT match this file", None: sidecar.problem or "not checked"}
            state = states[sidecar.video_matches]
            lines.append(f"sidecar: {sidecar.path} {state}")
            if sidecar.manifest_matches is False:
                lines.append("sidecar: names a different manifest than the one embedded")
            changed = [n for n, s in sidecar.files.items() if s != "ok"]
            if changed:
                lines.append("run folder: " + ", ".join(f"{n} {sidecar.files[n]}" for n in changed))
    if wm is not None:
        if wm.get("error"):
            lines.append(f"watermark: not checked ({wm['error']})")
        else:
            found = "found" if wm["found"] else "not found"
            lines.append(f"watermark: {found} (score {wm['score']}, threshold {wm['threshold']}, payload bits "
                         f"{wm['bits_matched']}/{wm['bits']}, {wm['frames']} frames)")
    return lines


def _short(value: Any) -> str:
    if isinstance(value, dict):
        first = ", ".join(f"{k} {v}" for k, v in list(value.items())[:2])
        value = value.get("model_file") or value.get("sha256") or first
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_verdict(verdict: Verdict) -> str:
    """The verdict for people: the summary, then one line per fact."""
    lines = [f"{verdict.status.upper()}: {verdict.path}", verdict.summary]
    lines += [f"  {line}" for line in verdict.details]
    return "\n".join(lines)
