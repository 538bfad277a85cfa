"""Run folders appear whole or not at all.

A run's files are assembled in a hidden folder beside the destination (`.NAME.newsreel-PID-ID.part`, same file
system) and renamed into place when complete, so a failed or killed run leaves no empty, partial or stale folder,
and a re-run into an existing folder replaces it only on success (atomically where the kernel can exchange two
folders). An existing folder is replaced only when it is a newsreel run folder (or empty): never a folder of
someone's other files. A killed run's part folder is removed by the next run into the same parent folder.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import NewsreelError
from .owner_lock import OwnerLock, owned_folder

MARK = ".newsreel-"
SUFFIX = ".part"


def check_destination(out: Path) -> None:
    """Fail before any work when `out` cannot become a run folder. Writes nothing."""
    resolved = out.resolve()
    if resolved == Path.cwd().resolve() or resolved.parent == resolved:
        # The run folder is renamed into place whole: it cannot be the folder we stand in, or a filesystem root.
        raise NewsreelError(f"--out {out} is the current folder or a root folder", "give a folder name for the run, e.g. --out clip")
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise NewsreelError(f"the output {out} exists and is not a folder", "choose a folder name with --out")
        _check_replaceable(out)
        parent = out.parent
    else:
        parent = out.parent
        while not parent.exists():
            if parent.parent == parent:
                break
            parent = parent.parent
        if not parent.is_dir():
            raise NewsreelError(f"cannot write to the output folder {out}: {parent} is not a folder", "choose a writable folder with --out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise NewsreelError(f"cannot write to the output folder {out}: {parent} is not writable", "choose a writable folder with --out")


def _check_replaceable(out: Path) -> None:
    names = {p.name for p in out.iterdir()}
    if not names:
        return
    known: set[str] = set()
    try:
        record = json.loads((out / "run.json").read_text(encoding="utf-8"))
        known = {"run.json", *record.get("files", [])}
    except (OSError, ValueError, AttributeError, TypeError):
        pass
    foreign = sorted(names - known)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise NewsreelError(
            f"the output folder {out} holds files newsreel did not make ({shown}), and a run replaces its folder whole",
            "choose a new or empty folder with --out",
        )


@contextmanager
def assembling(out: Path) -> Iterator[Path]:
    """A private folder beside `out` to write the run's files into; `publish()` it when complete. Removed on
    failure; if the process is killed, the next run's `clean_abandoned()` removes it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with owned_folder(out.parent / f".{out.name}{MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}") as part:
        yield part


def publish(part: Path, out: Path) -> None:
    """Move the complete run folder `part` to `out`, replacing a previous run folder there."""
    try:
        os.rename(part, out)  # out absent (or an empty folder: rename replaces it)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    _check_replaceable(out)  # again: it may have changed while we worked
    if _exchange(part, out):
        shutil.rmtree(part, ignore_errors=True)  # part now holds the previous run
        return
    old = out.parent / f".{out.name}{MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}.old"
    os.rename(out, old)  # no atomic exchange here: a moment without the folder, never a mix of two runs
    os.rename(part, out)
    shutil.rmtree(old, ignore_errors=True)


def clean_abandoned(parent: Path) -> None:
    """Remove part folders (and their locks) in `parent` left by killed runs; live runs hold their locks."""
    try:
        items = list(parent.iterdir())
    except OSError:
        return
    for item in items:
        name = item.name
        if not (name.startswith(".") and MARK in name):
            continue
        if name.endswith(SUFFIX + ".lock"):
            folder = item.with_name(name[: -len(".lock")])
            if OwnerLock.abandoned(item):
                shutil.rmtree(folder, ignore_errors=True)
                item.unlink(missing_ok=True)
        elif name.endswith(".old"):
            shutil.rmtree(item, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))
