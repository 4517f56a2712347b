"""Shared test setup.

The suite runs twice in CI: on SQLite (the default) and on PostgreSQL
(SHOUHOU_DATABASE_URL=postgresql://…). Tests marked `postgres` need the latter. A test that
would skip because PostgreSQL, Redis or Chromium is missing fails instead under CI=true.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SHOUHOU_FAST_PASSWORDS", "1")
os.environ.setdefault("SHOUHOU_HUEY_IMMEDIATE", "1")
# Rate limits off for the suite (tests/security turns them on with override_settings):
# in the environment for servers the tests start, and in the settings pytest-django has
# already loaded by the time this file runs.
os.environ["SHOUHOU_RATE_LIMIT_API"] = os.environ["SHOUHOU_RATE_LIMIT_PORTAL"] = "off"
# The outbox tests' receivers listen on 127.0.0.1; tests/notify/test_netguard.py turns the
# public-addresses-only guard back on.
os.environ["SHOUHOU_WEBHOOK_ALLOW_PRIVATE"] = "1"


def pytest_configure(config):
    from django.conf import settings

    settings.SHOUHOU_RATE_LIMIT_API = settings.SHOUHOU_RATE_LIMIT_PORTAL = "off"
    settings.SHOUHOU_WEBHOOK_ALLOW_PRIVATE = True


IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    pg = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    for item in items:
        if "postgres" in item.keywords and not pg:
            item.add_marker(
                pytest.mark.skip(
                    reason="needs PostgreSQL: run with SHOUHOU_DATABASE_URL=postgresql://… (make test-pg)"
                )
            )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        # Under CI a missing service is a failure, not a quiet skip.
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (not allowed): {report.longrepr}"


@pytest.fixture(autouse=True)
def _fresh_clock_and_cache():
    from django.core.cache import cache

    from shouhou.core import clock

    clock.invalidate()
    cache.clear()  # lockout and rate-limit counters must not leak between tests
    yield
    clock.invalidate()


@pytest.fixture
def shop(db):
    from tests.factories import make_shop

    return make_shop()


@pytest.fixture
def other_shop(db):
    from tests.factories import make_shop

    return make_shop(code="other", name="别家小店")
