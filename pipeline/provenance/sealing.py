"""Sealing a run folder: the compose stage's MP4 is signed straight from the cache into the run folder under a temp
name, read back, and renamed over `video.mp4`; `provenance.json` (the sidecar) holds the same assertions plus the
sha256 of the signed file, so the run folder can be checked too. c2pa is imported only inside `_sign_into`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import NewsreelError
from ..hashing import sha256_bytes, sha256_file
from .identity import SigningIdentity, key_dir, signing_identity
from .manifest import GENERATOR, SIDECAR, SIDECAR_FORMAT, TRAINED, build_manifest, label_state, watermark_state
from .reading import is_bmff, read_manifest


def _digest(source: Path | bytes) -> str:
    """An exported file's sha256, whether the runner holds it as a cache file or as bytes."""
    return sha256_bytes(source) if isinstance(source, bytes) else sha256_file(source)


@dataclass
class Sealed:
    files: dict[str, Path | bytes]  # what the runner still has to export: the rest, plus provenance.json
    summary: dict[str, Any] = field(default_factory=dict)  # for run.json


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
    hashes = {n: _digest(src) for n, src in files.items() if n not in ("video.mp4", "run.json", SIDECAR)}
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
                            "unsigned_sha256": _digest(video)}
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
        sidecar["video"] = {"file": "video.mp4", "sha256": _digest(video)}
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
        facts = {"sha256": sha256_file(tmp), "bytes": tmp.stat().st_size, "manifest": report.label,
                 "signer": report.signer, "state": report.state}
        os.replace(tmp, out / "video.mp4")
        return facts
    finally:
        tmp.unlink(missing_ok=True)
