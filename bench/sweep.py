"""Deadline sweep: due actions per second, and that the cost follows the due cases.

For each size (10k / 100k / 1M open cases, 10 % of them due) a dataset is generated once
and cloned for every repeat; each repeat sweeps everything due with the batched sweep
(`shouhou.cases.deadlines.sweep`, batches of SHOUHOU_SWEEP_BATCH = 500). The baseline, in
the same run and on the same data, is the per-case sweep through the services
(`sweep_per_case`, what the sweep was before). A sweep with nothing due over the largest
dataset shows that open cases which are not due cost nothing.

    .venv/bin/python -m bench.sweep            # 10k, 100k, 1M on PostgreSQL; 10k, 100k SQLite
    .venv/bin/python -m bench.sweep --quick    # 10k, 100k on PostgreSQL
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta

from bench import common as c

NAME = "sweep"


# --- children -----------------------------------------------------------------------------
def _child(args: dict) -> dict:
    c.setup_django(args["url"])
    if args["op"] == "migrate":
        c.migrate()
        return {}
    now = datetime.fromisoformat(args["now"])
    if args["op"] == "size":
        return _size(args, now)
    if args["op"] == "sweep":
        return _measure_sweep(args, now)
    raise ValueError(args["op"])


def _size(args: dict, now: datetime) -> dict:
    """Everything for one database and size in one process: generate the dataset once,
    then sweep a fresh clone of it for every repeat of every variant."""
    schema = c.Db(**args["schema"])
    tmpl = schema.clone(c.db_for(schema.vendor, f"sweep_{args['n']}").name)
    c.use_db(tmpl)
    gen = c.generate_cases(args["n"], now=now, shops=4)
    out: dict = {"generate": gen, "variants": {}, "per_case": [], "idle": []}

    def on_clones(reps: int, measure) -> list[dict]:
        runs = []
        for _ in range(reps):
            c.use_db(schema)  # nobody may be connected to a template being copied
            run_db = tmpl.clone(tmpl.name + "_run")
            try:
                c.use_db(run_db)
                runs.append(measure(run_db))
            finally:
                c.use_db(schema)
                run_db.drop()
        return runs

    for label, batch, workers in args["variants"]:
        base = {"mode": "batched", "batch": batch}
        if workers == 1:
            measure = lambda db, base=base: _measure_sweep(base, now)  # noqa: E731
        else:
            measure = lambda db, base=base, workers=workers: _workers(db, base, now, workers)  # noqa: E731
        out["variants"][label] = on_clones(args["reps"], measure)
    if args["baseline_reps"]:
        out["per_case"] = on_clones(
            args["baseline_reps"],
            lambda db: _measure_sweep({"mode": "per_case", "batch": 500}, now),
        )
    # Nothing due: the dataset itself, swept a little before its first deadline.
    c.use_db(tmpl)
    out["idle"] = [
        _measure_sweep({"mode": "batched", "batch": 500}, now - timedelta(hours=2))
        for _ in range(args["reps"])
    ]
    c.use_db(schema)
    tmpl.drop()
    return out


def _workers(db: c.Db, base: dict, now: datetime, workers: int) -> dict:
    """Several sweep processes on one clone at once (SKIP LOCKED shares the work out)."""
    from django.db import connections

    connections["default"].close()
    start_at = time.time() + 5  # past every child's start-up
    parts = c.children(
        NAME, [{**base, "op": "sweep", "url": db.url, "now": now, "start_at": start_at}] * workers
    )
    wall = max(p["ended"] for p in parts) - min(p["started"] for p in parts)
    return {
        "seconds": wall,
        "due_before": max(p["due_before"] for p in parts),
        "due_after": min(p["due_after"] for p in parts),
        "applied": sum(p["applied"] for p in parts),
        "failed": sum(p["failed"] for p in parts),
        "per_case": sum(p["per_case"] for p in parts),
        "batches": sum(p["batches"] for p in parts),
        "queries": sum(p["queries"] for p in parts),
        "by_action": parts[0]["by_action"],
        "workers": [p["applied"] for p in parts],
    }


def _measure_sweep(args: dict, now: datetime) -> dict:
    from django.db import connection

    from shouhou.cases import deadlines
    from shouhou.cases.models import Case, RefundInstruction, TimelineEvent

    due_before = Case.objects.filter(deadline_at__lte=now).count()
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    fn = deadlines.sweep if args["mode"] == "batched" else deadlines.sweep_per_case
    Case.objects.exists()  # connect before the clock starts
    if "start_at" in args:
        c.wait_until(args["start_at"])
    started = time.time()
    with connection.execute_wrapper(count), c.Timer() as t:
        result = fn(now=now, batch_size=args.get("batch"), max_batches=args.get("max_batches"))
    ended = time.time()
    due_after = Case.objects.filter(deadline_at__lte=now).count()
    return {
        "seconds": t.seconds,
        "started": started,
        "ended": ended,
        "due_before": due_before,
        "due_after": due_after,
        "applied": result.applied,
        "failed": result.failed,
        "per_case": result.per_case,
        "batches": result.batches,
        "by_action": result.by_action,
        "queries": queries[0],
        "refunds": RefundInstruction.objects.count(),
        "deadline_events": TimelineEvent.objects.filter(by_deadline=True).count(),
    }


# --- the parent ---------------------------------------------------------------------------
VARIANTS = [
    # (label, batch size, workers)
    ("batched, batch 500", 500, 1),
    ("batched, batch 2000", 2000, 1),
    ("batched, batch 500, 2 workers", 500, 2),
]


def run(quick: bool = False, db: str = "both", repeats: int | None = None) -> dict:
    info = c.machine()
    load_before = c.load_average()
    now = c.now_utc()
    if quick:
        plan = {"postgresql": [10_000, 30_000], "sqlite": []}
        baseline_sizes = {10_000}
        variants = VARIANTS[:1]
    else:
        plan = {"postgresql": [10_000, 100_000, 1_000_000], "sqlite": [10_000, 100_000]}
        baseline_sizes = {10_000, 100_000}
        variants = VARIANTS
    rows, results = [], []
    for vendor in c.vendors(db):
        sizes = plan[vendor] or ([10_000] if db == "sqlite" else [])
        if not sizes:
            continue
        schema = c.db_for(vendor, "sweep_schema")
        schema.create_empty()
        c.child(NAME, {"op": "migrate", "url": schema.url})
        for n in sizes:
            # quick is a smoke run (whole run_all --quick in about a minute): few repeats.
            reps = repeats or ((2 if n < 100_000 else 1) if quick else 3 if n >= 1_000_000 else 5)
            got = c.child(
                NAME,
                {
                    "op": "size",
                    "url": schema.url,
                    "schema": {"vendor": schema.vendor, "name": schema.name},
                    "n": n,
                    "now": now,
                    "variants": [
                        v for v in variants if not (v[2] > 1 and vendor == "sqlite")
                    ],  # SQLite has one writer at a time: a second worker only queues
                    "reps": reps,
                    "baseline_reps": (1 if quick else 3) if n in baseline_sizes else 0,
                    # The per-case sweep runs ~30-100 cases/s here: it is timed over the
                    # first due cases only, not drained.
                    "baseline": {"batch": 100, "max_batches": 2 if quick else 10},
                },
            )
            for label, runs in got["variants"].items():
                entry = _entry(
                    vendor, n, got["generate"], label, runs, got["per_case"], got["idle"]
                )
                results.append(entry)
                rows.append(_row(entry))
        schema.drop()
    load_after = c.load_average()
    c.print_table(
        "Deadline sweep 超时扫描 — due actions per second (median of repeats)",
        [
            "database",
            "sweep",
            "open cases",
            "due",
            "due actions/s",
            "µs per due",
            "stmts per due",
            "per-case /s (baseline)",
            "speed-up",
            "0 due: ms",
            "runs",
        ],
        rows,
        caption=c.machine_line(info)
        + f"\nload average before/after: {load_before} / {load_after}"
        + "\nbaseline: the per-case sweep through the services (deadlines.sweep_per_case), "
        "same data, same run, timed over its first 200 (quick) / 1,000 due cases. Each batch is one transaction. 10 % of open cases due; "
        "actions: " + ", ".join(sorted({m[3] for m in c.CASE_MIX})),
    )
    payload = {
        "benchmark": NAME,
        "machine": info,
        "load_average": {"before": load_before, "after": load_after},
        "quick": quick,
        "now": str(now),
        "mix": [m[3] for m in c.CASE_MIX],
        "baseline": "deadlines.sweep_per_case (per-case services) on the same data",
        "results": results,
    }
    c.save(NAME, payload)
    return payload


def _entry(vendor, n, gen, label, batched, per_case, idle) -> dict:
    def rate(r):
        return r["applied"] / r["seconds"] if r["seconds"] else 0.0

    assert all(r["applied"] == 0 and r["due_before"] == 0 for r in idle), idle
    for r in batched:
        assert r["due_after"] == 0, r  # the sweep drained everything due
        assert r["applied"] + r["failed"] == r["due_before"], r
    for r in per_case:
        assert r["applied"] + r["failed"] == r["due_before"] - r["due_after"], r
    entry = {
        "database": vendor,
        "sweep": label,
        "open_cases": n,
        "due": gen["due"],
        "generate_seconds": gen["generate_seconds"],
        "batched": {
            "rate_per_s": c.summary([rate(r) for r in batched]),
            "seconds": c.summary([r["seconds"] for r in batched]),
            "us_per_due": c.summary([r["seconds"] / r["applied"] * 1e6 for r in batched]),
            # Statements through Django's cursor, plus the two COPYs per batch.
            "statements_per_due": (batched[0]["queries"] + 2 * batched[0]["batches"])
            / max(1, batched[0]["applied"]),
            "by_action": batched[0]["by_action"],
            "failed": batched[0]["failed"],
            "runs": batched,
        },
        "per_case": None,
        "idle_sweep_ms": c.summary([r["seconds"] * 1000 for r in idle]),
    }
    if per_case:
        entry["per_case"] = {
            "rate_per_s": c.summary([rate(r) for r in per_case]),
            "statements_per_due": per_case[0]["queries"] / max(1, per_case[0]["applied"]),
            "runs": per_case,
        }
    return entry


def _row(e: dict) -> list:
    b = e["batched"]
    pc = e["per_case"]
    return [
        "PostgreSQL" if e["database"] == "postgresql" else "SQLite",
        e["sweep"],
        e["open_cases"],
        e["due"],
        b["rate_per_s"]["median"],
        b["us_per_due"]["median"],
        b["statements_per_due"],
        pc["rate_per_s"]["median"] if pc else None,
        f"{b['rate_per_s']['median'] / pc['rate_per_s']['median']:.0f}×" if pc else None,
        e["idle_sweep_ms"]["median"],
        b["rate_per_s"]["n"],
    ]


def main() -> None:
    if c.is_child():
        c.child_main(_child)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", default="both", choices=["both", "pg", "sqlite"])
    parser.add_argument("--repeats", type=int)
    a = parser.parse_args()
    run(quick=a.quick, db=a.db, repeats=a.repeats)


if __name__ == "__main__":
    main()
