"""Telling a killed process's leftovers from live work: an exclusive flock held on a lock file for as long as the
work runs. The kernel drops the lock when its owner exits, however it exits (kill -9 included), so a later run can
remove what the dead one left at once, while a live build in another process is never pulled from under it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

UNLOCKED_GRACE = 3600.0  # seconds after which a leftover without a lock (an older newsreel, or no flock) is stale


class OwnerLock:
    """`with OwnerLock(path):` creates `path` exclusively and holds an flock on it; removes it on exit."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.fd: int | None = None

    def __enter__(self) -> "OwnerLock":
        self.fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # no flock (Windows): the leftover's age decides instead
            pass
        return self

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    @staticmethod
    def abandoned(path: Path) -> bool:
        """True when nobody holds the lock at `path` (its owner has exited or was killed)."""
        try:
            import fcntl
        except ImportError:
            return age(path, time.time()) > UNLOCKED_GRACE
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # held: its owner is alive
        finally:
            os.close(fd)
        return True


@contextmanager
def owned_folder(folder: Path) -> Iterator[Path]:
    """Create `folder` beside its owner lock (`<folder>.lock`, held throughout); the folder is removed when the block
    exits, whether it finished (its owner renamed it away first) or failed. A killed owner leaves both, and
    `OwnerLock.abandoned(<folder>.lock)` then says so."""
    with OwnerLock(folder.with_name(folder.name + ".lock")):
        folder.mkdir()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def age(path: Path, now: float) -> float:
    """Seconds since `path` was last modified (0 when it is gone)."""
    try:
        return now - path.lstat().st_mtime
    except OSError:
        return 0.0
