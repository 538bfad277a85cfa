"""Content-addressed cache of stage results.

Key = sha256 of (stage, provider name@version, canonical parameters JSON, input artifact digests).
Entry = a folder `entries/<k[:2]>/<key>/` holding the provider's files, `artifact.json` and `meta.json`. It is built
under `tmp/` and renamed into place, so a killed run never leaves an entry behind: a hit is a folder that exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artifacts import Artifact, canonical_json
from .errors import NewsreelError


def cache_key(stage: str, provider: str, version: str, params: dict[str, Any], inputs: dict[str, str]) -> str:
    material = {"stage": stage, "provider": f"{provider}@{version}", "params": params, "inputs": inputs}
    return hashlib.sha256(canonical_json(material).encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    key: str
    path: Path
    meta: dict[str, Any]

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


class Cache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def entry_path(self, key: str) -> Path:
        return self.root / "entries" / key[:2] / key

    def _writable(self) -> None:
        try:
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NewsreelError(f"cannot write the cache folder {self.root}: {exc.strerror}", "set cache_dir (NEWSREEL_CACHE_DIR) to a writable folder") from None

    def get(self, key: str, artifact_type: type[Artifact]) -> tuple[Artifact, Entry] | None:
        path = self.entry_path(key)
        if not path.is_dir():
            return None
        meta = json.loads((path / "meta.json").read_text())
        artifact = artifact_type.from_json(json.loads((path / "artifact.json").read_text()), root=path)
        return artifact, Entry(key, path, meta)

    @contextmanager
    def building(self, key: str) -> Iterator[Path]:
        """A fresh temp folder for a provider to write into; removed if the build fails."""
        self._writable()
        tmp = self.root / "tmp" / f"{key}.{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def put(self, key: str, tmp: Path, artifact: Artifact, meta: dict[str, Any]) -> tuple[Artifact, Entry]:
        """Seal a built folder: write artifact.json (paths relative) and meta.json, then rename it into place."""
        for f in artifact.files():
            if not f.is_file() or tmp not in f.parents:
                raise RuntimeError(f"provider returned a file outside its work folder or missing: {f}")
        meta = {**meta, "key": key, "created": time.time(), "digest": artifact.digest(tmp)}
        _write_json(tmp / "artifact.json", artifact.to_json(root=tmp))
        _write_json(tmp / "meta.json", meta)
        final = self.entry_path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # not a lost race with an identical build: a real failure
                raise
            # Another worker sealed the same key first; its entry is as good as ours.
        hit = self.get(key, type(artifact))
        assert hit is not None
        return hit

    def remove(self, key: str) -> None:
        path = self.entry_path(key)
        if path.is_dir():
            # Rename first so no reader ever sees a half-deleted entry as a hit.
            doomed = self.root / "tmp" / f"{key}.deleting.{uuid.uuid4().hex[:8]}"
            self._writable()
            os.rename(path, doomed)
            shutil.rmtree(doomed, ignore_errors=True)

    def entries(self) -> list[Entry]:
        found = []
        for meta_file in sorted((self.root / "entries").glob("*/*/meta.json")):
            try:
                meta = json.loads(meta_file.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            found.append(Entry(meta_file.parent.name, meta_file.parent, meta))
        return found

    def prune(self, keep: Callable[[Entry], bool]) -> list[Entry]:
        removed = [e for e in self.entries() if not keep(e)]
        for e in removed:
            self.remove(e.key)
        # Leftovers of killed runs; a day's grace so a build in progress elsewhere is not pulled from under it.
        for leftover in (self.root / "tmp").glob("*"):
            if time.time() - leftover.stat().st_mtime > 86400:
                shutil.rmtree(leftover, ignore_errors=True)
        return removed


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
