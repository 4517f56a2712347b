"""Fault tests run real `shouhou` processes against a scratch database of their own (a
SQLite file, or a scratch PostgreSQL database next to this run's test database — the
pytest-django test database lives inside the test process, where a subprocess cannot see
it) and kill them with SIGKILL at the worst moment. Every wait is bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from tests.processes import REPO, ShouhouSite, scratch_site
from tests.processes import stop as stop  # the fault tests import it from here

WAIT = 90  # seconds: the bound on every wait


class Scratch(ShouhouSite):
    def run(self, *args: str, env: dict | None = None, timeout: float = 300) -> str:
        return self.call(*args, env=env, timeout=timeout).stdout

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


@pytest.fixture(scope="session")
def scratch(tmp_path_factory) -> Iterator[Scratch]:
    with scratch_site(tmp_path_factory.mktemp("faults"), "faults", Scratch) as site:
        yield site
