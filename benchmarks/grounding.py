"""Grounding of the default script provider: how much of what SmolLM2 writes from an article is in the article.

    .venv/bin/python benchmarks/grounding.py [--articles 12] [--skip-headline-only] [--json out.json]
    .venv/bin/python benchmarks/grounding.py --report out.json      # the tables again, from a saved run

For each sample article (tests/data/articles/, written for this project, CC0) the DEFAULT local script provider
(SmolLM2-135M, with the word budget a default run gives it) writes a script twice:
1. from the article (`--article`): the grounding check reports the items it checked (numbers, money, dates, names),
   how many of the final script's items are grounded, how many of the model's own draft items were, and how many
   sentences it replaced or dropped;
2. from the article's headline alone (no source): the same check lists the items the model invented.
Only the script stage runs (the other stages do not change what is said). The model is loaded once (its conversion,
if needed, happens before the first timed script). Prints markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--skip-headline-only", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--report", type=Path, help="print the tables of a saved --json run and stop")
    args = parser.parse_args()
    if args.report:
        report(json.loads(args.report.read_text()))
        return

    from pipeline.config import load_settings
    from pipeline.grounding import ground_script
    from pipeline.runner import build_plan
    from pipeline.sources.article import read_article

    settings = load_settings()
    if settings.providers.script != "local":
        sys.exit("the benchmark measures the default script provider: unset NEWSREEL_PROVIDERS__SCRIPT")
    provider = build_plan(settings).providers["script"]
    files = sorted((REPO / "tests" / "data" / "articles").glob("[0-9][0-9]-*.md"))[: args.articles]
    print(f"# {platform.node()}, {os.cpu_count()} CPUs, load {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"script provider {provider.name}, {provider.params.words} words", flush=True)
    t0 = time.perf_counter()
    provider._load(lambda fraction, message="": None)  # load (and convert once) outside the timed scripts
    print(f"# model loaded in {time.perf_counter() - t0:.1f} s", flush=True)

    rows = []
    with tempfile.TemporaryDirectory() as work:
        for path in files:
            source = read_article(path)
            headline = source.title or path.stem
            row: dict = {"article": path.stem, "headline": headline, "article_words": source.words}
            t0 = time.perf_counter()
            draft = provider.run(headline=headline, workdir=Path(work), progress=lambda f, m="": None, source=source)
            script = ground_script(draft, headline=headline, source=source)
            row["sourced"] = {"seconds": round(time.perf_counter() - t0, 1), "words": script.word_count,
                              "grounding": script.notes["grounding"], "from_source": script.notes.get("from_source"),
                              "draft": draft.sentences, "sentences": script.sentences}
            if not args.skip_headline_only:
                t0 = time.perf_counter()
                plain = provider.run(headline=headline, workdir=Path(work), progress=lambda f, m="": None)
                plain = ground_script(plain, headline=headline, source=None)  # unsourced: nothing replaced
                row["headline_only"] = {"seconds": round(time.perf_counter() - t0, 1), "words": plain.word_count,
                                        "grounding": plain.notes["grounding"], "sentences": plain.sentences}
            rows.append(row)
            g = row["sourced"]["grounding"]
            print(f"# {path.stem}: {g['grounded']}/{g['checked']} grounded, draft {g['draft']['grounded']}/"
                  f"{g['draft']['checked']}, replaced {g['replaced']}, dropped {g['dropped']}, "
                  f"{row['sourced']['seconds']} s", flush=True)
    report(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f} %" if b else "–"


def report(rows: list[dict]) -> None:
    print("\n## From the article\n")
    print("| article | items checked | grounded | model's draft grounded | mixed | replaced | dropped "
          "| model's draft words | words | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    total = {"checked": 0, "grounded": 0, "dchecked": 0, "dgrounded": 0, "replaced": 0, "dropped": 0, "mixed": 0}
    for row in rows:
        s = row["sourced"]
        g = s["grounding"]
        d = g["draft"]
        total["checked"] += g["checked"]
        total["grounded"] += g["grounded"]
        total["dchecked"] += d["checked"]
        total["dgrounded"] += d["grounded"]
        total["replaced"] += g["replaced"]
        total["dropped"] += g["dropped"]
        total["mixed"] += g.get("mixed", 0)
        model = (s.get("from_source") or {}).get("model_words", "?")  # before the budget cut and the check
        print(f"| {row['article']} | {g['checked']} | {pct(g['grounded'], g['checked'])} | "
              f"{pct(d['grounded'], d['checked'])} ({d['grounded']}/{d['checked']}) | {g.get('mixed', 0)} | "
              f"{g['replaced']} | {g['dropped']} | {model} | {s['words']} | {s['seconds']} |")
    print(f"| **all** | {total['checked']} | **{pct(total['grounded'], total['checked'])}** | "
          f"{pct(total['dgrounded'], total['dchecked'])} ({total['dgrounded']}/{total['dchecked']}) | "
          f"{total['mixed']} | {total['replaced']} | {total['dropped']} | | | |")
    if not any("headline_only" in r for r in rows):
        return
    print("\n## From the headline alone (unsourced)\n")
    print("| article | items checked | in the headline | invented (listed) | words | seconds |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        h = row.get("headline_only")
        if not h:
            continue
        g = h["grounding"]
        invented = ", ".join(g["ungrounded"][:8]) + (" …" if len(g["ungrounded"]) > 8 else "")
        print(f"| {row['article']} | {g['checked']} | {g['grounded']} | {g['checked'] - g['grounded']}: {invented} | "
              f"{h['words']} | {h['seconds']} |")


if __name__ == "__main__":
    main()
