#!/usr/bin/env python3
"""Benchmark of the expert-knowledge store: load time, first query, median query.

The test suite checks what the store answers, not how fast (it runs on busy machines);
the speed is measured here instead. Prints a table and writes JSON:

    python tools/bench_knowledge.py                      # out/bench/knowledge.json
    python tools/bench_knowledge.py --n 200 --mode hybrid --out /tmp/knowledge.json

The queries are the labelled evaluation queries (hvrmet/knowledge/data/eval/queries.yaml),
taken in turn until ``--n`` have run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path


def bench(n: int, k: int, mode: str, root: Path | None = None) -> dict:
    """Time a fresh store's load, its first query and ``n`` further queries."""
    from hvrmet.knowledge import KnowledgeStore
    from hvrmet.knowledge.evaluate import load_queries

    t0 = time.perf_counter()
    store = KnowledgeStore(root) if root else KnowledgeStore()
    load_s = time.perf_counter() - t0

    queries = [q["query"] for q in load_queries(store.root)]
    t0 = time.perf_counter()
    store.search("first query about hail", k=k, mode=mode)  # builds the indexes
    first_s = time.perf_counter() - t0

    times = []
    for i in range(n):
        t0 = time.perf_counter()
        store.search(queries[i % len(queries)], k=k, mode=mode)
        times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "cards": len(store.cards), "mode": mode, "k": k, "n": n,
        "load_s": load_s, "first_query_s": first_s,
        "median_query_s": statistics.median(times) if times else None,
        "p90_query_s": times[min(len(times) - 1, int(0.9 * len(times)))] if times else None,
        "max_query_s": times[-1] if times else None,
    }


def table(res: dict) -> str:
    def ms(x: float | None) -> str:
        return "n/a" if x is None else f"{1000 * x:9.1f} ms"

    rows = [("load (KnowledgeStore())", ms(res["load_s"])),
            ("first query (builds indexes)", ms(res["first_query_s"])),
            (f"median query (n={res['n']}, {res['mode']})", ms(res["median_query_s"])),
            ("90th percentile query", ms(res["p90_query_s"])),
            ("slowest query", ms(res["max_query_s"]))]
    w = max(len(a) for a, _ in rows)
    lines = [f"knowledge store: {res['cards']} cards, k={res['k']}, {res['cpus']} CPUs, "
             f"load average {res['load_average']}", "-" * (w + 14)]
    lines += [f"{a:<{w}}  {b}" for a, b in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100, help="queries timed after the first (default 100)")
    ap.add_argument("--k", type=int, default=5, help="cards per query (default 5)")
    ap.add_argument("--mode", default="hybrid", help="search mode (default hybrid)")
    ap.add_argument("--root", type=Path, default=None, help="knowledge folder (default: the package's)")
    ap.add_argument("--out", type=Path, default=Path("out/bench/knowledge.json"),
                    help="JSON written here (default out/bench/knowledge.json)")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be at least 1")
    res = bench(args.n, args.k, args.mode, args.root)
    print(table(res))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
