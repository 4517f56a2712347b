"""Rate limits on the buyer portal and the API (core/ratelimit.py).

The suite runs with the limits off (tests/conftest.py); these tests turn them on and move
the limiter's clock instead of sleeping.
"""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from shouhou.core import ratelimit
from shouhou.core.models import ApiKey
from shouhou.core.ratelimit import Limit, parse_limit
from tests.factories import make_staff


@pytest.fixture
def frozen(monkeypatch):
    """The limiter's wall clock, frozen at the start of a minute; `frozen.t` moves it."""

    class Clock:
        t = 1_700_000_040.0  # a multiple of 60

        def __call__(self):
            return self.t

    clock = Clock()
    monkeypatch.setattr(ratelimit, "now", clock)
    return clock


def key_headers(shop) -> dict[str, str]:
    _, secret = ApiKey.issue(shop, "ERP")
    return {"Authorization": f"Bearer {secret}"}


def test_limits_parse():
    assert parse_limit("1200/m") == Limit(1200, 60)
    assert parse_limit("50/10s") == Limit(50, 10)
    assert parse_limit("5/h") == Limit(5, 3600)
    assert parse_limit("3000/min") == Limit(3000, 60)
    for off in ("0", "off", "", None, "0/m"):
        assert parse_limit(off) is None
    with pytest.raises(ValueError):
        parse_limit("lots")


@override_settings(SHOUHOU_RATE_LIMIT_API="5/m")
def test_an_api_key_trips_at_n_plus_one_and_other_keys_do_not(shop, other_shop, frozen):
    mine, theirs = key_headers(shop), key_headers(other_shop)
    second_key_same_shop = key_headers(shop)
    client = Client()
    for _ in range(5):
        assert client.get("/api/v1/cases", headers=mine).status_code == 200
    over = client.get("/api/v1/cases", headers={**mine, "Accept-Language": "en"})
    assert over.status_code == 429
    body = over.json()
    assert body["code"] == "rate_limited"
    assert "Too many requests" in body["message"]
    assert body["details"]["limit"] == 5 and body["details"]["retry_after"] == 60
    assert over["Retry-After"] == "60"
    assert "请求过于频繁" in client.get("/api/v1/cases", headers=mine).json()["message"]
    # Each key has its own bucket, even within one shop.
    assert client.get("/api/v1/cases", headers=theirs).status_code == 200
    assert client.get("/api/v1/cases", headers=second_key_same_shop).status_code == 200
    # The window ends: the key is served again.
    frozen.t += 45
    assert client.get("/api/v1/cases", headers=mine)["Retry-After"] == "15"
    frozen.t += 15
    assert client.get("/api/v1/cases", headers=mine).status_code == 200


@override_settings(SHOUHOU_RATE_LIMIT_API="3/m", SHOUHOU_RATE_LIMIT_PORTAL="off")
def test_staff_sessions_are_counted_per_user(shop, frozen):
    a, b = Client(), Client()
    a.force_login(make_staff(shop, "agent").user)
    b.force_login(make_staff(shop, "agent").user)
    assert [a.get("/api/v1/cases").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert b.get("/api/v1/cases").status_code == 200
    # Pages of the workbench are not API calls and are not limited.
    assert a.get("/wb/").status_code == 200


@override_settings(SHOUHOU_RATE_LIMIT_PORTAL="4/m", SHOUHOU_RATE_LIMIT_API="off")
def test_the_portal_is_limited_per_ip_with_a_page(shop, frozen):
    client = Client()
    codes = [client.get("/portal/", REMOTE_ADDR="10.0.0.1").status_code for _ in range(4)]
    assert codes == [200] * 4
    over = client.get("/help/demo/", REMOTE_ADDR="10.0.0.1")  # /help/ shares the bucket
    assert over.status_code == 429
    assert over["Retry-After"] == "60"
    text = over.content.decode()
    assert "请求过于频繁" in text and 'data-testid="rate-limited"' in text
    client.cookies["django_language"] = "en"
    assert "Too many requests" in client.get("/portal/", REMOTE_ADDR="10.0.0.1").content.decode()
    assert client.get("/portal/", REMOTE_ADDR="10.0.0.2").status_code == 200
    # A spoofed X-Forwarded-For does not buy a fresh bucket.
    spoof = client.get("/portal/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.9")
    assert spoof.status_code == 429
    frozen.t += 60
    assert client.get("/portal/", REMOTE_ADDR="10.0.0.1").status_code == 200


@override_settings(
    SHOUHOU_RATE_LIMIT_PORTAL="2/m",
    SHOUHOU_RATE_LIMIT_API="off",
    SHOUHOU_TRUSTED_PROXIES=["10.0.0.0/8"],
)
def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(shop, frozen):
    client = Client()

    def get(forwarded):
        return client.get("/portal/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=forwarded)

    assert [get("198.51.100.1").status_code for _ in range(3)] == [200, 200, 429]
    assert get("198.51.100.2").status_code == 200
    # The client cannot prepend its own choice: the right-most untrusted hop counts.
    assert get("192.0.2.77, 198.51.100.1").status_code == 429


@override_settings(SHOUHOU_RATE_LIMIT_PORTAL="3/m", SHOUHOU_RATE_LIMIT_API="1000/m")
def test_anonymous_api_calls_are_counted_per_ip(shop, frozen):
    client = Client()
    codes = [client.get("/api/v1/cases", REMOTE_ADDR="10.3.3.3").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    # Another address has its own bucket.
    assert client.get("/api/v1/cases", REMOTE_ADDR="10.3.3.4").status_code == 401


@override_settings(SHOUHOU_RATE_LIMIT_PORTAL="3/m", SHOUHOU_RATE_LIMIT_API="3000/m")
def test_a_made_up_key_per_request_is_still_counted_per_ip(shop, frozen):
    """A fresh `sh_<x>_…` on every call must not open a fresh bucket each time: the portal
    session endpoint (phone last-4 guessing) stays under the per-IP limit."""
    client = Client()
    codes = []
    for n in range(5):
        headers = (
            {"X-API-Key": f"sh_{n:04x}fake_x"}
            if n % 2
            else {"Authorization": f"Bearer sh_{n:04x}fake_{'y' * 40}"}
        )
        body = {"shop": shop.code, "order_external_id": f"NOPE{n}", "phone_last4": "0000"}
        codes.append(
            client.post(
                "/api/v1/portal/session", body, content_type="application/json", headers=headers
            ).status_code
        )
    assert codes[:3] != [429] * 3 and codes[3:] == [429, 429]


@override_settings(SHOUHOU_RATE_LIMIT_PORTAL="2/m", SHOUHOU_RATE_LIMIT_API="100/m")
def test_a_real_prefix_with_a_wrong_secret_is_not_the_keys_bucket(shop, frozen):
    key, secret = ApiKey.issue(shop, "ERP")
    forged = {"Authorization": f"Bearer sh_{key.prefix}_{'x' * 43}"}
    client = Client()
    assert [client.get("/api/v1/cases", headers=forged).status_code for _ in range(3)] == [
        401,
        401,
        429,
    ]
    # The real key's bucket was not spent by the forger, and the key is served.
    real = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/cases", headers=real).status_code == 200


@override_settings(SHOUHOU_RATE_LIMIT_PORTAL="2/m", SHOUHOU_RATE_LIMIT_API="100/m")
def test_a_revoked_key_stops_counting_as_a_key(shop, frozen):
    from shouhou.core.services import revoke_api_key
    from tests.factories import staff_actor

    key, secret = ApiKey.issue(shop, "ERP")
    headers = {"X-API-Key": secret}
    client = Client()
    assert [client.get("/api/v1/cases", headers=headers).status_code for _ in range(3)] == [200] * 3
    revoke_api_key(shop, staff_actor(shop, "admin"), key.pk)
    # From now on it is an anonymous caller: the per-IP limit of 2 applies.
    assert [client.get("/api/v1/cases", headers=headers).status_code for _ in range(3)] == [
        401,
        401,
        429,
    ]


@override_settings(SHOUHOU_RATE_LIMIT_API="off", SHOUHOU_RATE_LIMIT_PORTAL="off")
def test_off_means_off(shop, frozen):
    headers = key_headers(shop)
    client = Client()
    assert all(client.get("/api/v1/cases", headers=headers).status_code == 200 for _ in range(30))


def test_the_defaults_let_a_double_eleven_erp_through():
    """3000/min per key is 50 order pushes a second from one integration; 120/min per buyer
    IP is a page every half second."""
    from django.conf import settings

    assert parse_limit(ratelimit_default("SHOUHOU_RATE_LIMIT_API")).count >= 3000
    assert parse_limit(ratelimit_default("SHOUHOU_RATE_LIMIT_PORTAL")).count >= 120
    assert settings.SHOUHOU_RATE_LIMIT_API == "off"  # the suite runs with them off


def ratelimit_default(name: str) -> str:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOUHOU_RATE_LIMIT")}
    code = (
        "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='shouhou.settings';django.setup();"
        f"from django.conf import settings;print(settings.{name})"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()
