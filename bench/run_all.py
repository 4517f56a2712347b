"""Run every benchmark and print one combined table (and bench/results/run_all.json).

.venv/bin/python bench/run_all.py --quick     # small sizes, one pass each (make bench)
.venv/bin/python bench/run_all.py             # full sizes: 1M cases; takes a while
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script, Python puts bench/ first on the path, where bench/queue.py would
    # shadow the standard library's queue: put the repository there instead.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path[:0] = [str(_here.parent), str(_here.parent / "src")]

import argparse  # noqa: E402
import time  # noqa: E402

from bench import api_opens, queue, sweep  # noqa: E402
from bench import assistant as assistant_bench  # noqa: E402
from bench import common as c  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", default="both", choices=["both", "pg", "sqlite"])
    parser.add_argument(
        "--only",
        nargs="*",
        choices=["sweep", "queue", "api_opens", "assistant"],
        help="run only these",
    )
    a = parser.parse_args()
    wanted = a.only or ["sweep", "queue", "api_opens", "assistant"]
    info = c.machine()
    t0 = time.perf_counter()
    rows: list[list] = []
    seconds: dict[str, float] = {}
    if "sweep" in wanted:
        t = time.perf_counter()
        s = sweep.run(quick=a.quick, db=a.db)
        seconds["sweep"] = time.perf_counter() - t
        for e in s["results"]:
            pc = e["per_case"]
            rows.append(
                [
                    "sweep",
                    f"{_db(e['database'])}, {e['open_cases']:,} open / {e['due']:,} due, "
                    f"{e['sweep']}",
                    f"{e['batched']['rate_per_s']['median']:,.0f} due actions/s",
                    f"per-case services {pc['rate_per_s']['median']:,.0f}/s" if pc else "—",
                    f"{e['batched']['rate_per_s']['median'] / pc['rate_per_s']['median']:.0f}×"
                    if pc
                    else "—",
                ]
            )
            rows.append(
                [
                    "sweep, 0 due",
                    f"{_db(e['database'])}, {e['open_cases']:,} open",
                    f"{e['idle_sweep_ms']['median']:.1f} ms",
                    "—",
                    "—",
                ]
            )
    if "queue" in wanted:
        t = time.perf_counter()
        q = queue.run(quick=a.quick, db=a.db)
        seconds["queue"] = time.perf_counter() - t
        for r in q["results"]:
            if r["implementation"] != "selectors.queue":
                continue
            base = next(
                (
                    b
                    for b in q["results"]
                    if b["database"] == r["database"]
                    and b["filter"] == r["filter"]
                    and b["implementation"] == "plain ORM"
                ),
                None,
            )
            rows.append(
                [
                    "queue page",
                    f"{_db(r['database'])}, {r['cases']:,} cases, {r['filter']}",
                    f"{r['ms']['median']:.1f} ms",
                    f"plain ORM {base['ms']['median']:.1f} ms" if base else "—",
                    f"{base['ms']['median'] / r['ms']['median']:.1f}×" if base else "—",
                ]
            )
    if "api_opens" in wanted:
        t = time.perf_counter()
        p = api_opens.run(quick=a.quick, db=a.db)
        seconds["api_opens"] = time.perf_counter() - t
        for e in p["results"]:
            rows.append(
                [
                    "API opens",
                    f"{_db(e['database'])}, {e['settings']}, {e['clients']} clients",
                    f"{e['opens_per_s']['median']:,.0f} opens/s",
                    f"raw INSERT {e['raw_inserts_per_s']['median']:,.0f} tx/s",
                    f"{e['ratio'] * 100:.1f} % of raw",
                ]
            )
    if "assistant" in wanted:
        t = time.perf_counter()
        r = assistant_bench.run(quick=a.quick)
        seconds["assistant"] = time.perf_counter() - t
        o, lat = r["accuracy"]["overall"], r["latency"]
        snow = o.get("snownlp")
        rows.append(
            [
                "sentiment",
                f"{o['n']:,} held-out reviews, accuracy / macro-F1",
                f"{o['ours']['accuracy']:.4f} / {o['ours']['macro_f1']:.4f}",
                f"SnowNLP {snow['accuracy']:.4f} / {snow['macro_f1']:.4f}" if snow else "—",
                f"{(o['ours']['accuracy'] - snow['accuracy']) * 100:+.1f} pts" if snow else "—",
            ]
        )
        snow_lat = lat["snownlp_reviews"]
        rows.append(
            [
                "sentiment latency",
                f"one review per call, {lat['sentiment_reviews']['n']:,} calls",
                f"{lat['sentiment_reviews']['median_ms']:.2f} ms median",
                f"SnowNLP {snow_lat['median_ms']:.1f} ms" if snow_lat else "—",
                f"{snow_lat['median_ms'] / lat['sentiment_reviews']['median_ms']:.0f}× faster"
                if snow_lat
                else "—",
            ]
        )
        rows.append(
            [
                "intent latency",
                f"one chat message per call, {lat['intent_chat']['n']:,} calls",
                f"{lat['intent_chat']['median_ms']:.2f} ms median",
                "—",
                "—",
            ]
        )
    total = time.perf_counter() - t0
    c.print_table(
        "shouhou benchmarks 售后压测" + (" (quick)" if a.quick else ""),
        ["benchmark", "what", "result (median)", "baseline, same run", "vs baseline"],
        rows,
        caption=c.machine_line(info)
        + f"\nload average now: {c.load_average()} · took {total:.0f} s ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
        + ")",
    )
    c.save(
        "run_all",
        {"machine": info, "quick": a.quick, "seconds": seconds, "rows": rows},
    )


def _db(vendor: str) -> str:
    return "PostgreSQL" if vendor == "postgresql" else "SQLite"


if __name__ == "__main__":
    main()
