"""Per-stage seconds of the default `newsreel make`, median of several uncached runs, plus a fully cached run.

    .venv/bin/python benchmarks/stages.py [--runs 3] [--headline "..."]

Each run uses --no-cache, so every stage does its work (the model conversion into the cache happens once, before
the timed runs). Prints a markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def newsreel(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", *args], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--headline", default="Breakthrough in Mars Project")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        warm = newsreel("make", args.headline, "--out", str(out))  # converts the model once if needed
        per_stage: dict[str, list[float]] = {}
        walls = []
        for _ in range(args.runs):
            walls.append(newsreel("make", args.headline, "--out", str(out), "--no-cache"))
            record = json.loads((out / "run.json").read_text())
            for stage, rec in record["stages"].items():
                per_stage.setdefault(stage, []).append(rec["seconds"])
        cached = [newsreel("make", args.headline, "--out", str(Path(tmp) / f"c{i}")) for i in range(args.runs)]

    print(f"machine: {platform.machine()}, {platform.processor() or '?'}, python {platform.python_version()}")
    print(f"first run (may include the one-time model conversion): {warm:.1f} s\n")
    print(f"| stage | median s ({args.runs} uncached runs) | min | max |")
    print("|---|---|---|---|")
    for stage, values in per_stage.items():
        print(f"| {stage} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    print(f"| whole `make` (wall, incl. start-up) | {statistics.median(walls):.2f} | {min(walls):.2f} | {max(walls):.2f} |")
    print(f"| fully cached `make` (wall) | {statistics.median(cached):.2f} | {min(cached):.2f} | {max(cached):.2f} |")


if __name__ == "__main__":
    main()
