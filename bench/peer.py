"""Side by side with a peer: django-helpdesk's REST API against shouhou's API, same run.

django-helpdesk (the open-source Django ticket tracker, from PyPI) is installed into its own
virtual environment (`var/bench-peer-venv`, reused while its requirements are unchanged;
never the project's .venv), given a minimal Django project (`BENCH_DATA_DIR/peer_helpdesk`:
the apps its install docs require, teams mode off, DRF token authentication, e-mail to the
dummy backend) on the same PostgreSQL server, migrated, with a staff user, a token and one
queue, and served by gunicorn exactly as `shouhou serve` serves shouhou: 2 sync workers,
--timeout 60, --no-control-socket, access log on, CONN_MAX_AGE=60 on both.

Both databases (`shouhou_bench_peer_helpdesk`, `shouhou_bench_peer_shouhou`) are created
here and dropped at the end, pre-filled with the same number of tickets / open cases
(default 5,000). Then, for each round, each server alone on the machine (one is stopped
before the other starts), with the same number of concurrent clients for the same window:

- create: helpdesk `POST /api/tickets/` (JSON, `Authorization: Token …`) vs shouhou
  `POST /api/v1/cases` (`Authorization: Bearer <api key>`, a fresh `Idempotency-Key`, each
  on a fresh order);
- list: helpdesk `GET /api/tickets/?page_size=P` vs shouhou `GET /api/v1/cases?limit=P`,
  the first page, P = 25 (helpdesk's default page size).

Throughput counts the expected statuses only (201 / 200); p50/p95/p99 are over every
response; errors are every other status. Figures are medians over rounds.

    .venv/bin/python -m bench.peer [--quick] [--clients 8] [--rows 5000] [--rounds 3]
                                   [--seconds 10] [--page 25]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import common as c
from bench.api_opens import Server, free_port

NAME = "peer"
PEER_VENV = Path(os.environ.get("BENCH_PEER_VENV", c.ROOT / "var" / "bench-peer-venv"))
# Pinned so a rerun measures the same peer; bump deliberately (the venv is rebuilt).
PEER_REQUIREMENTS = [
    "django-helpdesk==2.6.1",
    "djangorestframework==3.18.3",
    "gunicorn==27.0.1",
    "psycopg[binary]==3.3.9",
]
HELPDESK_DB = f"{c.PG_PREFIX}_peer_helpdesk"
SHOUHOU_DB = f"{c.PG_PREFIX}_peer_shouhou"
WORKERS = 2  # as `shouhou serve` by default
# Rate limits (SHOUHOU_RATE_LIMIT_*) off for every server a benchmark starts.
NO_RATE_LIMITS = {"SHOUHOU_RATE_LIMIT_API": "off", "SHOUHOU_RATE_LIMIT_PORTAL": "off"}


# --- the peer's virtual environment -------------------------------------------------------
def ensure_venv(log=print) -> dict[str, str]:
    """Create or reuse the peer venv; return the installed versions."""
    stamp = PEER_VENV / ".bench-requirements"
    wanted = hashlib.sha256(
        json.dumps([sys.version_info[:2], PEER_REQUIREMENTS]).encode()
    ).hexdigest()
    py = PEER_VENV / "bin" / "python"
    if not (py.exists() and stamp.exists() and stamp.read_text().strip() == wanted):
        log(f"creating {PEER_VENV} and installing {', '.join(PEER_REQUIREMENTS)} from PyPI …")
        shutil.rmtree(PEER_VENV, ignore_errors=True)
        clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True, env=clean)
        subprocess.run(
            [str(py), "-m", "pip", "install", "--quiet", *PEER_REQUIREMENTS],
            check=True,
            env=clean,
        )
        stamp.write_text(wanted)
    out = subprocess.run(
        [
            str(py),
            "-c",
            "import importlib.metadata as m, json; print(json.dumps({n: m.version(n) for n in "
            "['django-helpdesk', 'Django', 'djangorestframework', 'gunicorn', 'psycopg']}))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


# --- the peer's Django project ------------------------------------------------------------
SETTINGS = '''"""Minimal Django project for django-helpdesk, written by bench/peer.py."""
import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "bench-peer-helpdesk-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",  # required by helpdesk (e-mail links)
    "django.contrib.humanize",  # required by helpdesk (elapsed times)
    "rest_framework",
    "rest_framework.authtoken",  # API clients authenticate with a token, as shouhou's key
    "helpdesk",
]
SITE_ID = 1
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "peerproj.urls"
WSGI_APPLICATION = "peerproj.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["PEER_DB_NAME"],
        "USER": os.environ.get("PEER_DB_USER", "root"),
        "HOST": os.environ.get("PEER_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("PEER_DB_PORT", "5432"),
        "PASSWORD": os.environ.get("PEER_DB_PASSWORD", ""),
        "CONN_MAX_AGE": 60,  # as shouhou's settings
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"
STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(BASE_DIR, "static")
MEDIA_ROOT = os.path.join(BASE_DIR, "media")
LOGIN_URL = "/login/"
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"  # nothing leaves the bench
HELPDESK_TEAMS_MODE_ENABLED = False  # no pinax-teams
HELPDESK_API_ENABLED = True  # the REST API under /api/ (tickets, followups, …)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
}
'''

URLS = """from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
"""

WSGI = """import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerproj.settings")
application = get_wsgi_application()
"""

# Run in the peer venv: a staff user with a token, one queue, `n` open tickets.
SETUP = """
import json, sys
from datetime import timedelta
import django
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from helpdesk.models import Queue, Ticket

n = int(sys.argv[1])
user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-pass")
token = Token.objects.create(user=user)
queue = Queue.objects.create(title="售后 After-sales", slug="aftersales", allow_public_submission=True)
now = timezone.now()
Ticket.objects.bulk_create(
    [
        Ticket(
            title=f"压测工单 {i}", queue=queue, description="收到商品有破损",
            submitter_email=f"buyer{i}@example.com", status=Ticket.OPEN_STATUS, priority=3,
            created=now - timedelta(days=4), modified=now - timedelta(days=4),
        )
        for i in range(n)
    ],
    batch_size=1000,
)
with connection.cursor() as cur:
    cur.execute("VACUUM ANALYZE")
print("RESULT " + json.dumps({"token": token.key, "queue": queue.id, "tickets": Ticket.objects.count()}))
"""


def write_project(root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    pkg = root / "peerproj"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "settings.py").write_text(SETTINGS)
    (pkg / "urls.py").write_text(URLS)
    (pkg / "wsgi.py").write_text(WSGI)
    (root / "setup_bench.py").write_text(SETUP)
    return root


def peer_env(root: Path, db: str) -> dict[str, str]:
    from urllib.parse import urlsplit

    u = urlsplit(c.PG_SERVER)
    return {
        **os.environ,
        "PYTHONPATH": str(root),
        "DJANGO_SETTINGS_MODULE": "peerproj.settings",
        "PEER_DB_NAME": db,
        "PEER_DB_USER": u.username or "root",
        "PEER_DB_PASSWORD": u.password or "",
        "PEER_DB_HOST": u.hostname or "127.0.0.1",
        "PEER_DB_PORT": str(u.port or 5432),
    }


def prepare_helpdesk(root: Path, rows: int) -> dict:
    py = str(PEER_VENV / "bin" / "python")
    env = peer_env(root, HELPDESK_DB)
    c.pg_create(HELPDESK_DB)
    subprocess.run(
        [py, "-m", "django", "migrate", "--noinput", "-v", "0"], cwd=root, env=env, check=True
    )
    out = subprocess.run(
        [py, "setup_bench.py", str(rows)],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1][len("RESULT ") :])


# --- shouhou's side: a child that prepares the database -----------------------------------
def _child(args: dict) -> dict:
    c.setup_django(args["url"])
    from bench import api_opens
    from shouhou.cases.models import Case
    from shouhou.core.models import Shop

    # The API key's shop, a default return address, fresh orders to open cases on …
    prep = api_opens._prepare({"orders": args["orders"]})
    shop = Shop.objects.get(id=prep["shop_id"])
    # … and `rows` open cases in the same shop: the queue the list reads.
    gen = c.generate_cases(args["rows"], now=c.now_utc(), into_shop=shop)
    prep["cases"] = Case.objects.filter(shop=shop).count()
    prep["generate_seconds"] = gen["generate_seconds"]
    if args.get("links"):
        prep["links"] = portal_links(shop.id, args["links"])
        prep["agreeable"] = list(
            Case.objects.filter(shop=shop, status="awaiting_merchant", type="refund_only")
            .order_by("id")
            .values_list("id", flat=True)
        )
    return prep


def portal_links(shop_id: int, n: int) -> list[str]:
    """Signed order links (`/portal/o/<token>/`) for `n` orders that have a case."""
    from shouhou.cases.models import Case
    from shouhou.portal.links import order_link

    orders = (
        Case.objects.filter(shop_id=shop_id)
        .select_related("order")
        .order_by("id")
        .values_list("order", flat=True)[:n]
    )
    from shouhou.orders.models import Order

    return [order_link(o) for o in Order.objects.filter(id__in=list(orders))]


def prepare_shouhou(rows: int, orders: int, links: int = 0) -> dict:
    c.pg_create(SHOUHOU_DB)
    return c.child(
        NAME,
        {"url": c.pg_url(SHOUHOU_DB), "rows": rows, "orders": orders, "links": links},
        timeout=900,
    )


# --- servers ------------------------------------------------------------------------------
class Gunicorn(Server):
    """A gunicorn in its own process group, started like `shouhou serve` starts it;
    stopped as api_opens.Server stops (SIGTERM to the group, SIGKILL after 15 s)."""

    def __init__(
        self,
        label: str,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        port: int,
        ready_path: str,
        log: Path,
    ) -> None:
        self.label, self.port, self.argv = label, port, argv
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log, "w")  # noqa: SIM115 — closed in stop()
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{label} exited: {log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=3).read()
                break
            except urllib.error.HTTPError:
                break  # it answers (401 without a token): up
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"{label} did not start") from None
                time.sleep(0.3)


def gunicorn_flags(port: int, workers: int) -> list[str]:
    """The flags `shouhou serve` passes (core/management/commands/serve.py)."""
    return [
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "60",
        "--no-control-socket",
        "--access-logfile",
        "-",
        "--error-logfile",
        "-",
    ]


def start_helpdesk(root: Path, workers: int = WORKERS) -> Gunicorn:
    port = free_port()
    argv = [
        str(PEER_VENV / "bin" / "python"),
        "-m",
        "gunicorn",
        "peerproj.wsgi:application",
        *gunicorn_flags(port, workers),
    ]
    return Gunicorn(
        "django-helpdesk",
        argv,
        env=peer_env(root, HELPDESK_DB),
        cwd=root,
        port=port,
        ready_path="/api/tickets/",
        log=root / "server.log",
    )


def start_shouhou(url: str, data_dir: Path, workers: int = WORKERS) -> Server:
    """`shouhou serve` (gunicorn, sync workers, CONN_MAX_AGE=60), rate limits off."""
    os.environ.update(NO_RATE_LIMITS)  # Server passes its environment on
    server = Server(url, data_dir, pool=False, workers=workers)
    server.argv = ["shouhou", "serve", "--workers", str(workers)]
    return server


# --- the HTTP client ----------------------------------------------------------------------
def http_request(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """A pre-built HTTP/1.1 request (built once, sent many times: the client stays cheap)."""
    lines = [f"{method} {path} HTTP/1.1"]
    head = {"Host": "127.0.0.1", "Accept": "application/json", **(headers or {})}
    lines += [f"{k}: {v}" for k, v in head.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def send(port: int, request: bytes, timeout: float = 60) -> tuple[int, dict, bytes]:
    """Send one request on a new connection (gunicorn's sync workers close every
    connection after the response); return status, lower-cased headers, body."""

    async def go() -> tuple[int, dict, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            headers: dict[str, str] = {}
            cookies: list[str] = []
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip()
                if name == "set-cookie":
                    cookies.append(value)
                headers[name] = value
            headers["set-cookie"] = cookies  # type: ignore[assignment]
            length = int(headers.get("content-length", 0) or 0)
            if length:
                content = await reader.readexactly(length)
            elif "content-length" in headers:
                content = b""
            else:
                content = await reader.read()
            return status, headers, content
        finally:
            writer.close()

    return await asyncio.wait_for(go(), timeout)


async def closed_loop(
    port: int,
    make: Callable[[], bytes],
    *,
    ok: int,
    clients: int,
    seconds: float,
) -> dict:
    """`clients` clients, each sending the next request as soon as the last one answered,
    for `seconds`. `make()` builds each request (a fresh order, a fresh key)."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds

    async def one_client() -> None:
        while time.perf_counter() < stop_at:
            request = make()
            t0 = time.perf_counter()
            try:
                status, _, content = await send(port, request)
            except (TimeoutError, OSError, ValueError, IndexError) as e:
                status, content = 0, repr(e).encode()
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            if status != ok and len(errors) < 5:
                errors.append(f"{status}: {content[:300].decode(errors='replace')}")

    t0 = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    good = statuses.get(ok, 0)
    return {
        "seconds": elapsed,
        "requests": sum(statuses.values()),
        "ok": good,
        "per_s": good / elapsed,
        "errors": sum(statuses.values()) - good,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "error_samples": errors,
        **c.percentiles(latencies),
    }


# --- the parent ---------------------------------------------------------------------------
def shouhou_case_body(order_id: int, line_id: int) -> bytes:
    from bench.api_opens import body

    return body(order_id, line_id)


def run(
    *,
    quick: bool = False,
    clients: int = 8,
    rows: int = 5000,
    rounds: int = 3,
    seconds: float = 10.0,
    page: int = 25,
    workers: int = WORKERS,
) -> dict:
    if quick:
        rounds, seconds = 1, 3.0
    if not c.pg_available():
        raise SystemExit(f"PostgreSQL is not reachable at {c.PG_SERVER}: the peer needs it")
    versions = ensure_venv()
    info = c.machine()
    load_before = c.load_average()
    root = write_project(c.DATA_DIR / "peer_helpdesk")
    data_dir = c.DATA_DIR / "peer_shouhou"
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"preparing both databases: {rows:,} tickets / open cases each …", flush=True)
    t = time.perf_counter()
    hd = prepare_helpdesk(root, rows)
    os.environ["SHOUHOU_DATA_DIR"] = str(data_dir)  # the child and the server agree
    sh = prepare_shouhou(rows, orders=int(1500 * seconds * rounds) + 2000)
    prepare_seconds = time.perf_counter() - t
    orders = iter(range(sh["orders"]))

    def hd_create() -> bytes:
        payload = json.dumps(
            {
                "queue": hd["queue"],
                "title": "收到商品有破损",
                "description": "收到商品有破损，申请退款",
                "submitter_email": "buyer@example.com",
                "priority": 3,
            },
            ensure_ascii=False,
        ).encode()
        return http_request(
            "POST",
            "/api/tickets/",
            {"Authorization": f"Token {hd['token']}", "Content-Type": "application/json"},
            payload,
        )

    hd_list = http_request(
        "GET", f"/api/tickets/?page_size={page}", {"Authorization": f"Token {hd['token']}"}
    )

    def sh_create() -> bytes:
        i = next(orders)
        return http_request(
            "POST",
            "/api/v1/cases",
            {
                "Authorization": f"Bearer {sh['secret']}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            },
            shouhou_case_body(sh["order0"] + i, sh["line0"] + i),
        )

    sh_list = http_request(
        "GET", f"/api/v1/cases?limit={page}", {"Authorization": f"Bearer {sh['secret']}"}
    )

    ops = {
        "create": {"helpdesk": (hd_create, 201), "shouhou": (sh_create, 201)},
        "list": {"helpdesk": (lambda: hd_list, 200), "shouhou": (lambda: sh_list, 200)},
    }
    runs: dict[str, dict[str, list[dict]]] = {op: {"helpdesk": [], "shouhou": []} for op in ops}
    commands: dict[str, str] = {}
    for r in range(rounds):
        for system in ("helpdesk", "shouhou"):
            server = (
                start_helpdesk(root, workers)
                if system == "helpdesk"
                else start_shouhou(c.pg_url(SHOUHOU_DB), data_dir, workers)
            )
            commands[system] = " ".join(a if "/" not in a else Path(a).name for a in server.argv)
            try:
                for op, sides in ops.items():
                    make, ok = sides[system]
                    # warm-up: imports, first connections, caches, in every worker
                    asyncio.run(closed_loop(server.port, make, ok=ok, clients=clients, seconds=1))
                    res = asyncio.run(
                        closed_loop(server.port, make, ok=ok, clients=clients, seconds=seconds)
                    )
                    res["round"] = r + 1
                    runs[op][system].append(res)
                    print(
                        f"  round {r + 1} {system:8} {op:6} {res['per_s']:8.1f}/s "
                        f"p50 {res['p50_ms']:.1f} ms  errors {res['errors']}",
                        flush=True,
                    )
            finally:
                server.stop()
    sizes = table_sizes(sh["shop_id"])
    c.pg_drop(HELPDESK_DB)
    c.pg_drop(SHOUHOU_DB)
    load_after = c.load_average()

    def med(xs: list[dict], key: str) -> float | None:
        vals = [x[key] for x in xs if x[key] is not None]
        return statistics.median(vals) if vals else None

    table, results = [], []
    labels = {
        "create": (
            "create: helpdesk POST /api/tickets/ · shouhou POST /api/v1/cases",
            "helpdesk POST /api/tickets/",
            "shouhou POST /api/v1/cases",
        ),
        "list": (
            f"list first page ({page}): helpdesk GET /api/tickets/ · shouhou GET /api/v1/cases",
            f"helpdesk GET /api/tickets/?page_size={page}",
            f"shouhou GET /api/v1/cases?limit={page}",
        ),
    }
    for op in ops:
        entry: dict[str, Any] = {"operation": op}
        for system, label in (("helpdesk", labels[op][1]), ("shouhou", labels[op][2])):
            rs = runs[op][system]
            entry[system] = {
                "request": label,
                "per_s": med(rs, "per_s"),
                "p50_ms": med(rs, "p50_ms"),
                "p95_ms": med(rs, "p95_ms"),
                "p99_ms": med(rs, "p99_ms"),
                "errors": sum(x["errors"] for x in rs),
                "requests": sum(x["requests"] for x in rs),
                "runs": rs,
            }
            table.append(
                [
                    label,
                    entry[system]["per_s"],
                    entry[system]["p50_ms"],
                    entry[system]["p95_ms"],
                    entry[system]["p99_ms"],
                    entry[system]["requests"],
                    entry[system]["errors"],
                ]
            )
        entry["ratio_shouhou_over_helpdesk"] = (
            entry["shouhou"]["per_s"] / entry["helpdesk"]["per_s"]
            if entry["helpdesk"]["per_s"]
            else None
        )
        entry["p50_ratio_helpdesk_over_shouhou"] = (
            entry["helpdesk"]["p50_ms"] / entry["shouhou"]["p50_ms"]
            if entry["shouhou"]["p50_ms"]
            else None
        )
        # Rounds interleave the two servers: a round's ratio sees the same machine weather.
        per_round = [
            sh["per_s"] / hd["per_s"]
            for hd, sh in zip(runs[op]["helpdesk"], runs[op]["shouhou"], strict=True)
            if hd["per_s"]
        ]
        entry["ratio_per_round"] = per_round
        table.append(
            [
                f"  ratio shouhou / helpdesk ({op})",
                f"{entry['ratio_shouhou_over_helpdesk']:.2f}×"
                if entry["ratio_shouhou_over_helpdesk"]
                else "—",
                f"p50 helpdesk ÷ shouhou {entry['p50_ratio_helpdesk_over_shouhou']:.2f}"
                if entry["p50_ratio_helpdesk_over_shouhou"]
                else "—",
                "ok/s ratio per round: " + ", ".join(f"{x:.2f}" for x in per_round),
                "",
                "",
                "",
            ]
        )
        results.append(entry)
    c.print_table(
        f"shouhou vs django-helpdesk {versions['django-helpdesk']} 同场对比 — "
        f"{clients} clients, median of {rounds} × {seconds:.0f} s per operation",
        ["operation", "ok/s", "p50 ms", "p95 ms", "p99 ms", "requests", "errors"],
        table,
        caption=c.machine_line(info)
        + f"\nload average before/after: {load_before} / {load_after}"
        + f"\ndata: {rows:,} pre-filled helpdesk tickets (one queue) and {rows:,} open shouhou "
        f"cases (one shop) on PostgreSQL {info['postgresql']}, same server; at the end "
        f"{sizes['helpdesk_tickets']:,} tickets / {sizes['shouhou_cases']:,} cases"
        + f"\npeer: django-helpdesk {versions['django-helpdesk']} · Django "
        f"{versions['Django']} · DRF {versions['djangorestframework']} · gunicorn "
        f"{versions['gunicorn']} (own venv {PEER_VENV})"
        + f"\nservers: gunicorn {workers} sync workers each, one at a time, alternating each "
        "round; ratio = median shouhou ok/s ÷ median helpdesk ok/s (> 1: shouhou faster)",
    )
    payload = {
        "benchmark": NAME,
        "machine": info,
        "load_average": {"before": load_before, "after": load_after},
        "peer_versions": versions,
        "quick": quick,
        "clients": clients,
        "rounds": rounds,
        "window_seconds": seconds,
        "page_size": page,
        "rows": rows,
        "prepare_seconds": prepare_seconds,
        "table_sizes_at_end": sizes,
        "servers": commands,
        "results": results,
    }
    path = c.save(NAME, payload)
    print(f"written {path}")
    return payload


def table_sizes(shop_id: int) -> dict[str, int]:
    import psycopg

    with psycopg.connect(c.pg_url(HELPDESK_DB)) as conn:
        tickets = conn.execute("SELECT count(*) FROM helpdesk_ticket").fetchone()[0]
    with psycopg.connect(c.pg_url(SHOUHOU_DB)) as conn:
        cases = conn.execute(
            "SELECT count(*) FROM cases_case WHERE shop_id = %s", [shop_id]
        ).fetchone()[0]
    return {"helpdesk_tickets": tickets, "shouhou_cases": cases}


def main() -> None:
    if c.is_child():
        c.child_main(_child)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round × 3 s")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rows", type=int, default=5000, help="pre-filled tickets / cases")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--page", type=int, default=25, help="list page size (both)")
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn workers (both)")
    a = parser.parse_args()
    run(
        quick=a.quick,
        clients=a.clients,
        rows=a.rows,
        rounds=a.rounds,
        seconds=a.seconds,
        page=a.page,
        workers=a.workers,
    )


if __name__ == "__main__":
    main()
