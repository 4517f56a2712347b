"""What every benchmark shares: the machine, the databases, fast data, children, tables.

A benchmark is a parent that prints and saves, and children that measure: each
measurement runs in its own `python -m bench.<name> --child '<json>'` process, pointed at
its own database by SHOUHOU_DATABASE_URL, so PostgreSQL and SQLite runs never share a
Django connection, a cache or a warm interpreter with each other.

Data is generated inside the database (`generate_series` on PostgreSQL, a recursive CTE
on SQLite): a million cases with their orders, lines and case lines take seconds, not the
hours the services would. A dataset is generated once into a template database and
cloned for every repeat (`CREATE DATABASE … TEMPLATE`, or a file copy for SQLite), so each
repeat of a sweep starts from the same state.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR", "/tmp/bench"))
PG_SERVER = os.environ.get("BENCH_PG", "postgresql://root@127.0.0.1:5432")
PG_PREFIX = "shouhou_bench"
# One secret for every process a benchmark starts. Without SHOUHOU_SECRET_KEY each data dir
# makes its own (settings: DATA_DIR/secret-key), so rows a child writes with one data dir
# (field encryption, signed links) would not decrypt in a server started with another.
os.environ.setdefault("SHOUHOU_SECRET_KEY", "shouhou-bench-only-not-a-production-secret")


# --- the machine --------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    import django
    import psycopg

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import sqlite3

    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg": psycopg.__version__,
        "sqlite": sqlite3.sqlite_version,
        "postgresql": None,
    }
    try:
        with psycopg.connect(pg_url("postgres"), autocommit=True, connect_timeout=3) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            for name in ("shared_buffers", "synchronous_commit", "max_connections"):
                info[f"pg_{name}"] = conn.execute(f"SHOW {name}").fetchone()[0]
    except psycopg.Error:
        pass
    return info


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['cpu']} · {info['cores']} cores · {info['ram_gb']} GB RAM · "
        f"Python {info['python']} · Django {info['django']} · "
        f"PostgreSQL {info['postgresql'] or 'absent'} · SQLite {info['sqlite']}"
    )


# --- databases ----------------------------------------------------------------------------
def pg_url(db: str) -> str:
    return f"{PG_SERVER}/{db}"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def pg_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(pg_url("postgres"), autocommit=True, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(pg_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)


def pg_drop(db: str) -> None:
    assert db.startswith(PG_PREFIX), db  # never anything but our own databases
    _pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def pg_create(db: str, template: str | None = None) -> None:
    pg_drop(db)
    if template:
        # FILE_COPY copies the files instead of WAL-logging every block: seconds for 1M rows.
        _pg_admin(f'CREATE DATABASE "{db}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    else:
        _pg_admin(f'CREATE DATABASE "{db}"')


@dataclass
class Db:
    """A benchmark database: `name` is a PostgreSQL database or a SQLite file stem."""

    vendor: str  # "postgresql" | "sqlite"
    name: str

    @property
    def path(self) -> Path:
        return DATA_DIR / f"{self.name}.sqlite3"

    @property
    def url(self) -> str:
        return pg_url(self.name) if self.vendor == "postgresql" else sqlite_url(self.path)

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.vendor == "postgresql" else "SQLite"

    def drop(self) -> None:
        if self.vendor == "postgresql":
            pg_drop(self.name)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def create_empty(self) -> None:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        self.drop()
        if self.vendor == "postgresql":
            pg_create(self.name)

    def clone(self, name: str) -> Db:
        copy = Db(self.vendor, name)
        if self.vendor == "postgresql":
            pg_create(name, template=self.name)
        else:
            copy.drop()
            shutil.copyfile(self.path, copy.path)
        return copy


def db_for(vendor: str, name: str) -> Db:
    return Db(vendor, f"{PG_PREFIX}_{name}" if vendor == "postgresql" else f"bench_{name}")


def vendors(selected: str = "both") -> list[str]:
    out = []
    if selected in {"both", "pg", "postgresql"}:
        if pg_available():
            out.append("postgresql")
        else:
            print("PostgreSQL is not reachable at", PG_SERVER, "— skipping it", file=sys.stderr)
    if selected in {"both", "sqlite"}:
        out.append("sqlite")
    return out


# --- Django in a child --------------------------------------------------------------------
def setup_django(url: str, *, pool: bool = False) -> None:
    os.environ["SHOUHOU_DATABASE_URL"] = url
    os.environ.setdefault("SHOUHOU_DATA_DIR", str(DATA_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shouhou.settings")
    os.environ.setdefault("SHOUHOU_LOG_LEVEL", "ERROR")
    if pool:
        os.environ["SHOUHOU_DB_POOL"] = "1"
    import django

    django.setup()


def use_db(db: Db) -> None:
    """Point this process's Django connection at another benchmark database."""
    from django.db import connections

    conn = connections["default"]
    conn.close()
    conn.settings_dict["NAME"] = db.name if db.vendor == "postgresql" else str(db.path)


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def child(module: str, args: dict, *, timeout: float | None = None) -> dict:
    """Run `python -m bench.<module> --child <json>` and return the dict it prints last."""
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--child", json.dumps(args, default=str)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(
        f"bench.{module} child failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )


def children(module: str, args_list: list[dict], *, timeout: float | None = None) -> list[dict]:
    """Run several children at once (e.g. two sweep workers) and return their results."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", f"bench.{module}", "--child", json.dumps(a, default=str)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for a in args_list
    ]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=timeout)
        for line in reversed(stdout.splitlines()):
            if line.startswith("RESULT "):
                out.append(json.loads(line[len("RESULT ") :]))
                break
        else:
            raise RuntimeError(f"bench.{module} child failed:\n{stdout[-2000:]}\n{stderr[-4000:]}")
    return out


def wait_until(start: float) -> None:
    """Children started together begin measuring at the same wall-clock instant."""
    delay = start - time.time()
    if delay > 0:
        time.sleep(delay)


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def child_main(fn) -> None:
    """In a child: run fn(args) and print its result for the parent."""
    args = json.loads(sys.argv[sys.argv.index("--child") + 1])
    out = fn(args)
    print("RESULT " + json.dumps(out, default=str), flush=True)


def is_child() -> bool:
    return "--child" in sys.argv


# --- figures ------------------------------------------------------------------------------
def percentiles(seconds: list[float]) -> dict[str, float | None]:
    """p50/p95/p99 (nearest rank) and max of latencies given in seconds, in milliseconds."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    s = sorted(seconds)

    def rank(q: float) -> float:
        return s[min(len(s) - 1, max(0, int(round(q * len(s))) - 1))] * 1000

    return {
        "p50_ms": rank(0.50),
        "p95_ms": rank(0.95),
        "p99_ms": rank(0.99),
        "max_ms": s[-1] * 1000,
    }


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
    }


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    return path


def print_table(title: str, columns: list[str], rows: list[list[Any]], caption: str = "") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=caption or None, caption_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[fmt(v) for v in row])
    Console(width=max(160, Console().width)).print(table)


def fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0


# --- generating cases in the database -----------------------------------------------------
class P:
    """A constant column value, sent as a query parameter (prepared by the field)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _lit(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def pick(key: str, values: list[Any]) -> str:
    """SQL: the value at position `key` (an integer SQL expression) in `values`."""
    whens = " ".join(f"WHEN {i} THEN {_lit(v)}" for i, v in enumerate(values))
    return f"(CASE {key} {whens} END)"


def at_offset(base: datetime, seconds_expr: str) -> tuple[str, list]:
    """SQL for `base + seconds_expr seconds`, as each database stores datetimes."""
    from django.db import connection

    seconds_expr = seconds_expr.replace("%", "%%")  # the statement has parameters
    if connection.vendor == "postgresql":
        return f"(%s::timestamptz + ({seconds_expr}) * interval '1 second')", [base]
    # Django keeps SQLite datetimes as naive UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]';
    # datetime() writes the same shape (whole seconds), so comparisons stay textual.
    plain = base.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat(" ")
    return f"datetime(%s, ({seconds_expr}) || ' seconds')", [plain]


def insert_series(model, n: int, columns: dict[str, Any]) -> None:
    """INSERT n rows of `model`, row i (0-based) given per column by a SQL expression
    over `i`, a (sql, params) pair, or a constant P(value). Every column must be named,
    except nullable ones (NULL)."""
    from django.db import connection

    if n <= 0:
        return
    fields = {f.attname: f for f in model._meta.concrete_fields}
    # A nullable column added to a model after a benchmark was written stays NULL.
    columns = {**{a: "NULL" for a, f in fields.items() if f.null}, **columns}
    missing = set(fields) - set(columns)
    if missing:
        raise ValueError(f"{model.__name__}: no value for {sorted(missing)}")
    names, exprs, params = [], [], []
    for attname, spec in columns.items():
        f = fields[attname]
        names.append(connection.ops.quote_name(f.column))
        if isinstance(spec, P):
            exprs.append("%s")
            params.append(f.get_db_prep_save(spec.value, connection))
        elif isinstance(spec, tuple):
            exprs.append(spec[0])
            params.extend(spec[1])
        else:
            exprs.append(spec.replace("%", "%%"))  # the statement has parameters
    table = connection.ops.quote_name(model._meta.db_table)
    select = ", ".join(exprs)
    if connection.vendor == "postgresql":
        sql = (
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {select} "
            "FROM generate_series(0, %s) AS g(i)"
        )
        args = [*params, n - 1]
    else:
        sql = (
            "WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < %s) "
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {select} FROM g"
        )
        args = [n - 1, *params]
    with connection.cursor() as cur:
        cur.execute(sql, args)


def reset_sequences(*models) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return  # SQLite's AUTOINCREMENT follows the largest id by itself
    with connection.cursor() as cur:
        for model in models:
            table = model._meta.db_table
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )


# (status, type = path, reason, deadline action, refund_fen, has return address)
CASE_MIX = [
    ("awaiting_merchant", "refund_only", "quality", "agree", 10000, False),
    ("awaiting_merchant", "return_refund", "quality", "agree", 10000, False),
    ("awaiting_buyer_return", "return_refund", "no_reason_7d", "close_overdue", 10000, True),
    ("awaiting_merchant_receipt", "return_refund", "quality", "confirm_receipt", 10000, True),
    ("awaiting_buyer_receipt", "reship", "wrong_or_missing", "confirm_delivery", 0, False),
    ("proposal_pending", "return_refund", "damaged", "expire_proposal", 10000, False),
    ("awaiting_merchant_shipment", "exchange", "wrong_size", "alert", 0, True),
    ("rejected", "refund_only", "quality", "close_overdue", 10000, False),
]


def generate_cases(
    n: int,
    *,
    now: datetime,
    shops: int = 1,
    due_every: int = 10,
    customers_per_shop: int | None = None,
    closed_every: int | None = None,
    rare_every: int | None = None,
    into_shop: Any = None,
) -> dict[str, Any]:
    """n open cases over `shops` shops, each with its own order, order line and case line;
    every `due_every`-th case is due (its deadline passed up to an hour before `now`), the
    others are due a day or more later. Statuses cycle through CASE_MIX in both groups.

    For the queue: every `closed_every`-th case (offset 1) is completed (closed, no
    deadline), and every `rare_every`-th (offset 3) is in arbitration — a status so rare
    that an index scan filtering on it would read most of the shop's rows to fill a page.

    `into_shop`: an existing Shop (with a default return address) to fill instead of new
    shops, e.g. the shop an API key belongs to (then `shops` must be 1)."""
    from django.db import connection, transaction

    from shouhou.cases.models import Case, CaseLine, ReturnAddress
    from shouhou.core.models import Shop
    from shouhou.customers.models import Customer
    from shouhou.orders.models import Order, OrderLine

    t = Timer()
    _foreign_key_checks(False)
    tables = [m._meta.db_table for m in (Customer, Order, OrderLine, Case, CaseLine)]
    with t, transaction.atomic(), _indexes_rebuilt(tables):
        if into_shop is not None:
            assert shops == 1, "into_shop fills one shop"
            shop_objs = [into_shop]
            addresses = [ReturnAddress.objects.get(shop=into_shop, is_default=True)]
        else:
            shop_objs = [
                Shop.objects.create(code=f"bench-{k}", name=f"压测店铺{k}", platform="own")
                for k in range(shops)
            ]
            addresses = [
                ReturnAddress.objects.create(
                    shop=s,
                    label="杭州仓",
                    contact_name="王仓管",
                    phone="13900001111",
                    address="浙江省杭州市余杭区文一西路 1 号",
                    is_default=True,
                )
                for s in shop_objs
            ]
        shop0, addr0 = shop_objs[0].id, addresses[0].id
        # Ids are consecutive from the first, so shop = shop0 + i % shops.
        assert [s.id for s in shop_objs] == list(range(shop0, shop0 + shops))
        assert [a.id for a in addresses] == list(range(addr0, addr0 + shops))
        shop_expr = f"({shop0} + i % {shops})"
        per_shop = customers_per_shop or max(1, n // shops // 20)
        n_customers = per_shop * shops
        base_c = _next_id(Customer)
        placed = now - timedelta(days=6)
        insert_series(
            Customer,
            n_customers,
            {
                "id": f"({base_c} + i)",
                "shop_id": shop_expr,
                "external_id": "('BC' || i)",
                "nickname": "('买家' || i)",
                "name": P(""),
                "phone": P(""),
                "phone_index": P(""),
                "phone_last4": "(substr('0000' || (i % 10000), -4, 4))",
                "address": P(""),
                "tier": P("regular"),
                "points": P(0),
                "blocklisted": P(False),
                "tags": P([]),
                "notes": P(""),
                "created_at": P(placed),
            },
        )
        base_o = _next_id(Order)
        insert_series(
            Order,
            n,
            {
                "id": f"({base_o} + i)",
                "shop_id": shop_expr,
                "external_id": "('BO' || i)",
                "customer_id": f"({base_c} + i % {n_customers})",
                "channel": P("api"),
                "status": P("delivered"),
                "placed_at": P(placed),
                "paid_at": P(placed),
                "shipped_at": P(placed + timedelta(days=1)),
                "delivered_at": P(now - timedelta(days=2)),
                "total_paid_fen": P(10000),
                "shipping_fee_fen": P(0),
                "has_shipping_insurance": P(False),
                "receiver_name": P(""),
                "receiver_phone": P(""),
                "receiver_address": P(""),
                "created_at": P(placed),
                "updated_at": P(placed),
            },
        )
        base_ol = _next_id(OrderLine)
        insert_series(
            OrderLine,
            n,
            {
                "id": f"({base_ol} + i)",
                "shop_id": shop_expr,
                "order_id": f"({base_o} + i)",
                "sku_id": "NULL",
                "external_id": P("L1"),
                "title": P("压测商品"),
                "quantity": P(1),
                "unit_price_fen": P(10000),
                "paid_fen": P(10000),
                "refunded_fen": P(0),
            },
        )
        kind = f"((i / {due_every}) % {len(CASE_MIX)})"
        col = list(zip(*CASE_MIX, strict=True))
        due_sql, due_params = at_offset(
            now,
            f"CASE WHEN i % {due_every} = 0 THEN -(60 + i % 3600) ELSE 86400 + i % 86400 END",
        )
        closed = f"i % {closed_every} = 1" if closed_every else "FALSE"
        rare = f"i % {rare_every} = 3" if rare_every else "FALSE"
        closed_esc = closed.replace("%", "%%")  # inside (sql, params) pairs, unescaped
        closed_sql, closed_params = at_offset(now, "-86400")
        base_case = _next_id(Case)
        insert_series(
            Case,
            n,
            {
                "id": f"({base_case} + i)",
                "shop_id": shop_expr,
                "number": "('BN' || i)",
                "order_id": f"({base_o} + i)",
                "customer_id": f"({base_c} + i % {n_customers})",
                "type": pick(kind, list(col[1])),
                "path": pick(kind, list(col[1])),
                "reason": pick(kind, list(col[2])),
                "description": P("压测数据"),
                "status": f"(CASE WHEN {closed} THEN 'completed' WHEN {rare} THEN 'in_arbitration' "
                f"ELSE {pick(kind, list(col[0]))} END)",
                "channel": P("api"),
                "external_id": P(""),
                "requested_refund_fen": pick(kind, list(col[4])),
                "refund_fen": pick(kind, list(col[4])),
                "deadline_at": (
                    f"(CASE WHEN {closed_esc} THEN NULL ELSE {due_sql} END)",
                    due_params,
                ),
                "deadline_action": f"(CASE WHEN {closed} THEN '' WHEN {rare} THEN 'alert' "
                f"ELSE {pick(kind, list(col[3]))} END)",
                "priority": P(0),
                "assignee_id": "NULL",
                "version": P(1),
                "is_open": f"(NOT ({closed}))",
                "flags": P([]),
                "tags": P([]),
                "awaiting_finance": P(False),
                "proposal_kind": pick(
                    kind, ["" if s != "proposal_pending" else "partial_refund" for s in col[0]]
                ),
                "proposal_refund_fen": pick(
                    kind, [1500 if s == "proposal_pending" else 0 for s in col[0]]
                ),
                "proposal_note": P(""),
                "rejection_reason": pick(
                    kind, ["不符合条件" if s == "rejected" else "" for s in col[0]]
                ),
                "ruling": P(""),
                "ruling_reason": P(""),
                "return_address_id": f"(CASE WHEN {pick(kind, [int(x) for x in col[5]])} = 1 THEN {addr0} + i % {shops} ELSE NULL END)",
                "reopen_count": P(0),
                "auto_agreed_by_timeout": P(False),
                "opened_at": P(now - timedelta(days=4)),
                "updated_at": P(now - timedelta(days=4)),
                "closed_at": (
                    f"(CASE WHEN {closed_esc} THEN {closed_sql} ELSE NULL END)",
                    closed_params,
                ),
            },
        )
        insert_series(
            CaseLine,
            n,
            {
                "id": f"({_next_id(CaseLine)} + i)",
                "shop_id": shop_expr,
                "case_id": f"({base_case} + i)",
                "order_line_id": f"({base_ol} + i)",
                "quantity": P(1),
                "refund_fen": pick(kind, list(col[4])),
                "type": pick(kind, list(col[1])),
                "is_open": f"(NOT ({closed}))",
            },
        )
        reset_sequences(Customer, Order, OrderLine, Case, CaseLine)
    _foreign_key_checks(True)
    _analyze()
    assert connection.vendor
    return {
        "cases": n,
        "due": Case.objects.filter(deadline_at__lte=now).count(),
        "open": Case.objects.filter(is_open=True).count(),
        "shops": shops,
        "shop_ids": [s.id for s in shop_objs],
        "customers": n_customers,
        "generate_seconds": t.seconds,
    }


class _indexes_rebuilt:
    """Drop the secondary indexes of `tables` while rows pour in and build them after:
    one sort per index instead of a million single-entry inserts into each."""

    def __init__(self, tables: list[str]) -> None:
        self.tables = tables
        self.saved: list[tuple[str, str]] = []

    def __enter__(self) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            for table in self.tables:
                if connection.vendor == "postgresql":
                    # Indexes that back a constraint (primary key, unique) stay.
                    cur.execute(
                        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                        "WHERE i.tablename = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
                        "WHERE k.conname = i.indexname)",
                        [table],
                    )
                else:
                    cur.execute(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                        "AND tbl_name = %s AND sql IS NOT NULL",
                        [table],
                    )
                self.saved += list(cur.fetchall())
            for name, _ in self.saved:
                cur.execute(f'DROP INDEX "{name}"')

    def __exit__(self, exc_type, *exc: object) -> None:
        from django.db import connection

        if exc_type is not None:
            return  # the transaction rolls the drops back
        with connection.cursor() as cur:
            for _, definition in self.saved:
                cur.execute(definition)


def _foreign_key_checks(on: bool) -> None:
    """The generated rows point only at rows generated with them; checking a million
    deferred foreign keys one by one at commit would take longer than writing them."""
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"SET session_replication_role = {'origin' if on else 'replica'}")
        else:
            cur.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def _next_id(model) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("VACUUM ANALYZE") if connection.get_autocommit() else cur.execute("ANALYZE")
        else:
            cur.execute("ANALYZE")
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
