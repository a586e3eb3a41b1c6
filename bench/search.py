#!/usr/bin/env python
"""Resident search benchmark: does 合疗怎么报销 find the matter? Top-1 / top-3 hit rates and latency.

One command (``.venv/bin/python bench/search.py``):

1. builds a throw-away SQLite database in a temp dir (``yiwang migrate``) and, in this process, loads
   the demo's catalogue and its default search synonyms through ``yiwang.demo.loader.load`` (no case
   history: ``--cases 0`` by default; the search reads the catalogue, the FAQ and the synonyms only);
2. runs every phrasing of bench/search_queries.json through ``yiwang.catalog.search.search`` (the
   function the portal and the API call) and counts a hit when the expected matter is first (top-1) or
   among the first three (top-3), per set: ``held_out`` (written before the search was changed and never
   tuned on) and ``tuning`` (the phrasings the synonyms and weights were tuned on);
3. times each query one by one after one warm-up query (p50 / p95 / max), and the first query in the
   process apart (the index and jieba's small dictionary are built then).

Misses are printed for the tuning set; for the held-out set only with ``--show-held-out`` (look at them
once you have stopped tuning, or the set is no longer held out). The baseline is the substring search
this replaced (matter name and keywords contain the folded query), in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

from common import (
    ROOT,
    BenchError,
    bench_env,
    elapsed,
    environment,
    log,
    migrate,
    percentile,
    run_benchmark,
    version,
)

QUERIES = ROOT / "bench" / "search_queries.json"
TARGET_TOP3 = 0.90


def rates(rows: list[tuple[str, str, list[str]]]) -> dict:
    n = len(rows)
    top1 = sum(1 for _, code, got in rows if got[:1] == [code])
    top3 = sum(1 for _, code, got in rows if code in got[:3])
    return {"n": n, "top1": top1 / n if n else None, "top3": top3 / n if n else None,
            "misses": [{"q": q, "expected": code, "got": got[:3]} for q, code, got in rows if code not in got[:3]]}


def substring_baseline(query: str, matters: list[tuple[str, str, str]]) -> list[str]:
    from yiwang.catalog.search import fold

    q = fold(query)
    return [code for code, name, keywords in matters if q and (q in fold(name) or q in fold(keywords))]


def measure(args) -> dict:
    import django

    django.setup()
    from yiwang.catalog.models import Matter, SearchSynonym
    from yiwang.catalog.search import search
    from yiwang.demo.loader import load

    log(f"loading the demo's catalogue ({args.cases} historical cases)")
    load(cases=args.cases, seed=2019, apps=())  # the apps' seeds add no matter residents search for
    matters = list(Matter.objects.filter(active=True).values_list("code", "name", "keywords"))
    log(f"  {len(matters)} matters, {SearchSynonym.objects.count()} synonyms")
    known = {code for code, _, _ in matters}
    sets = json.loads(QUERIES.read_text())
    missing = [r["code"] for name in ("held_out", "tuning") for r in sets[name] if r["code"] not in known]
    if missing:
        raise BenchError(f"expected matters not in the catalogue: {sorted(set(missing))}")

    t0 = time.perf_counter()
    search("老年证")
    first_ms = (time.perf_counter() - t0) * 1000
    out: dict = {"first_query_ms": round(first_ms, 1), "matters": len(matters)}
    ms: list[float] = []
    for name in ("held_out", "tuning"):
        rows, base = [], []
        for r in sets[name]:
            t0 = time.perf_counter()
            got = search(r["q"])
            ms.append((time.perf_counter() - t0) * 1000)
            rows.append((r["q"], r["code"], got))
            base.append((r["q"], r["code"], substring_baseline(r["q"], matters)))
        out[name] = rates(rows)
        out[name + "_baseline"] = {k: v for k, v in rates(base).items() if k != "misses"}
    out["latency"] = {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
                      "max_ms": round(max(ms), 2)}
    return out


def pct(x: float | None) -> str:
    return "  —  " if x is None else f"{x * 100:5.1f}%"


def report(r: dict, args) -> list[str]:
    lat = r["latency"]
    out = [f"search: {r['matters']} matters of the demo catalogue; bench/search_queries.json", "",
           f"{'set':<10}{'n':>4}{'top-1':>9}{'top-3':>9}   {'substring baseline top-1 / top-3':>34}"]
    for name in ("held_out", "tuning"):
        s, b = r[name], r[name + "_baseline"]
        out.append(f"{name:<10}{s['n']:>4}{pct(s['top1']):>9}{pct(s['top3']):>9}   "
                   f"{pct(b['top1']):>24} / {pct(b['top3'])}")
    held = r["held_out"]["top3"]
    out += ["", f"held-out top-3 {pct(held).strip()} (target ≥ {TARGET_TOP3:.0%}: "
                f"{'met' if held >= TARGET_TOP3 else 'MISSED'})",
            f"latency per query ({lat['n']} queries, one at a time): p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, "
            f"max {lat['max_ms']} ms; first query in the process (index built) {r['first_query_ms']} ms"]
    shown = ["tuning"] + (["held_out"] if args.show_held_out else [])
    for name in shown:
        for m in r[name]["misses"]:
            out.append(f"  {name} miss: {m['q']} — expected {m['expected']}, got {', '.join(m['got']) or 'nothing'}")
    if not args.show_held_out and r["held_out"]["misses"]:
        out.append(f"  held_out: {len(r['held_out']['misses'])} misses not shown (--show-held-out)")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=0, help="historical cases in the demo, default 0 (catalogue only)")
    ap.add_argument("--show-held-out", action="store_true", help="also print the held-out set's misses")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (the database)")
    ap.add_argument("--no-json", action="store_true", help="do not write bench/results/search-*.json")
    ap.add_argument("--budget", type=int, default=None, help="stop the run after this many seconds")
    args = ap.parse_args(argv)
    args.budget = args.budget or int(300 + args.cases / 10)
    return run_benchmark("search", ap, args, lambda tmp: bench(args, tmp), budget=args.budget)


def bench(args, tmp: Path) -> tuple[dict, int]:
    env = bench_env(tmp / "search.sqlite3", tmp)
    migrate(env, timeout=300)
    os.environ.update(env)  # Django is set up in this process, on that database
    r = measure(args)
    print()
    print("\n".join(report(r, args)))
    results = {
        "benchmark": "search", "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {"cases": args.cases, "queries": str(QUERIES.relative_to(ROOT))},
        "environment": environment(**{name: version(name) for name in ("jieba", "pypinyin", "opencc")}),
        **r, "elapsed_s": round(elapsed(), 1),
    }
    return results, 0


if __name__ == "__main__":
    sys.exit(main())
