"""Staff login lockout (django-axes): username + IP, 5 failures, 15 minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import Client

from tests.factories import make_staff

PASSWORD = "pw-12345678"


def post_login(client: Client, username: str, password: str, ip: str = "10.1.1.1", path="/login/"):
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=ip, follow=False
    )


def fail(client: Client, username: str, times: int, ip: str = "10.1.1.1", path="/login/"):
    for _ in range(times):
        resp = post_login(client, username, "wrong-password", ip, path)
        assert resp.status_code in {200, 429}


@pytest.fixture
def agent(shop):
    return make_staff(shop, "agent", username="xiaoli")


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(agent):
    client = Client()
    fail(client, "xiaoli", 4)
    # The fourth failure still shows the form with its error, and the right password works.
    ok = post_login(Client(), "xiaoli", PASSWORD)
    assert ok.status_code == 302, "four failures must not lock"
    fail(client, "xiaoli", 5)
    locked = post_login(client, "xiaoli", PASSWORD)
    assert locked.status_code == 429
    body = locked.content.decode()
    assert "登录已暂时锁定" in body and 'data-testid="retry-at"' in body
    assert int(locked["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session
    # The page is in English for an English visitor.
    client.cookies["django_language"] = "en"
    en = post_login(client, "xiaoli", PASSWORD)
    assert en.status_code == 429 and "Login locked for now" in en.content.decode()


def test_a_success_before_the_limit_resets_the_count(agent):
    client = Client()
    fail(client, "xiaoli", 4)
    assert post_login(client, "xiaoli", PASSWORD).status_code == 302
    client.logout()
    fail(client, "xiaoli", 4)
    assert post_login(client, "xiaoli", PASSWORD).status_code == 302


def test_the_lock_is_per_username_and_ip(shop, agent):
    make_staff(shop, "agent", username="xiaowang")
    fail(Client(), "xiaoli", 5)
    assert post_login(Client(), "xiaoli", PASSWORD).status_code == 429
    # Another user from the same IP, and the same user from another network, log in.
    assert post_login(Client(), "xiaowang", PASSWORD).status_code == 302
    assert post_login(Client(), "xiaoli", PASSWORD, ip="10.9.9.9").status_code == 302


def test_the_lock_passes_after_the_cool_off(agent):
    fail(Client(), "xiaoli", 5)
    assert post_login(Client(), "xiaoli", PASSWORD).status_code == 429
    # Move the failures 14 minutes into the past: still locked.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=14))
    assert post_login(Client(), "xiaoli", PASSWORD).status_code == 429
    # That try during the lock started the wait again; now let the full 15 minutes pass.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))
    resp = post_login(Client(), "xiaoli", PASSWORD)
    assert resp.status_code == 302, resp.content[:300]


def test_the_admin_login_is_guarded_too(shop):
    from django.contrib.auth.models import User

    User.objects.create_superuser("root", "r@example.com", PASSWORD)
    client = Client()
    fail(client, "root", 5, path="/admin/login/")
    resp = post_login(client, "root", PASSWORD, path="/admin/login/")
    assert resp.status_code == 429
    assert (
        post_login(Client(), "root", PASSWORD, ip="10.2.2.2", path="/admin/login/").status_code
        == 302
    )


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(agent, settings):
    client = Client()
    for i in range(5):
        client.post(
            "/login/",
            {"username": "xiaoli", "password": "bad"},
            REMOTE_ADDR="10.1.1.1",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
    # The header was not believed: all five counted against 10.1.1.1.
    assert post_login(Client(), "xiaoli", PASSWORD, ip="10.1.1.1").status_code == 429
    settings.SHOUHOU_TRUSTED_PROXIES = ["10.1.1.1"]
    # Behind a trusted proxy, the forwarded client is who is counted: another client is free.
    resp = Client().post(
        "/login/",
        {"username": "xiaoli", "password": PASSWORD},
        REMOTE_ADDR="10.1.1.1",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert resp.status_code == 302


def test_the_lockout_settings_come_from_the_environment():
    import subprocess
    import sys

    code = (
        "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='shouhou.settings';django.setup();"
        "from django.conf import settings as s;"
        "print(s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()))"
    )
    import os

    env = {**os.environ, "SHOUHOU_LOGIN_FAILURE_LIMIT": "8", "SHOUHOU_LOGIN_LOCKOUT_MINUTES": "30"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["8", "1800"], out.stderr


def test_one_ip_spraying_every_username_is_locked_by_its_address(shop, agent, settings):
    """A few wrong passwords at each of many usernames stay under the per-user limit, but
    the address's failures over all of them lock it (SHOUHOU_LOGIN_IP_FAILURE_LIMIT)."""
    settings.SHOUHOU_LOGIN_IP_FAILURE_LIMIT = 12
    names = [make_staff(shop, "agent", username=f"staff{n}").user.username for n in range(4)]
    for name in names[:3]:
        fail(Client(), name, 4)  # 12 failures, 4 per username: no pair is locked
    # Every username, the right password included, is refused from that address now ...
    locked = post_login(Client(), "xiaoli", PASSWORD)
    assert locked.status_code == 429 and "登录已暂时锁定" in locked.content.decode()
    assert post_login(Client(), names[3], PASSWORD).status_code == 429
    # ... and served from another one.
    assert post_login(Client(), "xiaoli", PASSWORD, ip="10.9.9.9").status_code == 302
    # The IP lock passes with the cool-off as well.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))
    assert post_login(Client(), "xiaoli", PASSWORD).status_code == 302


def test_the_ip_limit_is_higher_than_the_per_user_one_by_default(shop, agent, settings):
    """An office behind one NAT address: a few typos by several people do not lock it."""
    assert settings.SHOUHOU_LOGIN_IP_FAILURE_LIMIT >= 30 > settings.AXES_FAILURE_LIMIT
    names = [make_staff(shop, "agent", username=f"clerk{n}").user.username for n in range(6)]
    for name in names:
        fail(Client(), name, 4)  # 24 failures from one address
    assert post_login(Client(), "xiaoli", PASSWORD).status_code == 302
