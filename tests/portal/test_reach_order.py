"""Reaching an order: number + phone digits (with lockout) or a signed link."""

from __future__ import annotations

import pytest
from django.test import Client

from shouhou.core.auth import PORTAL_MAX_FAILURES_PER_ORDER
from shouhou.portal import links
from shouhou.portal.links import order_link
from shouhou.portal.session import SESSION_KEY
from tests.factories import make_customer, make_order, make_shop
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


def _twin(order, other_shop, phone: str = "13900009999"):
    """An order with the same number in another shop, of another buyer."""
    twin = make_order(other_shop, make_customer(other_shop, phone=phone))
    twin.external_id = order.external_id
    twin.save()
    return twin


def test_without_a_shop_an_order_locked_in_one_shop_does_not_refuse_the_buyer_in_another(
    client, shop, other_shop
):
    """Someone's wrong guesses lock shop A's order "1001"; the buyer of shop B's order
    "1001" who types no shop code still gets in with their own digits."""
    order = make_order(shop)
    twin = _twin(order, other_shop)
    guesser = Client(REMOTE_ADDR="10.9.9.9")
    for _ in range(PORTAL_MAX_FAILURES_PER_ORDER):
        post_lookup(guesser, order, wrong(order))
    locked = post_lookup(guesser, order, order.customer.phone_last4)
    assert 'data-code="too_many_attempts"' in locked.content.decode()
    response = client.post(
        "/portal/", {"order_no": twin.external_id, "phone_last4": twin.customer.phone_last4}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.session[SESSION_KEY]["o"] == twin.id


def test_without_a_shop_every_shop_holding_the_number_is_searched(client, shop, other_shop):
    """Not only the first five shops: the buyer's order in the seventh shop is found."""
    order = make_order(shop)
    for n in range(5):
        _twin(order, make_shop(code=f"early{n}", name=f"店{n}"), phone=f"1390000{n:04d}")
    late = _twin(order, make_shop(code="late", name="后来的店"), phone="13912345678")
    response = client.post("/portal/", {"order_no": order.external_id, "phone_last4": "5678"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.session[SESSION_KEY]["o"] == late.id


def test_without_a_shop_a_wrong_guess_counts_once_and_locks_each_order_in_turn(shop, other_shop):
    from django.core.cache import cache

    from shouhou.core.auth import PORTAL_MAX_FAILURES_PER_CLIENT

    order = make_order(shop, make_customer(shop, phone="13800001111"))
    _twin(order, other_shop, phone="13800002222")

    def guess(ip: str, digits: str):
        c = Client(REMOTE_ADDR=ip)
        return c.post("/portal/", {"order_no": order.external_id, "phone_last4": digits})

    # One client, wrong digits: one failure per try however many shops hold the number
    # (spread over several numbers, so no order locks first).
    numbers = []
    for n in range(PORTAL_MAX_FAILURES_PER_CLIENT // (PORTAL_MAX_FAILURES_PER_ORDER - 1) + 1):
        numbered = make_order(shop)
        _twin(numbered, other_shop, phone=f"1380000{n:04d}")
        numbers.append(numbered.external_id)

    def wrong_try(k: int):
        c = Client(REMOTE_ADDR="10.1.1.1")
        no = numbers[k // (PORTAL_MAX_FAILURES_PER_ORDER - 1)]
        return c.post("/portal/", {"order_no": no, "phone_last4": "9999"})

    for k in range(PORTAL_MAX_FAILURES_PER_CLIENT):
        assert 'data-code="not_found"' in wrong_try(k).content.decode(), k
    # The client's own lock comes after exactly that many tries.
    assert 'data-code="too_many_attempts"' in guess("10.1.1.1", "1111").content.decode()
    cache.clear()
    # Many clients guessing: the failures lock the first shop's order, then the twin's, so
    # the right digits of either no longer open it.
    for n in range(2 * PORTAL_MAX_FAILURES_PER_ORDER):
        assert 'data-code="not_found"' in guess(f"10.2.0.{n}", "0000").content.decode()
    assert 'data-code="too_many_attempts"' in guess("10.3.0.1", "2222").content.decode()
    assert 'data-code="too_many_attempts"' in guess("10.3.0.2", "1111").content.decode()


def test_the_order_number_alone_is_indexed():
    from shouhou.orders.models import Order

    assert any(index.fields == ["external_id"] for index in Order._meta.indexes), (
        "the lookup without a shop code filters on external_id alone"
    )
