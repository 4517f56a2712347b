"""`shouhou serve` and `shouhou worker` as real processes, on a database of their own.

The test database of pytest-django lives inside the test process (an in-memory SQLite, or a
transaction on PostgreSQL), so these tests build a separate one: a SQLite file in a temporary
SHOUHOU_DATA_DIR, or — when the suite runs on PostgreSQL — a scratch PostgreSQL database.
Every wait is bounded.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx
import pytest
from django.conf import settings

BIN = Path(sys.executable).parent
SHOUHOU = (
    [str(BIN / "shouhou")] if (BIN / "shouhou").exists() else [sys.executable, "-m", "shouhou.cli"]
)
START_TIMEOUT = 60


class Site:
    def __init__(self, env: dict[str, str], data_dir: Path, pg_url: str | None) -> None:
        self.env, self.data_dir, self.pg_url = env, data_dir, pg_url

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*SHOUHOU, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, f"shouhou {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def start(self, *args: str, log: str) -> subprocess.Popen:
        handle = (self.data_dir / log).open("w")
        return subprocess.Popen(
            [*SHOUHOU, *args],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def log(self, name: str) -> str:
        return (self.data_dir / name).read_text(errors="replace")

    def query(self, sql: str) -> list[tuple]:
        if self.pg_url:
            import psycopg

            with psycopg.connect(self.pg_url) as conn:
                return conn.execute(sql).fetchall()
        conn = sqlite3.connect(self.data_dir / "shouhou.sqlite3", timeout=30)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()


def _scratch_pg_database() -> tuple[str, str]:
    """A fresh PostgreSQL database next to this run's test database (name, URL)."""
    import psycopg

    db = settings.DATABASES["default"]
    name = f"{db['TEST'].get('NAME') or 'test_' + db['NAME']}_proc"
    url = urlparse(os.environ["SHOUHOU_DATABASE_URL"])
    admin_url = urlunparse(url._replace(path=f"/{db['NAME']}"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, urlunparse(url._replace(path=f"/{name}"))


def _drop_pg_database(name: str) -> None:
    import psycopg

    db = settings.DATABASES["default"]
    url = urlparse(os.environ["SHOUHOU_DATABASE_URL"])
    with psycopg.connect(urlunparse(url._replace(path=f"/{db['NAME']}")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("site")
    env = dict(os.environ)
    env.update(
        SHOUHOU_DATA_DIR=str(data_dir),
        SHOUHOU_HUEY_IMMEDIATE="0",
        SHOUHOU_FAST_PASSWORDS="1",
        DJANGO_SETTINGS_MODULE="shouhou.settings",
    )
    env.pop("SHOUHOU_TEST_DB_NAME", None)
    env.pop("SHOUHOU_REDIS_URL", None)  # the worker test uses huey's SQLite queue
    pg_name = pg_url = None
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pg_name, pg_url = _scratch_pg_database()
        env["SHOUHOU_DATABASE_URL"] = pg_url
    else:
        env.pop("SHOUHOU_DATABASE_URL", None)
    site = Site(env, data_dir, pg_url)
    try:
        site.run("migrate", "--noinput", "-v", "0")
        site.run("demo", "--orders", "80")
        yield site
    finally:
        if pg_name:
            _drop_pg_database(pg_name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_serve_runs_gunicorn_and_answers_the_openapi_schema(site):
    port = _free_port()
    proc = site.start("serve", "--port", str(port), "--workers", "1", log="serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        response = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"serve exited early:\n{site.log('serve.log')}"
            try:
                response = httpx.get(f"{base}/api/v1/openapi.json", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert response is not None, f"no answer in {START_TIMEOUT}s:\n{site.log('serve.log')}"
        assert response.status_code == 200
        schema = response.json()
        assert schema["openapi"].startswith("3.")
        assert any(path.startswith("/api/v1/") for path in schema["paths"])
        # Static files were collected and are served (whitenoise) for the admin.
        css = httpx.get(f"{base}/static/admin/css/base.css", timeout=5)
        assert css.status_code == 200 and len(css.content) > 1000
        assert httpx.get(f"{base}/api/v1/docs", timeout=5).status_code == 200
    finally:
        _stop(proc)
    log = site.log("serve.log")
    assert "gunicorn" in log.lower()


def test_serve_refuses_a_database_with_unapplied_migrations(tmp_path):
    env = dict(os.environ, SHOUHOU_DATA_DIR=str(tmp_path))
    env.pop("SHOUHOU_DATABASE_URL", None)  # a brand-new SQLite file: nothing migrated
    done = subprocess.run(
        [*SHOUHOU, "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode != 0
    assert "shouhou migrate" in done.stderr


def test_worker_applies_a_due_deadline(site):
    due = site.query(
        "SELECT id FROM cases_case WHERE status = 'awaiting_merchant' "
        "AND deadline_action = 'agree' ORDER BY deadline_at, id LIMIT 1"
    )
    assert due, "the demo has cases waiting for the shop"
    case_id = due[0][0]
    site.run("tick", "--hours", "80", "--no-sweep")  # due now; nobody has acted yet
    assert site.query(f"SELECT status FROM cases_case WHERE id = {case_id}") == [
        ("awaiting_merchant",)
    ]

    proc = site.start("worker", log="worker.log")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        row = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"worker exited early:\n{site.log('worker.log')}"
            row = site.query(
                f"SELECT status, auto_agreed_by_timeout FROM cases_case WHERE id = {case_id}"
            )[0]
            if row[0] != "awaiting_merchant":
                break
            time.sleep(0.3)
    finally:
        _stop(proc)
    assert row is not None and row[0] != "awaiting_merchant", site.log("worker.log")
    assert bool(row[1]), "agreed by the timeout, as the system"
    events = site.query(
        "SELECT actor_role, by_deadline FROM cases_timelineevent "
        f"WHERE case_id = {case_id} AND action = 'agree'"
    )
    assert [(role, bool(flag)) for role, flag in events] == [("system", True)]
    assert "deadline_sweep" in site.log("worker.log")
