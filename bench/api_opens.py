"""Case opens per second through the HTTP API, beside raw single-row INSERTs.

`shouhou serve` (gunicorn, 2 sync workers) runs as a subprocess on a free port with its
own SHOUHOU_DATA_DIR and SHOUHOU_DATABASE_URL. N concurrent clients (asyncio, one
connection each, pre-built requests so the client costs little of the shared CPU) POST
`/api/v1/cases` with an API key, each on a fresh pre-created order, for a fixed window;
every response must be 201. Measured on PostgreSQL (with Django's persistent connections,
and with SHOUHOU_DB_POOL=1 psycopg pooling) and on SQLite.

Baseline, in the same run, on the same database, at the same client concurrency: single-row
INSERT transactions per second (psycopg on PostgreSQL, sqlite3 with the app's pragmas on
SQLite) — the ceiling any write request could reach on this machine. The ratio says how
much of that the whole request path (HTTP, auth, validation, the service's checks and
writes, the detail response) keeps.

The request path is profiled in-process (pyinstrument over Django's test client, same
data): where the time goes, and the statements one open costs.

    .venv/bin/python -m bench.api_opens [--quick] [--db pg|sqlite|both] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench import common as c

NAME = "api_opens"
RAW_TABLE = "bench_raw_insert"


# --- children: prepare the database, profile ----------------------------------------------
def _child(args: dict) -> dict:
    c.setup_django(args["url"])
    if args["op"] == "prepare":
        return _prepare(args)
    if args["op"] == "profile":
        return _profile(args)
    raise ValueError(args["op"])


def _prepare(args: dict) -> dict:
    from datetime import timedelta

    from django.db import connection, transaction

    from shouhou.cases.models import ReturnAddress
    from shouhou.core.models import ApiKey, Shop
    from shouhou.customers.models import Customer
    from shouhou.orders.models import Order, OrderLine

    c.migrate()
    n = args["orders"]
    now = c.now_utc()
    with transaction.atomic():
        shop = Shop.objects.create(code="bench-api", name="接口压测店", platform="own")
        ReturnAddress.objects.create(
            shop=shop,
            label="杭州仓",
            contact_name="王仓管",
            phone="13900001111",
            address="浙江省杭州市余杭区文一西路 1 号",
            is_default=True,
        )
        key, secret = ApiKey.issue(shop, "压测")
        cust = Customer.objects.create(shop=shop, external_id="bench-buyer", nickname="买家")
        o0 = (Order.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        l0 = (OrderLine.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        placed = now - timedelta(days=3)
        c.insert_series(
            Order,
            n,
            {
                "id": f"({o0} + i)",
                "shop_id": c.P(shop.id),
                "external_id": "('AO' || i)",
                "customer_id": c.P(cust.id),
                "channel": c.P("api"),
                "status": c.P("delivered"),
                "placed_at": c.P(placed),
                "paid_at": c.P(placed),
                "shipped_at": c.P(placed + timedelta(days=1)),
                "delivered_at": c.P(now - timedelta(days=1)),
                "total_paid_fen": c.P(10000),
                "shipping_fee_fen": c.P(0),
                "has_shipping_insurance": c.P(False),
                "receiver_name": c.P("张三"),
                "receiver_phone": c.P("13800001234"),
                "receiver_address": c.P("上海市浦东新区张江路 99 弄"),
                "created_at": c.P(placed),
                "updated_at": c.P(placed),
            },
        )
        c.insert_series(
            OrderLine,
            n,
            {
                "id": f"({l0} + i)",
                "shop_id": c.P(shop.id),
                "order_id": f"({o0} + i)",
                "sku_id": "NULL",
                "external_id": c.P("L1"),
                "title": c.P("压测商品"),
                "quantity": c.P(1),
                "unit_price_fen": c.P(10000),
                "paid_fen": c.P(10000),
                "refunded_fen": c.P(0),
            },
        )
        c.reset_sequences(Order, OrderLine)
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute(
                    f"CREATE TABLE {RAW_TABLE} (id bigserial PRIMARY KEY, shop_id bigint "
                    "NOT NULL, payload text NOT NULL, created_at timestamptz NOT NULL)"
                )
            else:
                cur.execute(
                    f"CREATE TABLE {RAW_TABLE} (id integer PRIMARY KEY AUTOINCREMENT, "
                    "shop_id bigint NOT NULL, payload text NOT NULL, created_at text NOT NULL)"
                )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {"secret": secret, "shop_id": shop.id, "order0": o0, "line0": l0, "orders": n}


def body(order_id: int, line_id: int) -> bytes:
    return json.dumps(
        {
            "order_id": order_id,
            "type": "refund_only",
            "reason": "quality",
            "description": "收到商品有破损",
            "lines": [{"order_line_id": line_id, "quantity": 1}],
        },
        ensure_ascii=False,
    ).encode()


def _profile(args: dict) -> dict:
    """Open `count` cases through Django's test client, timed; then `count` more under
    pyinstrument, for where the time goes."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    try:
        from pyinstrument import Profiler  # pip install -e '.[bench]'
    except ImportError:
        Profiler = None

    client = Client(HTTP_AUTHORIZATION=f"Bearer {args['secret']}")
    first = args["first"]

    def post(i: int):
        r = client.post(
            "/api/v1/cases",
            data=body(args["order0"] + i, args["line0"] + i),
            content_type="application/json",
        )
        assert r.status_code == 201, r.content[:300]

    for i in range(5):  # warm: imports, first connection, caches
        post(first + i)
    with CaptureQueriesContext(connection) as one:
        post(first + 5)
    statements = [q["sql"][:110] for q in one.captured_queries]
    # The 201 carries the case detail (contract): time that part on its own too.
    from shouhou.cases import api as cases_api

    real_detail = cases_api.detail_json
    detail_seconds = [0.0]

    def timed_detail(*a, **kw):
        t = time.perf_counter()
        try:
            return real_detail(*a, **kw)
        finally:
            detail_seconds[0] += time.perf_counter() - t

    # Timed without the profiler (its sampling slows the code it watches), then sampled.
    n = args["count"]
    cases_api.detail_json = timed_detail
    t0 = time.perf_counter()
    for i in range(n):
        post(first + 6 + i)
    elapsed = time.perf_counter() - t0
    cases_api.detail_json = real_detail
    buckets, text = {"(pyinstrument not installed: no sampling)": 100.0}, ""
    if Profiler is not None:
        profiler = Profiler(interval=0.001)
        profiler.start()
        for i in range(n):
            post(first + 6 + n + i)
        profiler.stop()
        buckets = _buckets(profiler.last_session)
        text = profiler.output_text(
            unicode=True, color=False, show_all=False, time="percent_of_total"
        )
    return {
        "ms_in_detail_response": detail_seconds[0] / n * 1000,
        "opens": n,
        "in_process_opens_per_s": n / elapsed,
        "ms_per_open": elapsed / n * 1000,
        "statements_per_open": len(statements),
        "statements": statements,
        "buckets": buckets,
        "tree": text,
    }


BUCKETS = [
    # (label, fragments of "file:function" that mark the layer)
    ("database (driver + server wait)", ("psycopg", "sqlite3", "/db/backends/")),
    ("field encryption", ("crypto.py", "cryptography")),
    ("ORM: building SQL, making objects", ("/django/db/models/",)),
    ("pydantic / ninja (parse, validate, render)", ("/ninja/", "pydantic")),
    ("auth (API key)", ("auth.py",)),
    ("Django request/response, middleware", ("/django/",)),
]


def _bucket(stack: list[str]) -> str:
    for frame in reversed(stack):  # the innermost frame that names a layer decides
        for name, marks in BUCKETS:
            if any(m in frame for m in marks):
                return name
    return "other (our code, stdlib)"


def _buckets(session) -> dict[str, float]:
    """Self time of every sampled frame, grouped by the innermost recognisable layer."""
    from collections import Counter

    totals: Counter[str] = Counter()
    root = session.root_frame()

    def walk(frame, stack):
        here = f"{frame.file_path or ''}:{frame.function or ''}"
        stack = [*stack, here]
        own = frame.time - sum(ch.time for ch in frame.children)
        if own > 0:
            totals[_bucket(stack)] += own
        for child in frame.children:
            walk(child, stack)

    walk(root, [])
    total = sum(totals.values()) or 1.0
    return {k: round(v / total * 100, 1) for k, v in totals.most_common()}


# --- the server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`shouhou serve --workers 2` in its own process group (gunicorn directly if the
    `serve` command is missing)."""

    def __init__(self, url: str, data_dir: Path, *, pool: bool, workers: int = 2) -> None:
        self.port = free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PYTHONPATH": str(c.ROOT / "src"),
            "SHOUHOU_DATABASE_URL": url,
            "SHOUHOU_DATA_DIR": str(data_dir),
            "SHOUHOU_LOG_LEVEL": "ERROR",
            "SHOUHOU_DB_POOL": "1" if pool else "0",
        }
        shouhou = Path(sys.executable).with_name("shouhou")
        if shouhou.exists():
            argv = [
                str(shouhou),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ]
        else:
            argv = [
                sys.executable,
                "-m",
                "gunicorn",
                "shouhou.wsgi:application",
                "-w",
                str(workers),
                "--no-control-socket",
                "-b",
                f"127.0.0.1:{self.port}",
            ]
        self.log = open(data_dir / "server.log", "w")  # noqa: SIM115 — closed in stop()
        self.proc = subprocess.Popen(
            argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.command = " ".join(argv[:2]) + " …"
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/api/v1/openapi.json", timeout=2
                ).read()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group only
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# --- the load -----------------------------------------------------------------------------
async def _load(port: int, secret: str, ids, clients: int, seconds: float) -> dict:
    head = (
        "POST /api/v1/cases HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n"
        "Accept: application/json\r\n"
    )
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds

    async def one_client() -> None:
        reader = writer = None
        while time.perf_counter() < stop_at:
            try:
                order_id, line_id = next(ids)
            except StopIteration:
                return
            payload = body(order_id, line_id)
            request = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
            t0 = time.perf_counter()
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and "close" in value.lower():
                    close = True
            content = await reader.readexactly(length) if length else b""
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            if status != 201 and len(errors) < 5:
                errors.append(content[:300].decode(errors="replace"))
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    ok = statuses.get(201, 0)
    latencies.sort()
    return {
        "seconds": elapsed,
        "requests": sum(statuses.values()),
        "created": ok,
        "per_s": ok / elapsed,
        "statuses": statuses,
        "errors": errors,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000 if latencies else None,
    }


def raw_inserts(db: c.Db, clients: int, seconds: float) -> dict:
    """Single-row INSERT transactions, `clients` threads, one connection each."""
    counts = [0] * clients
    stop_at = time.perf_counter() + seconds
    barrier = threading.Barrier(clients)
    payload = body(1, 1).decode()

    def pg(i: int) -> None:
        import psycopg

        with psycopg.connect(db.url, autocommit=True) as conn:
            barrier.wait()
            while time.perf_counter() < stop_at:
                conn.execute(
                    f"INSERT INTO {RAW_TABLE} (shop_id, payload, created_at) "
                    "VALUES (%s, %s, now())",
                    (1, payload),
                )
                counts[i] += 1

    def lite(i: int) -> None:
        import sqlite3

        conn = sqlite3.connect(db.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # as the app's settings
        conn.execute("PRAGMA busy_timeout=30000")
        barrier.wait()
        while time.perf_counter() < stop_at:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                f"INSERT INTO {RAW_TABLE} (shop_id, payload, created_at) "
                "VALUES (?, ?, datetime('now'))",
                (1, payload),
            )
            conn.execute("COMMIT")
            counts[i] += 1
        conn.close()

    fn = pg if db.vendor == "postgresql" else lite
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "inserts": sum(counts), "per_s": sum(counts) / elapsed}


# --- the parent ---------------------------------------------------------------------------
def run(quick: bool = False, db: str = "both", clients: int = 8) -> dict:
    info = c.machine()
    load_before = c.load_average()
    seconds = 3.0 if quick else 10.0
    windows = 1 if quick else 3
    rows, results, profiles = [], [], {}
    # quick: PostgreSQL only (with "both"), to keep run_all --quick near a minute.
    for vendor in c.vendors("pg" if quick and db == "both" and c.pg_available() else db):
        variants = [("CONN_MAX_AGE=60", False)]
        if vendor == "postgresql" and not quick:
            variants.append(("SHOUHOU_DB_POOL=1", True))
        target = c.db_for(vendor, "api")
        target.create_empty()
        need = int((1500 if vendor == "postgresql" else 800) * seconds * windows * len(variants))
        prep = c.child(NAME, {"op": "prepare", "url": target.url, "orders": need + 1200})
        ids = iter((prep["order0"] + i, prep["line0"] + i) for i in range(need + 200))
        raw = [raw_inserts(target, clients, min(seconds, 5.0)) for _ in range(windows)]
        for label, pool in variants:
            data_dir = c.DATA_DIR / f"api_{vendor}"
            shutil.rmtree(data_dir, ignore_errors=True)
            server = Server(target.url, data_dir, pool=pool)
            try:
                asyncio.run(_load(server.port, prep["secret"], ids, clients, 1.0))  # warm-up
                runs = [
                    asyncio.run(_load(server.port, prep["secret"], ids, clients, seconds))
                    for _ in range(windows)
                ]
            finally:
                server.stop()
            for r in runs:
                assert r["created"] == r["requests"], (r["statuses"], r["errors"])
            rate = c.summary([r["per_s"] for r in runs])
            raw_rate = c.summary([r["per_s"] for r in raw])
            entry = {
                "database": vendor,
                "settings": label,
                "server": server.command + " --workers 2",
                "clients": clients,
                "window_seconds": seconds,
                "opens_per_s": rate,
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p95_ms": statistics.median(r["p95_ms"] for r in runs),
                "raw_inserts_per_s": raw_rate,
                "ratio": rate["median"] / raw_rate["median"],
                "runs": runs,
                "raw_runs": raw,
            }
            results.append(entry)
            rows.append(
                [
                    target.label,
                    label,
                    clients,
                    rate["median"],
                    entry["p50_ms"],
                    entry["p95_ms"],
                    raw_rate["median"],
                    f"{entry['ratio'] * 100:.1f} %",
                    sum(r["created"] for r in runs),
                    len(runs),
                ]
            )
        # Where the time goes, in-process on the same data (after the served opens).
        profiles[vendor] = c.child(
            NAME,
            {
                "op": "profile",
                "url": target.url,
                "secret": prep["secret"],
                "order0": prep["order0"],
                "line0": prep["line0"],
                "first": next(ids)[0] - prep["order0"],  # the first order nobody used
                "count": 20 if quick else 200,
            },
        )
        target.drop()
    load_after = c.load_average()
    c.print_table(
        "Case opens through the API 接口开单 — POST /api/v1/cases, 201s per second (median of "
        f"{windows} × {seconds:.0f} s)",
        [
            "database",
            "connections",
            "clients",
            "opens/s",
            "p50 ms",
            "p95 ms",
            "raw INSERT tx/s",
            "ratio",
            "cases",
            "windows",
        ],
        rows,
        caption=c.machine_line(info)
        + f"\nload average before/after: {load_before} / {load_after}"
        + "\nserver: shouhou serve (gunicorn, 2 sync workers) on this machine; clients on the "
        "same machine. Baseline: single-row INSERT transactions/s on the same database, same "
        "concurrency (psycopg / sqlite3), same run.",
    )
    for vendor, p in profiles.items():
        print(
            f"\n— in-process ({vendor}, {p['opens']} opens timed, {p['opens']} sampled): "
            f"{p['ms_per_open']:.1f} ms per open, {p['statements_per_open']} SQL statements; "
            f"of which {p['ms_in_detail_response']:.1f} ms build the case detail the 201 carries"
        )
        c.print_table(
            f"where the time goes ({vendor})",
            ["layer (innermost recognised frame)", "% of samples"],
            [[k, v] for k, v in p["buckets"].items()],
        )
        for s in p["statements"]:
            print("   ", s)
    payload = {
        "benchmark": NAME,
        "machine": info,
        "load_average": {"before": load_before, "after": load_after},
        "quick": quick,
        "baseline": "single-row INSERT transactions/s, same database and concurrency",
        "results": results,
        "profiles": profiles,
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
    parser.add_argument("--clients", type=int, default=8)
    a = parser.parse_args()
    run(quick=a.quick, db=a.db, clients=a.clients)


if __name__ == "__main__":
    main()
