"""Browser tests: Playwright (Python) driving Debian's Chromium against a live server.

Chromium comes from Debian (`apt-get install -y chromium fonts-noto-cjk`); Playwright
cannot download its own browsers here. Without it the tests skip with the reason, except
under CI=true, where this conftest installs it (and a skip would fail the run anyway).

Each test gets pytest-django's `live_server` (a real HTTP server on a free port, threaded,
on the test database) and pages from `open_page(...)`: a phone (375 × 740) for buyers, a
desk (1280 × 860) for staff. `shot(page, "name")` saves a screenshot per page under
test-artifacts/screenshots/<test>/ and checks the page has no horizontal scroll at its
width — the cheapest honest proof that a page "works at 375 px".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the sync API runs an event loop

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("SHOUHOU_TEST_ARTIFACTS", Path.cwd() / "test-artifacts"))
PHONE = {"width": 375, "height": 740}
DESK = {"width": 1280, "height": 860}
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _ensure_chromium() -> str | None:
    """The path to Chromium, installing it from Debian under CI; None when it is missing."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if IN_CI and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env)
        # The CJK font too, or every Chinese glyph in the screenshots is a box.
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium", "fonts-noto-cjk"], check=False, env=env
        )
    return CHROMIUM if Path(CHROMIUM).exists() else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _ensure_chromium()
    if path is None:
        pytest.skip("Chromium not found at /usr/bin/chromium: apt-get install -y chromium")
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, chromium_path):
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    }


@pytest.fixture
def open_page(browser, live_server, request):
    """open_page(phone=True, lang="zh-hans") → a Page in its own context on the live server."""
    contexts = []

    def make(*, phone: bool = False, lang: str = "zh-CN"):
        context = browser.new_context(
            base_url=live_server.url,
            viewport=PHONE if phone else DESK,
            locale=lang,
            is_mobile=False,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.shouhou_errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: page.shouhou_errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shot(request):
    """shot(page, "name"): screenshot to test-artifacts/screenshots/<test>/NN-name.png, and
    fail when the page scrolls sideways or a script on it threw."""
    folder = ARTIFACTS / "screenshots" / re.sub(r"[^\w.-]+", "_", request.node.name)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counter = {"n": 0}

    def take(page, name: str, *, check_width: bool = True) -> Path:
        counter["n"] += 1
        safe = re.sub(r"[^\w.-]+", "_", name)
        path = folder / f"{counter['n']:02d}-{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        if check_width:
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{name}: the page scrolls sideways by {overflow}px"
        errors = getattr(page, "shouhou_errors", [])
        assert not errors, f"{name}: script errors on the page: {errors}"
        return path

    return take


def login(page, username: str, password: str = "pw-12345678") -> None:
    """Log in through the real login page."""
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("[data-testid=login-submit]")
    page.wait_for_load_state("networkidle")
    assert "/login/" not in page.url, f"login as {username} failed: still on {page.url}"
