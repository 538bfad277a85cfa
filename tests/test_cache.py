"""The content-addressed cache on its own."""

from __future__ import annotations

import json
import os
import time

import pytest
from pathlib import Path

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
    entry = cache.entry_path(k).resolve()  # the link's sealed object folder
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
    assert winner.images[0].path == cache.entry_path(k).resolve() / "bg.png"
    assert winner.images[0].path.read_bytes() == b"same"
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


# -- integrity: every hit is checked against the seal written with the entry -------------------------------------

from pipeline.cache import DamagedEntry  # noqa: E402


def _object(cache: Cache, k: str):
    return cache.entry_path(k).resolve()


def _flip(path, offset=0, count=16):
    data = bytearray(path.read_bytes())
    for i in range(offset, min(offset + count, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


FAULTS = {
    "flipped bytes": lambda obj: _flip(obj / "bg.png"),
    "truncated file": lambda obj: (obj / "bg.png").write_bytes((obj / "bg.png").read_bytes()[:2]),
    "deleted file": lambda obj: (obj / "bg.png").unlink(),
    "corrupt meta.json": lambda obj: (obj / "meta.json").write_text('{"stage": "image", "fil'),
    "corrupt artifact.json": lambda obj: _flip(obj / "artifact.json", 3, 4),
    "deleted meta.json": lambda obj: (obj / "meta.json").unlink(),
}
REASONS = {
    "flipped bytes": "bg.png does not match its sealed hash",
    "truncated file": "bg.png has 2 bytes, 7 were sealed",
    "deleted file": "bg.png is missing",
    "corrupt meta.json": "meta.json is unreadable",
    "corrupt artifact.json": "artifact.json",
    "deleted meta.json": "meta.json is unreadable",
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_damaged_entry_is_never_served(tmp_path, fault):
    cache = Cache(tmp_path)
    k = key()
    build(cache, k, b"png-ok!")
    FAULTS[fault](_object(cache, k))
    with pytest.raises(DamagedEntry) as caught:
        cache.get(k, Backgrounds)
    assert REASONS[fault] in caught.value.reason
    checked, bad = cache.verify()
    assert checked == 1 and [e.key for e, _ in bad] == [k]
    cache.discard(caught.value)
    assert cache.get(k, Backgrounds) is None  # moved out of the way: the next get is a plain miss
    assert cache.verify() == (0, [])
    rebuilt = build(cache, k, b"png-ok!")
    assert cache.get(k, Backgrounds)[0] == rebuilt and rebuilt.images[0].path.read_bytes() == b"png-ok!"


def test_replace_swaps_in_a_rebuild_and_retires_the_old_object(tmp_path):
    cache = Cache(tmp_path)
    k = key()
    build(cache, k, b"first")
    old = _object(cache, k)
    with cache.building(k) as tmp:
        (tmp / "bg.png").write_bytes(b"second")
        art = Backgrounds(images=[BackgroundImage(path=tmp / "bg.png", width=1, height=1)])
        cache.put(k, tmp, art, {"seconds": 0}, replace=True)
    got, entry = cache.get(k, Backgrounds)
    assert got.images[0].path.read_bytes() == b"second" and entry.path != old
    # Retired: left in place for readers that resolved it before the swap, then removed by clean() after the grace.
    assert (old / "bg.png").read_bytes() == b"first"
    retired = list((tmp_path / "retired").iterdir())
    assert [m.name for m in retired] == [old.name]
    cache.clean()
    assert old.exists()  # still within its grace
    os.utime(retired[0], (time.time() - 2 * 3600,) * 2)
    cache.clean()
    assert list((tmp_path / "retired").iterdir()) == [] and not old.exists()
    assert [e.key for e in cache.entries()] == [k]


def test_without_replace_a_good_entry_wins_but_a_damaged_one_is_taken_over(tmp_path):
    cache = Cache(tmp_path)
    k = key()
    build(cache, k, b"first")
    assert build(cache, k, b"second").images[0].path.read_bytes() == b"first"  # identical key: first one wins
    _flip(_object(cache, k) / "bg.png")
    assert build(cache, k, b"third").images[0].path.read_bytes() == b"third"
    assert cache.get(k, Backgrounds)[0].images[0].path.read_bytes() == b"third"
    assert len(list((tmp_path / "objects").glob("*/*"))) == 1  # the losers' objects are gone


def test_concurrent_identical_builds_settle_on_one_good_entry(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_build_in_child, args=(str(tmp_path), i % 2 == 0)) for i in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = Cache(tmp_path)
    checked, bad = cache.verify()
    assert (checked, bad) == (1, [])
    retired = {m.name for m in (tmp_path / "retired").glob("*")} if (tmp_path / "retired").is_dir() else set()
    live = [o for o in (tmp_path / "objects").glob("*/*") if o.name not in retired]
    assert len(live) == 1  # one object answers for the key; the rest are retired, waiting out their grace
    assert cache.get(key(), Backgrounds)[0].images[0].path.read_bytes() == b"same bytes"


def _build_in_child(root: str, replace: bool) -> None:
    cache = Cache(root)
    for _ in range(5):
        with cache.building(key()) as tmp:
            (tmp / "bg.png").write_bytes(b"same bytes")
            art = Backgrounds(images=[BackgroundImage(path=tmp / "bg.png", width=1, height=1)])
            got, _ = cache.put(key(), tmp, art, {"seconds": 0}, replace=replace)
        assert got.images[0].path.read_bytes() == b"same bytes"  # even when another rebuild retired it meanwhile


def test_prune_and_verify_handle_unreadable_metadata_and_old_entries(tmp_path):
    cache = Cache(tmp_path)
    build(cache, key(version="a"))
    build(cache, key(version="b"))
    (_object(cache, key(version="a")) / "meta.json").write_text("{")
    legacy = tmp_path / "entries" / "00" / ("0" * 64)
    legacy.mkdir(parents=True)
    (legacy / "meta.json").write_text('{"stage": "image", "digest": "x"}')
    problems = {e.key: e.problem for e in cache.entries() if e.problem}
    assert set(problems) == {key(version="a"), "0" * 64}
    assert "meta.json is unreadable" in problems[key(version="a")]
    assert "older newsreel" in problems["0" * 64]
    with pytest.raises(DamagedEntry, match="older newsreel"):
        cache.get("0" * 64, Backgrounds)
    checked, bad = cache.verify(hashes=False)
    assert checked == 3 and len(bad) == 2
    removed = cache.prune(keep=lambda e: True)  # even a prune that keeps everything drops the unusable ones
    assert {e.key for e in removed} == set(problems)
    assert [e.key for e in cache.entries()] == [key(version="b")]
    assert cache.verify() == (1, [])


def test_verify_repair_removes_only_the_bad_entries(tmp_path):
    cache = Cache(tmp_path)
    for v in "abc":
        build(cache, key(version=v))
    _flip(_object(cache, key(version="b")) / "bg.png")
    checked, bad = cache.verify(hashes=False)
    assert (checked, bad) == (3, [])  # same size: only the hash check sees it
    checked, bad = cache.verify(repair=True)
    assert checked == 3 and [(e.key, why) for e, why in bad] == [(key(version="b"), "bg.png does not match its sealed hash")]
    assert sorted(e.key for e in cache.entries()) == sorted([key(version="a"), key(version="c")])


def test_clean_removes_a_killed_builds_folder_at_once_but_not_a_live_one(tmp_path):
    import signal
    import subprocess
    import sys

    cache = Cache(tmp_path)
    code = (
        "import sys, time; from pipeline.cache import Cache\n"
        "with Cache(sys.argv[1]).building('ab' * 32) as tmp:\n"
        "    (tmp / 'half.png').write_bytes(b'half'); print(tmp, flush=True); time.sleep(60)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        folders = [Path(p.stdout.readline().strip()) for p in procs]
        assert all(f.is_dir() for f in folders)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        cache.clean()
        assert not folders[0].exists() and not folders[0].with_name(folders[0].name + ".lock").exists()
        assert (folders[1] / "half.png").read_bytes() == b"half"  # a live build elsewhere is left alone
    finally:
        for p in procs:
            p.kill()
            p.wait(10)
    cache.clean()
    assert list((tmp_path / "tmp").iterdir()) == []
