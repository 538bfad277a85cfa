"""The content-addressed cache on its own."""

from __future__ import annotations

import json
import os
import time

import pytest

from pipeline.cache import Cache, cache_key
from pipeline.stages import BackgroundImage, Backgrounds


def key(**overrides):
    material = {"stage": "image", "provider": "slate", "version": "1", "params": {"seed": 1, "width": 1280}, "inputs": {"script": "ab"}}
    material.update(overrides)
    return cache_key(material["stage"], material["provider"], material["version"], material["params"], material["inputs"])


def test_key_is_stable_and_sensitive_to_every_part():
    assert key() == key(params={"width": 1280, "seed": 1})  # order does not matter
    variants = [
        key(stage="voice"),
        key(provider="other"),
        key(version="2"),
        key(params={"seed": 2, "width": 1280}),
        key(params={"seed": 1, "width": 1280.5}),
        key(inputs={"script": "ac"}),
    ]
    assert len({key(), *variants}) == 1 + len(variants)


def build(cache: Cache, k: str, color: bytes = b"png") -> Backgrounds:
    with cache.building(k) as tmp:
        (tmp / "bg.png").write_bytes(color)
        artifact = Backgrounds(images=[BackgroundImage(path=tmp / "bg.png", width=1, height=1)])
        return cache.put(k, tmp, artifact, {"seconds": 0.1})[0]


def test_put_then_get_resolves_files_inside_the_entry(tmp_path):
    cache = Cache(tmp_path)
    k = key()
    built = build(cache, k)
    entry = cache.entry_path(k)
    assert built.images[0].path == entry / "bg.png"
    stored = json.loads((entry / "artifact.json").read_text())
    assert stored["images"][0]["path"] == "bg.png"  # relative on disk, so the cache folder can move
    got, meta = cache.get(k, Backgrounds)
    assert got == built and meta.meta["digest"] == built.digest(entry)
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    os.rename(tmp_path, moved)
    again, _ = Cache(moved).get(k, Backgrounds)
    assert again.images[0].path.read_bytes() == b"png"


def test_digest_follows_file_bytes(tmp_path):
    cache = Cache(tmp_path)
    a = build(cache, key(version="a"), b"one")
    b = build(cache, key(version="b"), b"two")
    c = build(cache, key(version="c"), b"one")
    digest = lambda art, v: cache.get(key(version=v), Backgrounds)[1].meta["digest"]  # noqa: E731
    assert digest(a, "a") == digest(c, "c") != digest(b, "b")


def test_losing_a_race_to_an_identical_build_is_fine(tmp_path):
    cache = Cache(tmp_path)
    k = key()
    with cache.building(k) as first, cache.building(k) as second:
        for tmp in (first, second):
            (tmp / "bg.png").write_bytes(b"same")
        art1 = Backgrounds(images=[BackgroundImage(path=first / "bg.png", width=1, height=1)])
        art2 = Backgrounds(images=[BackgroundImage(path=second / "bg.png", width=1, height=1)])
        cache.put(k, first, art1, {"seconds": 1})
        winner, _ = cache.put(k, second, art2, {"seconds": 2})
    assert winner.images[0].path == cache.entry_path(k) / "bg.png"
    assert [e.key for e in cache.entries()] == [k]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_failed_build_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)
    with pytest.raises(ValueError):
        with cache.building(key()) as tmp:
            (tmp / "half.png").write_bytes(b"half")
            raise ValueError("provider crashed")
    assert cache.get(key(), Backgrounds) is None
    assert list((tmp_path / "tmp").iterdir()) == []


def test_files_outside_the_work_folder_are_refused(tmp_path):
    cache = Cache(tmp_path / "cache")
    stray = tmp_path / "elsewhere.png"
    stray.write_bytes(b"x")
    with cache.building(key()) as tmp, pytest.raises(RuntimeError, match="outside its work folder"):
        cache.put(key(), tmp, Backgrounds(images=[BackgroundImage(path=stray, width=1, height=1)]), {"seconds": 0})


def test_prune_by_predicate_and_stale_tmp(tmp_path):
    cache = Cache(tmp_path)
    build(cache, key(version="old"))
    build(cache, key(version="new"))
    old_tmp = tmp_path / "tmp" / "killed-run.1234"
    old_tmp.mkdir()
    os.utime(old_tmp, (time.time() - 3 * 86400,) * 2)
    fresh_tmp = tmp_path / "tmp" / "building-now.5678"
    fresh_tmp.mkdir()
    removed = cache.prune(keep=lambda e: e.key == key(version="new"))
    assert [e.key for e in removed] == [key(version="old")]
    assert [e.key for e in cache.entries()] == [key(version="new")]
    assert not old_tmp.exists() and fresh_tmp.exists()  # a build in progress elsewhere is left alone
