"""Real `shouhou` processes on a database of their own, for the process and fault tests.

pytest-django's test database lives inside the test process (an in-memory SQLite, or a
transaction on PostgreSQL), so a subprocess cannot see it. `scratch_site` builds a separate
one — a SQLite file in a temporary SHOUHOU_DATA_DIR or, when the suite runs on PostgreSQL, a
scratch PostgreSQL database next to this run's test database — migrates it, and drops it
afterwards. Every wait is bounded.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from django.conf import settings

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SHOUHOU = (
    [str(BIN / "shouhou")] if (BIN / "shouhou").exists() else [sys.executable, "-m", "shouhou.cli"]
)


class ShouhouSite:
    """A data dir + database that `shouhou` commands run against."""

    def __init__(self, env: dict[str, str], data_dir: Path, pg_url: str | None) -> None:
        self.env, self.data_dir, self.pg_url = env, data_dir, pg_url

    def call(self, *args: str, env: dict | None = None, timeout: float = 300):
        done = subprocess.run(
            [*SHOUHOU, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, f"shouhou {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

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
        """`?` placeholders on both databases."""
        if self.pg_url:
            import psycopg

            with psycopg.connect(self.pg_url) as conn:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
        conn = sqlite3.connect(self.data_dir / "shouhou.sqlite3", timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


def _server_url(database: str) -> str:
    url = urlparse(os.environ["SHOUHOU_DATABASE_URL"])
    return urlunparse(url._replace(path=f"/{database}"))


def _recreate_pg_database(name: str, *, create: bool) -> None:
    import psycopg

    with psycopg.connect(
        _server_url(settings.DATABASES["default"]["NAME"]), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def scratch_site(data_dir: Path, suffix: str, cls: type[ShouhouSite] = ShouhouSite) -> Iterator:
    """A migrated site of `cls` in `data_dir`; a PostgreSQL scratch database `<test db>_<suffix>`
    when the suite runs on PostgreSQL, dropped on the way out."""
    env = dict(os.environ)
    env.update(
        SHOUHOU_DATA_DIR=str(data_dir),
        SHOUHOU_HUEY_IMMEDIATE="0",
        SHOUHOU_FAST_PASSWORDS="1",
        DJANGO_SETTINGS_MODULE="shouhou.settings",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
    )
    env.pop("SHOUHOU_TEST_DB_NAME", None)
    env.pop("SHOUHOU_REDIS_URL", None)  # the worker tests use huey's SQLite queue
    pg_name = pg_url = None
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        db = settings.DATABASES["default"]
        pg_name = f"{db['TEST'].get('NAME') or 'test_' + db['NAME']}_{suffix}"
        _recreate_pg_database(pg_name, create=True)
        pg_url = env["SHOUHOU_DATABASE_URL"] = _server_url(pg_name)
    else:
        env.pop("SHOUHOU_DATABASE_URL", None)
    site = cls(env, data_dir, pg_url)
    try:
        site.call("migrate", "--noinput", "-v", "0")
        yield site
    finally:
        if pg_name:
            _recreate_pg_database(pg_name, create=False)


def stop(proc: subprocess.Popen) -> None:
    """Terminate, then kill after 15 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
