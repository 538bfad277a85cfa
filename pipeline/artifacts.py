"""Typed artifacts: what flows along the arrows between stages.

An artifact is a pydantic model. Files it owns are `ArtifactPath` fields: absolute in memory, stored relative to
their cache entry on disk, so a cache folder can move and its artifacts still resolve.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Iterator

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, SerializationInfo, ValidationInfo

from .hashing import sha256_file


def _resolve(path: Path, info: ValidationInfo) -> Path:
    root = (info.context or {}).get("root")
    return Path(root) / path if root is not None and not path.is_absolute() else path


def _relativise(path: Path, info: SerializationInfo) -> str:
    root = (info.context or {}).get("root")
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


ArtifactPath = Annotated[Path, AfterValidator(_resolve), PlainSerializer(_relativise, return_type=str)]


class Artifact(BaseModel):
    """Base of every stage output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def files(self) -> Iterator[Path]:
        """Every file this artifact owns, nested models included."""
        yield from _walk_paths(self)

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        return self.model_dump(mode="json", context={"root": root})

    @classmethod
    def from_json(cls, data: dict[str, Any], root: Path | None = None):
        return cls.model_validate(data, context={"root": root})

    def digest(self, root: Path, file_hashes: dict[Path, str] | None = None) -> str:
        """sha256 of the artifact's fields and the bytes of its files: what downstream cache keys depend on.
        `file_hashes`: sha256 hex digests the caller already has (the cache's seal), so no file is read twice."""
        known = file_hashes or {}
        h = hashlib.sha256(canonical_json(self.to_json(root)).encode())
        for path in sorted(self.files()):
            h.update(path.relative_to(root).as_posix().encode())
            h.update((known.get(path) or sha256_file(path)).encode())
        return h.hexdigest()


def _walk_paths(value: Any) -> Iterator[Path]:
    if isinstance(value, Path):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk_paths(getattr(value, name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk_paths(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_paths(item)


def canonical_json(value: Any) -> str:
    """One spelling for equal values: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)

