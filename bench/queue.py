"""The workbench queue: the first page (50) of a shop's open cases, filtered by status,
soonest deadline first — at 1,000,000 cases in one shop (quick: 100,000).

Measured in-process, end to end (query building, the database, row conversion), median
of ≥ 20 runs after 3 warm-up runs, on PostgreSQL and SQLite:

- `shouhou.cases.selectors.queue` — one index range per status, merged in Python;
- the baseline, the plain ORM query the brief names:
  `Case.objects.filter(shop=…, is_open=True, status__in=…)
   .order_by(F('deadline_at').asc(nulls_last=True), 'id')[:50]` (same columns).

Three filters: two common statuses (3/8 of open cases), one rare status (0.1 %: an index
walk that filters rows would read most of the shop to fill a page), and no status (all
open cases). The plan of every statement is printed (EXPLAIN), to show the index used.

    .venv/bin/python -m bench.queue [--quick] [--db pg|sqlite|both]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

from bench import common as c

NAME = "queue"
RUNS = 30
FILTERS = {
    "2 common statuses": ("awaiting_merchant", "awaiting_merchant_receipt"),
    "1 rare status": ("in_arbitration",),
    "2 rare statuses": ("in_arbitration", "refunding"),
    "all open": (),
}


def _child(args: dict) -> dict:
    from datetime import datetime

    c.setup_django(args["url"])
    if args["op"] == "migrate":
        c.migrate()
        return {}
    if args["op"] == "generate":
        return c.generate_cases(
            args["n"],
            now=datetime.fromisoformat(args["now"]),
            shops=1,
            closed_every=3,
            rare_every=1000,
        )
    if args["op"] == "measure":
        return _measure(args)
    raise ValueError(args["op"])


def _measure(args: dict) -> dict:
    from django.db import connection
    from django.db.models import F
    from django.test.utils import CaptureQueriesContext

    from shouhou.cases import lifecycle as lc
    from shouhou.cases.actors import Actor
    from shouhou.cases.models import Case

    try:
        from shouhou.cases import selectors
    except ImportError:  # written by the API work; the plain query still measures the index
        selectors = None
    shop_id = args["shop_id"]
    actor = Actor(role=lc.ActorRole.AGENT, shop_id=shop_id, label="压测客服")
    fields = (
        selectors.SUMMARY_FIELDS
        if selectors
        else ("id", "number", "status", "deadline_at", "priority", "refund_fen")
    )

    def plain(statuses):
        qs = Case.objects.filter(shop_id=shop_id, is_open=True)
        if statuses:
            qs = qs.filter(status__in=statuses)
        qs = qs.order_by(F("deadline_at").asc(nulls_last=True), "id")
        return list(qs.values(*fields)[:50])

    def via_selectors(statuses):
        page = selectors.queue(actor, selectors.QueueFilters(status=statuses), limit=50)
        return page.items

    out = {}
    for label, statuses in FILTERS.items():
        for impl, fn in (("selectors.queue", via_selectors), ("plain ORM", plain)):
            if fn is via_selectors and selectors is None:
                continue
            for _ in range(3):
                rows = fn(statuses)
            samples = []
            for _ in range(args.get("runs", RUNS)):
                t0 = time.perf_counter()
                rows = fn(statuses)
                samples.append((time.perf_counter() - t0) * 1000)
            with CaptureQueriesContext(connection) as captured:
                check = fn(statuses)
            plans = [_explain(q["sql"]) for q in captured.captured_queries]
            out[f"{label}|{impl}"] = {
                "filter": label,
                "implementation": impl,
                "ms": c.summary(samples),
                "p90_ms": statistics.quantiles(samples, n=10)[-1],
                "rows": len(rows),
                "same_rows": [r["id"] for r in rows] == [r["id"] for r in check],
                "first_ids": [r["id"] for r in rows[:5]],
                "statements": len(captured.captured_queries),
                "plans": plans,
                "indexes": sorted({i for p in plans for i in _indexes(p)}),
            }
    out["_counts"] = {
        "cases": Case.objects.filter(shop_id=shop_id).count(),
        "open": Case.objects.filter(shop_id=shop_id, is_open=True).count(),
    }
    return out


def _explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
            return "\n".join(r[0] for r in cur.fetchall())
        cur.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(r[-1] for r in cur.fetchall())


def _indexes(plan: str) -> list[str]:
    return re.findall(r"(?:using|USING(?: COVERING)? INDEX) ([a-z_0-9]+)", plan)


def run(quick: bool = False, db: str = "both", runs: int = RUNS) -> dict:
    info = c.machine()
    load_before = c.load_average()
    now = c.now_utc()
    n = 30_000 if quick else 1_000_000
    rows, results = [], []
    for vendor in c.vendors(db):
        target = c.db_for(vendor, f"queue_{n}")
        target.create_empty()
        c.child(NAME, {"op": "migrate", "url": target.url})
        gen = c.child(NAME, {"op": "generate", "url": target.url, "n": n, "now": now})
        m = c.child(
            NAME,
            {"op": "measure", "url": target.url, "shop_id": gen["shop_ids"][0], "runs": runs},
        )
        target.drop()
        counts = m.pop("_counts")
        for r in m.values():
            r.update(database=vendor, cases=counts["cases"], open=counts["open"])
            results.append(r)
            rows.append(
                [
                    "PostgreSQL" if vendor == "postgresql" else "SQLite",
                    f"{counts['cases']:,} ({counts['open']:,} open)",
                    r["filter"],
                    r["implementation"],
                    r["ms"]["median"],
                    r["p90_ms"],
                    r["ms"]["max"],
                    r["rows"],
                    r["statements"],
                    ", ".join(r["indexes"]) or "—",
                ]
            )
    load_after = c.load_average()
    c.print_table(
        "Workbench queue 工作台队列 — first page of 50, sorted by deadline (ms, median of "
        f"{runs} runs)",
        [
            "database",
            "cases in the shop",
            "filter",
            "query",
            "median ms",
            "p90 ms",
            "max ms",
            "rows",
            "stmts",
            "indexes used",
        ],
        rows,
        caption=c.machine_line(info)
        + f"\nload average before/after: {load_before} / {load_after}"
        + "\nbaseline: the plain ORM query (filter shop, is_open, status__in; order by "
        "deadline nulls last, id; [:50]) in the same run, same data.",
    )
    for r in results:
        if r["implementation"] == "selectors.queue" or r["filter"] == "1 rare status":
            print(f"\n— EXPLAIN {r['database']} · {r['filter']} · {r['implementation']}")
            for plan in r["plans"]:
                print(plan)
    payload = {
        "benchmark": NAME,
        "machine": info,
        "load_average": {"before": load_before, "after": load_after},
        "quick": quick,
        "cases": n,
        "baseline": "plain ORM query (status__in, order by deadline nulls last, id)",
        "results": results,
    }
    c.save(NAME, payload)
    return payload


def main() -> None:
    if c.is_child():
        c.child_main(_child)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", default="both", choices=["both", "pg", "sqlite"])
    parser.add_argument("--runs", type=int, default=RUNS)
    a = parser.parse_args()
    run(quick=a.quick, db=a.db, runs=max(20, a.runs))


if __name__ == "__main__":
    main()
