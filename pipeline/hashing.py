"""The one sha256 of a file (and of bytes) that newsreel uses everywhere: hex digests, files read in 1 MiB blocks
so a multi-GB model checkpoint never has to fit in memory."""

from __future__ import annotations

import hashlib
import os

BLOCK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of the file's bytes. Raises OSError when it cannot be read: callers decide what that means."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            h.update(block)
    return h.hexdigest()
