"""Content-addressed cache of stage results, checked on every hit.

Key = sha256 of (stage, provider name@version, canonical parameters JSON, input artifact digests).

Layout under the cache root:
  objects/<k[:2]>/<key>.<id>/  a sealed entry: the provider's files, `artifact.json` and `meta.json`. Never written
                               after sealing; `meta.json` records the size and sha256 of every other file in it.
  entries/<k[:2]>/<key>        a relative symlink to the object that answers for the key. Creating the link
                               publishes an entry (exclusively: the first of two identical builds wins); replacing
                               it with os.replace is how `--force`/`--no-cache` swap in a rebuild atomically, so a
                               reader sees the old object or the new one, never neither and never a mix.
  tmp/                         builds in progress (each beside a lock its owner holds) and entries being deleted.
  retired/                     one marker per object replaced by a rebuild: the object stays in place an hour for
                               readers that resolved it before the swap, then clean() removes it.

A hit is a link whose object still matches its seal: `get()` checks every file's size and hash (a few ms a stage;
BENCHMARKS.md) and raises `DamagedEntry` otherwise, which the runner reports, discards and rebuilds. Nothing that
does not match what was sealed is ever served, so nothing that does not match is ever signed.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .artifacts import Artifact, canonical_json
from .hashing import sha256_bytes, sha256_file
from .errors import NewsreelError
from .owner_lock import UNLOCKED_GRACE, OwnerLock, age, owned_folder

SEAL = "files"  # meta.json's map of every sealed file: relative path -> [size, sha256]
RETIRED_GRACE = 3600.0  # seconds a replaced object stays for readers that resolved it before the swap


def cache_key(stage: str, provider: str, version: str, params: dict[str, Any], inputs: dict[str, str]) -> str:
    material = {"stage": stage, "provider": f"{provider}@{version}", "params": params, "inputs": inputs}
    return sha256_bytes(canonical_json(material).encode())


class DamagedEntry(Exception):
    """A cache entry whose files no longer match its seal (or whose metadata cannot be read)."""

    def __init__(self, key: str, reason: str, target: str | None = None, stage: str | None = None) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason
        self.target = target  # what the entry's link pointed at when it was found damaged (None: not a link)
        self.stage = stage


@dataclass(frozen=True)
class Entry:
    key: str
    path: Path  # the sealed object folder
    meta: dict[str, Any]
    problem: str | None = field(default=None, compare=False)  # why the entry is unusable, for `entries()`

    @property
    def size(self) -> int:
        return tree_size(self.path)


class Cache:
    def __init__(self, root: Path):
        self.root = Path(root)

    # -- paths ---------------------------------------------------------------------------------------------------

    def entry_path(self, key: str) -> Path:
        """The entry's link (a symlink to its object folder; an older newsreel's entry is a folder here)."""
        return self.root / "entries" / key[:2] / key

    def _object_path(self, key: str) -> Path:
        return self.root / "objects" / key[:2] / f"{key}.{uuid.uuid4().hex[:12]}"

    def _writable(self) -> None:
        try:
            for sub in ("tmp", "entries", "objects"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NewsreelError(f"cannot write the cache folder {self.root}: {exc.strerror}", "set cache_dir (NEWSREEL_CACHE_DIR) to a writable folder") from None

    # -- reading -------------------------------------------------------------------------------------------------

    def get(self, key: str, artifact_type: type[Artifact], *, hashes: bool = True) -> tuple[Artifact, Entry] | None:
        """The entry for `key`, its files checked against the seal; None when there is none.

        Raises DamagedEntry when the entry exists but does not match (a file changed, truncated or missing,
        meta.json or artifact.json unreadable). `hashes=False` checks sizes only (a quick scan)."""
        link = self.entry_path(key)
        try:
            target = os.readlink(link)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.EINVAL and link.is_dir():
                raise DamagedEntry(key, "written by an older newsreel without a file seal") from None
            raise
        path = (link.parent / target).resolve()
        try:
            meta, artifact = self._check(path, key, artifact_type, hashes)
        except DamagedEntry as exc:
            exc.target = target
            raise
        return artifact, Entry(key, path, meta)

    def _check(self, path: Path, key: str, artifact_type: type[Artifact] | None, hashes: bool) -> tuple[dict[str, Any], Artifact | None]:
        def damaged(reason: str, stage: str | None = None) -> DamagedEntry:
            return DamagedEntry(key, reason, stage=stage)

        if not path.is_dir():
            raise damaged("its folder is missing")
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("not an object")
        except (OSError, ValueError) as exc:
            raise damaged(f"meta.json is unreadable ({_why(exc)})") from None
        stage = meta.get("stage") if isinstance(meta.get("stage"), str) else None
        seal = meta.get(SEAL)
        if not isinstance(seal, dict) or "artifact.json" not in seal:
            raise damaged("written by an older newsreel without a file seal", stage)
        for rel, expected in sorted(seal.items()):
            file = path / rel
            try:
                size = file.stat().st_size
            except OSError:
                raise damaged(f"{rel} is missing", stage) from None
            if not (isinstance(expected, list) and len(expected) == 2):
                raise damaged("meta.json's file seal is malformed", stage)
            if size != expected[0]:
                raise damaged(f"{rel} has {size} bytes, {expected[0]} were sealed", stage)
            if hashes and sha256_file(file) != expected[1]:
                raise damaged(f"{rel} does not match its sealed hash", stage)
        artifact = None
        if artifact_type is not None:
            try:
                artifact = artifact_type.from_json(json.loads((path / "artifact.json").read_text(encoding="utf-8")), root=path)
            except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
                raise damaged(f"artifact.json is unreadable ({_why(exc)})", stage) from None
            for f in artifact.files():
                if f.relative_to(path).as_posix() not in seal:
                    raise damaged(f"{f.name} is not among its sealed files", stage)
        return meta, artifact

    # -- writing -------------------------------------------------------------------------------------------------

    @contextmanager
    def building(self, key: str) -> Iterator[Path]:
        """A fresh temp folder for a provider to write into, beside a lock held while it is built (so a later run
        can tell a killed build's leftovers from a live build elsewhere); removed if the build fails."""
        self._writable()
        with owned_folder(self.root / "tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}") as tmp:
            yield tmp

    def put(self, key: str, tmp: Path, artifact: Artifact, meta: dict[str, Any], *, replace: bool = False) -> tuple[Artifact, Entry]:
        """Seal a built folder (artifact.json, meta.json with every file's size and hash), move it into objects/
        and publish it. `replace`: take the key over from an existing entry (--force, --no-cache, a damaged one);
        otherwise an existing good entry wins (an identical build that finished first) and ours is dropped."""
        for f in artifact.files():
            if not f.is_file() or tmp not in f.parents:
                raise RuntimeError(f"provider returned a file outside its work folder or missing: {f}")
        _write_json(tmp / "artifact.json", artifact.to_json(root=tmp))
        seal = {f.relative_to(tmp).as_posix(): [f.stat().st_size, sha256_file(f)] for f in sorted(tmp.rglob("*")) if f.is_file()}
        seal.pop("meta.json", None)
        file_hashes = {tmp / rel: digest for rel, (_, digest) in seal.items()}
        meta = {**meta, "key": key, "created": time.time(), "digest": artifact.digest(tmp, file_hashes), SEAL: seal}
        _write_json(tmp / "meta.json", meta)
        obj = self._object_path(key)
        obj.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, obj)
        link = self.entry_path(key)
        link.parent.mkdir(parents=True, exist_ok=True)
        target = os.path.relpath(obj, link.parent)
        with self._publishing():
            damaged = False
            if not replace:
                try:
                    found = self.get(key, type(artifact))
                except DamagedEntry:
                    found, damaged = None, True  # a damaged entry is no reason to drop a good build: take it over
                if found is not None:  # another worker sealed the same key first; its entry is as good as ours
                    self._delete(obj)
                    return found
            self._publish(link, target, keep_old=not damaged)
        return self._get_sealed(key, type(artifact))

    def _get_sealed(self, key: str, artifact_type: type[Artifact]) -> tuple[Artifact, Entry]:
        # Just sealed: sizes are enough (the hashes were computed a moment ago from these very files).
        found = self.get(key, artifact_type, hashes=False)
        assert found is not None
        return found

    @contextmanager
    def _publishing(self) -> Iterator[None]:
        """Serialise the read-then-swap of entry links across processes (a few ms each), so two rebuilds of one key
        each retire exactly the object they displaced and no object is left unreferenced."""
        try:
            import fcntl
        except ImportError:  # no flock (Windows): a lost race leaves an orphan object that prune removes
            yield
            return
        fd = os.open(self.root / "entries" / ".publish.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _publish(self, link: Path, target: str, *, keep_old: bool = True) -> None:
        """Point `link` at `target` atomically (under `_publishing`). The object it pointed at before is retired
        (kept for its readers a while), or deleted at once when it is damaged (`keep_old=False`)."""
        old_target = None
        try:
            old_target = os.readlink(link)
        except OSError:
            if link.is_dir():  # an older newsreel's entry folder cannot be swapped atomically: move it away first
                self._delete(link)
        staged = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}.link")
        os.symlink(target, staged)
        os.replace(staged, link)
        if old_target is not None and old_target != target:
            old = (link.parent / old_target).resolve()
            self._retire(old) if keep_old else self._delete(old)

    def discard(self, damaged: DamagedEntry) -> None:
        """Remove a damaged entry, unless its link has meanwhile been pointed at another (rebuilt) object."""
        link = self.entry_path(damaged.key)
        try:
            current = os.readlink(link)
        except FileNotFoundError:
            return
        except OSError:
            if damaged.target is None and link.is_dir():
                self._delete(link)
            return
        if current != damaged.target:
            return
        obj = (link.parent / current).resolve()
        staged = self.root / "tmp" / f"{damaged.key}.unlink.{uuid.uuid4().hex[:8]}"
        self._writable()
        try:
            os.rename(link, staged)  # atomic: only one of two processes that found it damaged gets to remove it
        except FileNotFoundError:
            return
        staged.unlink()
        self._delete(obj)

    def remove(self, key: str) -> None:
        link = self.entry_path(key)
        try:
            target = os.readlink(link)
        except FileNotFoundError:
            return
        except OSError:
            if link.is_dir():
                self._delete(link)
            return
        self.discard(DamagedEntry(key, "removed", target=target))

    def _delete(self, path: Path) -> None:
        # Rename first so no reader ever sees a half-deleted folder.
        self._writable()
        doomed = self.root / "tmp" / f"{path.name}.deleting.{uuid.uuid4().hex[:8]}"
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def _retire(self, obj: Path) -> None:
        """Mark a replaced object for removal after the grace; it stays where it is until then, so a reader that
        resolved the link before the swap keeps reading whole files (a move would pull them from under it)."""
        retired = self.root / "retired"
        retired.mkdir(parents=True, exist_ok=True)
        (retired / obj.name).write_text(os.path.relpath(obj, self.root) + "\n", encoding="utf-8")

    # -- listing, checking, cleaning -----------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """Every entry; one whose metadata cannot be read comes with `problem` set (and meta {})."""
        found = []
        for link in sorted((self.root / "entries").glob("*/*")):
            if link.name.startswith("."):
                continue
            if link.is_symlink():
                path = link.resolve()
                try:
                    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
                    if not isinstance(meta, dict):
                        raise ValueError("not an object")
                except (OSError, ValueError) as exc:
                    found.append(Entry(link.name, path, {}, f"meta.json is unreadable ({_why(exc)})"))
                    continue
                found.append(Entry(link.name, path, meta))
            elif link.is_dir():
                found.append(Entry(link.name, link, {}, "written by an older newsreel without a file seal"))
        return found

    def verify(self, *, repair: bool = False, hashes: bool = True) -> tuple[int, list[tuple[Entry, str]]]:
        """Check every entry against its seal: (entries checked, [(entry, what is wrong)]). `repair` removes the
        bad ones; `hashes=False` checks sizes and metadata only (what `newsreel doctor` does)."""
        from .stages import STAGES

        entries = self.entries()
        bad: list[tuple[Entry, str]] = []
        for entry in entries:
            problem = entry.problem
            if problem is None:
                stage = STAGES.get(str(entry.meta.get("stage")))
                try:
                    self._check(entry.path, entry.key, stage.output if stage else None, hashes)
                except DamagedEntry as exc:
                    problem = exc.reason
            if problem is not None:
                bad.append((entry, problem))
                if repair:
                    self.remove(entry.key)
        if repair:
            self.clean(orphans=True)
        return len(entries), bad

    def prune(self, keep: Callable[[Entry], bool]) -> list[Entry]:
        """Remove the entries `keep` rejects, and every entry whose metadata is unreadable; then clean up."""
        removed = [e for e in self.entries() if e.problem is not None or not keep(e)]
        for e in removed:
            self.remove(e.key)
        self.clean(orphans=True)
        return removed

    def clean(self, *, orphans: bool = False) -> None:
        """Remove what killed runs left behind: temp folders whose owner is gone (its lock is free), folders being
        deleted, retired objects past their grace. A live build elsewhere holds its lock and is left alone.
        `orphans`: also objects no entry links to (a run killed between sealing and publishing), past a grace;
        that needs a scan of every entry, so only prune and verify --repair do it."""
        now = time.time()
        if orphans and (self.root / "objects").is_dir():
            linked = {link.resolve() for link in (self.root / "entries").glob("*/*") if link.is_symlink()}
            for obj in (self.root / "objects").glob("*/*"):
                if obj not in linked and age(obj, now) > UNLOCKED_GRACE:
                    self._delete(obj)
        tmp = self.root / "tmp"
        if tmp.is_dir():
            for item in tmp.iterdir():
                if item.name.endswith(".lock"):
                    if not item.with_name(item.name[: -len(".lock")]).exists() and OwnerLock.abandoned(item):
                        item.unlink(missing_ok=True)
                    continue
                lock = item.with_name(item.name + ".lock")
                if ".deleting." in item.name or ".unlink." in item.name:
                    stale = True
                elif lock.exists():
                    stale = OwnerLock.abandoned(lock)
                else:
                    stale = age(item, now) > UNLOCKED_GRACE
                if stale:
                    if item.is_dir() and not item.is_symlink():
                        shutil.rmtree(item, ignore_errors=True)
                    else:
                        item.unlink(missing_ok=True)
                    lock.unlink(missing_ok=True)
        retired = self.root / "retired"
        if retired.is_dir():
            for marker in retired.iterdir():
                if age(marker, now) > RETIRED_GRACE:
                    obj = self.root / "objects" / marker.name[:2] / marker.name
                    if obj.is_dir() and self.entry_path(marker.name[:64]).resolve() != obj:  # not linked again
                        self._delete(obj)
                    marker.unlink(missing_ok=True)


def tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _why(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split())[:120]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
