"""Batch throughput: items per minute for N headlines with 1 and 2 local workers and with the Ray engine, and the
per-item overhead each engine adds.

    .venv/bin/python benchmarks/batch.py [--items 8] [--target-seconds 20] [--skip-real] [--no-ray]
    .venv/bin/python benchmarks/batch.py --clips-per-hour [--items 4]

`--clips-per-hour` (alone): clips per hour for one-minute clips (NEWSREEL_TARGET_SECONDS=60) with the real default
providers (the default voice included: Piper when installed) on the local engine with 1 and 2 workers, a fresh cache
each; with the CPU seconds per clip (this process and its worker processes, user + sys), the load average, and each
stage's median seconds for a worker's first item and for its later ones (which reuse the worker's loaded script
model and Piper voice).

Otherwise two parts:
1. The real default providers (SmolLM2 script, image `auto`, espeak, subtitles, ffmpeg) on the first N headlines of
   examples/headlines.txt, with NEWSREEL_TARGET_SECONDS (default 20, not 60, so the run takes minutes, not an hour).
   Every engine gets a fresh, empty stage cache (the converted SmolLM2 model is shared through NEWSREEL_MODELS_DIR,
   so nothing is converted inside a timed run); the wall time includes starting the workers, and for Ray, starting
   a local Ray instance (`ray.init(num_cpus=2)`), which is also timed on its own.
2. Engine overhead alone: 4 x N items of the tests' no-op providers (tests/plugins), where the work per item is a
   few milliseconds, so what remains is the engine: dispatch, events, results.

Overhead per item, all = (wall x concurrency - sum of the seconds each item took inside its worker) / items: time a
worker slot spent not working on an item (start-up, dispatch, results). Once running = the same from the first result
to the last, so start-up (worker processes importing newsreel, Ray's workers and queue actor) is left out; `ray.init`
itself is shown in the wall column. Prints markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TEST_PROVIDERS = {"script": "echo", "image": "flat", "voice": "beep", "captions": "plain", "compose": "listing"}


def headlines(n: int) -> list[str]:
    lines = [s.strip() for s in (REPO / "examples" / "headlines.txt").read_text().splitlines()]
    found = [s for s in lines if s and not s.startswith("#")]
    return (found * (n // len(found) + 1))[:n]


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def run(label: str, batch: Path, root: Path, engine: str, workers: int, concurrency: int) -> dict:
    from pipeline.batch import run_batch

    cache = root / f"cache-{label}"
    os.environ["NEWSREEL_CACHE_DIR"] = str(cache)
    ray_start = None
    if engine == "ray":
        import ray

        from pipeline.batch.ray_engine import worker_env

        t0 = time.perf_counter()
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": worker_env(str(cache))},
        )
        ray_start = time.perf_counter() - t0
    load_before = load()
    done: list[float] = []

    def on_event(event) -> None:
        if event.kind == "item-done":
            done.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    try:
        summary = run_batch(batch, root / f"out-{label}", engine=engine, workers=workers, on_event=on_event)
    finally:
        if engine == "ray":
            import ray

            ray.shutdown()
    wall = time.perf_counter() - t0
    n = len(summary.items)
    busy = sum(item.seconds for item in summary.items)
    bad = [f"{item.name}: {item.error}" for item in summary.items if item.status != "ok"]
    if bad:
        print(f"  {label}: not all ok: {bad}", file=sys.stderr)
    row = {
        "label": label,
        "items": n,
        "wall": wall + (ray_start or 0.0),
        "per_minute": n / (wall + (ray_start or 0.0)) * 60,
        "per_minute_started": n / wall * 60,
        "mean_item": busy / n,
        "overhead": (wall * concurrency - busy) / n,
        "first": done[0],
        # once running: the time between results, per worker slot, less the work itself
        "steady": ((done[-1] - done[0]) * concurrency / (n - 1) - busy / n) if n > 1 else float("nan"),
        "ray_start": ray_start,
        "load": f"{load_before} -> {load()}",
        "workers": len({item.worker for item in summary.items}),
    }
    print(f"  {label}: {n} items in {row['wall']:.1f} s (load {row['load']})", file=sys.stderr)
    return row


def steady(row: dict) -> str:
    # Between results, items of unequal length (real clips) make this noise; it means something for the no-op items.
    return f"{row['steady']:.2f}" if row["mean_item"] < 1.0 else "n/a"


def table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n")
    print(
        "| engine | items | wall s | items/min | items/min without ray.init | mean s/item in worker "
        "| first result after s | overhead s/item, all | overhead s/item, once running | load avg before -> after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        start = f" (incl. {r['ray_start']:.1f} s ray.init)" if r["ray_start"] is not None else ""
        print(
            f"| {r['label']} | {r['items']} | {r['wall']:.1f}{start} | {r['per_minute']:.2f} | {r['per_minute_started']:.2f} "
            f"| {r['mean_item']:.2f} | {r['first']:.1f} | {r['overhead']:.2f} | {steady(r)} | {r['load']} |"
        )


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


STAGE_NAMES = ("script", "image", "voice", "captions", "presenter", "compose")


def clips_per_hour(root: Path, items: int) -> None:
    """One-minute clips, real default providers, local engine with 1 and 2 workers; prints a markdown table."""
    from pipeline.batch import run_batch
    from pipeline.config import load_settings

    settings = load_settings()
    os.environ["NEWSREEL_MODELS_DIR"] = str(settings.models_dir or settings.cache_dir / "models")
    os.environ["NEWSREEL_TARGET_SECONDS"] = "60"
    # One item first, outside the timings, so one-time conversions (the script model, the patched Piper voice) are done.
    os.environ["NEWSREEL_CACHE_DIR"] = str(root / "cache-warm")
    warm = root / "warm.txt"
    warm.write_text("A Warm-Up Headline About Nothing\n")
    run_batch(warm, root / "out-warm", workers=1)
    batch = root / "clips.txt"
    batch.write_text("\n".join(headlines(items)) + "\n")
    rows = []
    for workers in (1, 2):
        label = f"local, {workers} worker{'s' if workers > 1 else ''}"
        os.environ["NEWSREEL_CACHE_DIR"] = str(root / f"cache-clips-{workers}")
        out = root / f"out-clips-{workers}"
        load_before, c0, t0 = load(), cpu_seconds(), time.perf_counter()
        summary = run_batch(batch, out, engine="local", workers=workers)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        ok = [item for item in summary.items if item.status == "ok"]
        first_of_worker: dict[str, list[float]] = {s: [] for s in STAGE_NAMES}
        later: dict[str, list[float]] = {s: [] for s in STAGE_NAMES}
        seen, voices = set(), set()
        for item in sorted(ok, key=lambda i: i.line):
            record = json.loads((out / item.name / "run.json").read_text())
            target = first_of_worker if item.worker not in seen else later
            seen.add(item.worker)
            for stage, rec in record["stages"].items():
                if stage in target:
                    target[stage].append(rec["seconds"])
            voices.add(record["stages"]["voice"]["provider"])
        rows.append((label, len(ok), items, wall, cpu, load_before, load(), first_of_worker, later, voices))
        print(f"  {label}: {len(ok)}/{items} clips in {wall:.1f} s (load {load_before} -> {load()})", file=sys.stderr)
    print(f"\nOne-minute clips (NEWSREEL_TARGET_SECONDS=60), real default providers, {items} headlines, local engine\n")
    print("| engine | clips ok | wall s | clips/hour | CPU s per clip | voice | load avg before -> after |")
    print("|---|---|---|---|---|---|---|")
    for label, n, total, wall, cpu, before, after, _, _, voices in rows:
        print(f"| {label} | {n}/{total} | {wall:.1f} | {n / wall * 3600:.1f} | {cpu / max(n, 1):.1f} | "
              f"{', '.join(sorted(voices))} | {before} -> {after} |")
    print("\nMedian stage seconds inside the worker: a worker's first item / its later items (models kept loaded)\n")
    print("| engine | " + " | ".join(STAGE_NAMES) + " |")
    print("|---|" + "---|" * len(STAGE_NAMES))
    for label, *_, first, rest, _ in rows:
        cells = []
        for stage in STAGE_NAMES:
            a = f"{statistics.median(first[stage]):.1f}" if first[stage] else "-"
            b = f"{statistics.median(rest[stage]):.1f}" if rest[stage] else "-"
            cells.append(f"{a} / {b}")
        print(f"| {label} | " + " | ".join(cells) + " |")


def install_test_plugin(root: Path) -> None:
    """The tests' provider package, installed through a real entry point (as tests/conftest.py does)."""
    from tests.conftest import ENTRY_POINTS, PLUGIN_DIR

    site = root / "site"
    dist = site / "newsreel_testplugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: newsreel-testplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path[:0] = [str(site), str(PLUGIN_DIR)]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(site), str(PLUGIN_DIR), str(REPO), os.environ.get("PYTHONPATH", "")]
    )
    from pipeline import plugins

    plugins._entry_points.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--target-seconds", type=float, default=20.0)
    parser.add_argument("--skip-real", action="store_true", help="only the engine-overhead part")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--clips-per-hour", action="store_true", help="only the one-minute clips/hour measurement")
    args = parser.parse_args()
    if args.clips_per_hour:
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; load average at start: {load()}")
        with tempfile.TemporaryDirectory() as tmp:
            clips_per_hour(Path(tmp), args.items if args.items != 8 else 4)
        print(f"\nload average at the end: {load()}")
        return

    from pipeline.config import load_settings

    settings = load_settings()
    models = settings.models_dir or settings.cache_dir / "models"
    configs = [("local, 1 worker", "local", 1, 1), ("local, 2 workers", "local", 2, 2)]
    if not args.no_ray:
        configs.append(("ray, local instance (num_cpus=2)", "ray", 2, 2))

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}; load average at start: {load()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if not args.skip_real:
            os.environ["NEWSREEL_TARGET_SECONDS"] = f"{args.target_seconds:g}"
            os.environ["NEWSREEL_MODELS_DIR"] = str(models)
            batch = root / "real.txt"
            batch.write_text("\n".join(headlines(args.items)) + "\n")
            # One item first, outside the timings, so the SmolLM2 model is converted (once per machine) beforehand.
            from pipeline.batch import run_batch

            os.environ["NEWSREEL_CACHE_DIR"] = str(root / "cache-warm")
            warm = root / "warm.txt"
            warm.write_text("A Warm-Up Headline About Nothing\n")
            run_batch(warm, root / "out-warm", workers=1)
            rows = [run(label, batch, root, engine, workers, conc) for label, engine, workers, conc in configs]
            table(
                f"Real default providers, {args.items} headlines, NEWSREEL_TARGET_SECONDS={args.target_seconds:g} "
                f"(clips of ~{args.target_seconds:g} s, not 60 s); a fresh cache per engine",
                rows,
            )
            for key in ("NEWSREEL_TARGET_SECONDS", "NEWSREEL_MODELS_DIR"):
                os.environ.pop(key, None)

        install_test_plugin(root)
        for stage, name in TEST_PROVIDERS.items():
            os.environ[f"NEWSREEL_PROVIDERS__{stage.upper()}"] = name
        fast = root / "fast.txt"
        fast.write_text("".join(f"Overhead Probe Number {i}\n" for i in range(args.items * 4)))
        rows = [run(label + " (no-op)", fast, root, engine, workers, conc) for label, engine, workers, conc in configs]
        table(f"Engine overhead: {args.items * 4} items of no-op test providers (a few ms of work each)", rows)
    print(f"\nload average at the end: {load()}")


if __name__ == "__main__":
    main()
