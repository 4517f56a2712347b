"""Reaching an order: number + phone digits (with lockout) or a signed link."""

from __future__ import annotations

import pytest

from shouhou.core.auth import PORTAL_MAX_FAILURES_PER_ORDER
from shouhou.portal import links
from shouhou.portal.links import order_link
from shouhou.portal.session import SESSION_KEY
from tests.factories import make_customer, make_order
from tests.portal.support import enter

pytestmark = pytest.mark.django_db


def post_lookup(client, order, last4, **kw):
    return client.post(
        "/portal/",
        {"shop": order.shop.code, "order_no": order.external_id, "phone_last4": last4, **kw},
    )


def wrong(order) -> str:
    return "0000" if order.customer.phone_last4 != "0000" else "1111"


def test_lookup_page_names_only_the_shop_in_the_link(client, shop, other_shop):
    page = client.get("/portal/")
    assert page.status_code == 200
    assert shop.name not in page.content.decode() and other_shop.name not in page.content.decode()
    page = client.get(f"/portal/?shop={shop.code}")
    html = page.content.decode()
    assert f'name="shop" value="{shop.code}"' in html and other_shop.name not in html


def test_wrong_digits_say_so_and_right_ones_open_the_order(client, shop):
    order = make_order(shop)
    response = post_lookup(client, order, wrong(order))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-code="not_found"' in html and "手机号后四位不匹配" in html
    assert SESSION_KEY not in client.session
    before = client.session.session_key
    response = post_lookup(client, order, order.customer.phone_last4)
    assert response.status_code == 302 and response.url == "/portal/order/"
    assert client.session.session_key != before  # rotated on proof
    assert client.session[SESSION_KEY] == {"s": shop.id, "c": order.customer_id, "o": order.id}
    page = client.get("/portal/order/")
    assert order.external_id in page.content.decode()


@pytest.mark.parametrize(
    "fields",
    [
        {"phone_last4": "123"},
        {"phone_last4": "12a4"},
        {"phone_last4": "１２３４"},
        {"order_no": ""},
    ],
)
def test_malformed_lookup_gets_a_message_and_no_session(client, shop, fields):
    order = make_order(shop)
    data = {"shop": shop.code, "order_no": order.external_id, "phone_last4": "1234", **fields}
    response = client.post("/portal/", data)
    assert response.status_code == 200
    assert 'data-code="validation_error"' in response.content.decode()
    assert SESSION_KEY not in client.session


def test_unknown_shop_or_order_answers_like_wrong_digits(client, shop, other_shop):
    order = make_order(shop)
    for data in (
        {"shop": other_shop.code, "order_no": order.external_id},
        {"shop": "no-such-shop", "order_no": order.external_id},
        {"shop": shop.code, "order_no": "NOPE"},
    ):
        response = client.post("/portal/", {**data, "phone_last4": order.customer.phone_last4})
        assert 'data-code="not_found"' in response.content.decode()
    assert SESSION_KEY not in client.session


def test_repeated_wrong_digits_lock_the_order_even_for_the_right_ones(client, shop):
    order = make_order(shop)
    for _ in range(PORTAL_MAX_FAILURES_PER_ORDER):
        post_lookup(client, order, wrong(order))
    response = post_lookup(client, order, order.customer.phone_last4)
    html = response.content.decode()
    assert 'data-code="too_many_attempts"' in html and "尝试次数过多" in html
    assert SESSION_KEY not in client.session


def test_pages_need_a_proven_order(client, shop):
    for url in ("/portal/order/", "/portal/order/apply/", "/portal/case/1/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url == "/portal/"


def test_signed_link_opens_the_order(client, shop):
    order = make_order(shop)
    url = order_link(order)
    assert url.startswith("/portal/o/") and url.endswith("/")
    response = client.get(url)
    assert response.status_code == 302 and response.url == "/portal/order/"
    assert client.session[SESSION_KEY]["o"] == order.id


def test_tampered_link_is_a_clear_page(client, shop):
    order = make_order(shop)
    token = links.order_link_token(order)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x", "a" * 600):
        response = client.get(f"/portal/o/{bad}/")
        assert response.status_code == 400
        assert "链接无效" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_expired_link_is_a_clear_page(client, shop, monkeypatch):
    order = make_order(shop)
    url = order_link(order)
    monkeypatch.setattr(links, "ORDER_LINK_MAX_AGE", -1)
    response = client.get(url)
    assert response.status_code == 410
    assert "链接已过期" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_link_of_another_salt_or_a_moved_order_does_not_open(client, shop):
    from shouhou.core.auth import issue_buyer_token

    order = make_order(shop)
    api_token = issue_buyer_token(shop.id, order.customer_id, order.id)
    assert client.get(f"/portal/o/{api_token}/").status_code == 400
    url = order_link(order)
    order.customer = make_customer(shop)
    order.save()
    response = client.get(url)
    assert response.status_code == 404 and "链接无效" in response.content.decode()


def test_leaving_forgets_the_order(client, shop):
    order = make_order(shop)
    enter(client, order)
    client.post("/portal/leave/")
    assert SESSION_KEY not in client.session
    assert client.get("/portal/order/").status_code == 302


def test_english_lookup(client, shop):
    client.cookies["django_language"] = "en"
    response = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Find my order" in response.content.decode()


def test_the_public_lookup_lists_no_shops_and_finds_the_order_without_one(client, shop, other_shop):
    """The platform's tenant list is nobody's business: /portal/ without ?shop names no
    shop, and the order number + phone digits alone still reach the order."""
    page = client.get("/portal/").content.decode()
    assert shop.name not in page and other_shop.name not in page
    assert other_shop.code not in page
    order = make_order(shop)
    twin = make_order(other_shop)  # the same order number in another shop
    twin.external_id = order.external_id
    twin.save()
    response = client.post(
        "/portal/",
        {"order_no": order.external_id, "phone_last4": order.customer.phone_last4},
    )
    assert response.status_code == 302 and response.url == "/portal/order/"
    assert client.session[SESSION_KEY]["o"] == order.id
