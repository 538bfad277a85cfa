"""Reading a file's C2PA manifest back, without raising: damage becomes an `error`, validation failures a list.
c2pa is imported only inside `read_manifest`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

C2PA_BMFF_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # the uuid box that holds a C2PA manifest
# What a signed file must not change after signing: hard-binding hash failures.
CONTENT_CHANGED = ("assertion.bmffHash.mismatch", "assertion.dataHash.mismatch", "assertion.boxesHash.mismatch",
                   "assertion.collectionHash.mismatch")
NOT_TRUSTED = ("signingCredential.untrusted",)
NO_NETWORK = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}


def is_bmff(head: bytes) -> bool:
    """An ISO base media file (MP4, MOV, M4A) starts with an ftyp box (or, rarely, another top-level box)."""
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid")


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
