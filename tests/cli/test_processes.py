"""`shouhou serve` and `shouhou worker` as real processes, on a database of their own.

The test database of pytest-django lives inside the test process (an in-memory SQLite, or a
transaction on PostgreSQL), so these tests build a separate one: a SQLite file in a temporary
SHOUHOU_DATA_DIR, or — when the suite runs on PostgreSQL — a scratch PostgreSQL database.
Every wait is bounded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.processes import SHOUHOU, ShouhouSite, scratch_site, stop

START_TIMEOUT = 60


class Site(ShouhouSite):
    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return self.call(*args, timeout=timeout)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    with scratch_site(tmp_path_factory.mktemp("site"), "proc", Site) as site:
        site.run("demo", "--orders", "80")
        yield site


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        stop(proc)
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
        stop(proc)
    assert row is not None and row[0] != "awaiting_merchant", site.log("worker.log")
    assert bool(row[1]), "agreed by the timeout, as the system"
    events = site.query(
        "SELECT actor_role, by_deadline FROM cases_timelineevent "
        f"WHERE case_id = {case_id} AND action = 'agree'"
    )
    assert [(role, bool(flag)) for role, flag in events] == [("system", True)]
    assert "deadline_sweep" in site.log("worker.log")
