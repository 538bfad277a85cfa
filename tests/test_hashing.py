"""The one file hash: block-wise reading gives the same digest as hashing the whole bytes, at block edges too."""

from __future__ import annotations

import hashlib

import pytest

from pipeline.hashing import BLOCK, sha256_bytes, sha256_file


def test_sha256_bytes_is_the_standard_digest():
    assert sha256_bytes(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 7])
def test_a_file_hashes_like_its_bytes_across_block_edges(tmp_path, size):
    data = bytes((i * 7 + size) % 251 for i in range(size))
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest() == sha256_bytes(data)
    assert sha256_file(str(path)) == sha256_file(path)


def test_an_unreadable_file_raises_for_the_caller_to_judge(tmp_path):
    with pytest.raises(FileNotFoundError):
        sha256_file(tmp_path / "missing")
