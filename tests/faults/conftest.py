"""Fault tests run real `shouhou` processes against a scratch database of their own (a
SQLite file, or a scratch PostgreSQL database next to this run's test database — the
pytest-django test database lives inside the test process, where a subprocess cannot see
it) and kill them with SIGKILL at the worst moment. Every wait is bounded."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHOUHOU = (
    [str(BIN / "shouhou")] if (BIN / "shouhou").exists() else [sys.executable, "-m", "shouhou.cli"]
)
WAIT = 90  # seconds: the bound on every wait


class Scratch:
    def __init__(self, env: dict[str, str], data_dir: Path, pg_url: str | None) -> None:
        self.env, self.data_dir, self.pg_url = env, data_dir, pg_url

    def run(self, *args: str, env: dict | None = None, timeout: float = 300) -> str:
        done = subprocess.run(
            [*SHOUHOU, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, f"shouhou {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def seed(self, *args: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "tests.faults.seed", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, f"seed {args}:\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    def start(self, *args: str, log: str, env: dict | None = None) -> subprocess.Popen:
        handle = (self.data_dir / log).open("w")
        return subprocess.Popen(
            [*SHOUHOU, *args],
            env={**self.env, **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def log(self, name: str) -> str:
        return (self.data_dir / name).read_text(errors="replace")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.pg_url:
            import psycopg

            with psycopg.connect(self.pg_url) as conn:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
        conn = sqlite3.connect(self.data_dir / "shouhou.sqlite3", timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def scalar(self, sql: str, params: tuple = ()):
        return self.query(sql, params)[0][0]


def wait_for(
    what: str,
    check: Callable[[], object],
    timeout: float = WAIT,
    every: float = 0.05,
    proc: subprocess.Popen | None = None,
    log: Callable[[], str] | None = None,
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"the process exited ({proc.returncode}) before {what}:\n{log() if log else ''}"
            )
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"gave up after {timeout}s waiting for {what}")


def sigkill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _admin_url() -> str:
    from urllib.parse import urlparse, urlunparse

    url = urlparse(os.environ["SHOUHOU_DATABASE_URL"])
    return urlunparse(url._replace(path=f"/{settings.DATABASES['default']['NAME']}"))


def _scratch_pg_database() -> tuple[str, str]:
    """A fresh PostgreSQL database named after this run's test database (name, URL)."""
    from urllib.parse import urlparse, urlunparse

    import psycopg

    db = settings.DATABASES["default"]
    name = f"{db['TEST'].get('NAME') or 'test_' + db['NAME']}_faults"
    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlparse(os.environ["SHOUHOU_DATABASE_URL"])
    return name, urlunparse(url._replace(path=f"/{name}"))


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def scratch(tmp_path_factory) -> Iterator[Scratch]:
    data_dir = tmp_path_factory.mktemp("faults")
    env = dict(os.environ)
    env.update(
        SHOUHOU_DATA_DIR=str(data_dir),
        SHOUHOU_HUEY_IMMEDIATE="0",
        SHOUHOU_FAST_PASSWORDS="1",
        DJANGO_SETTINGS_MODULE="shouhou.settings",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
    )
    env.pop("SHOUHOU_TEST_DB_NAME", None)
    env.pop("SHOUHOU_REDIS_URL", None)
    pg_name = pg_url = None
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pg_name, pg_url = _scratch_pg_database()
        env["SHOUHOU_DATABASE_URL"] = pg_url
    else:
        env.pop("SHOUHOU_DATABASE_URL", None)
    site = Scratch(env, data_dir, pg_url)
    try:
        site.run("migrate", "--noinput", "-v", "0")
        yield site
    finally:
        if pg_name:
            _drop_pg_database(pg_name)
