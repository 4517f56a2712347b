"""CSRF on every form: every POST form in the templates carries the token, and every page
route refuses a POST without one — as a logged-in user of the role the page serves."""

from __future__ import annotations

import re
from pathlib import Path

from django.test import Client

from tests.factories import make_order, make_staff
from tests.portal.support import enter

from .world import POST_FIELDS, build_world, fill, page_routes

ROOT = Path(__file__).resolve().parents[2] / "src" / "shouhou"
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)


def test_every_post_form_in_the_templates_has_a_csrf_token():
    forms = missing = 0
    bad = []
    for path in sorted(ROOT.rglob("*.html")):
        for m in FORM.finditer(path.read_text()):
            attrs, body = m.group(1), m.group(2)
            if not re.search(r"""method\s*=\s*["']?post""", attrs, re.I):
                continue
            forms += 1
            if "{% csrf_token %}" not in body:
                missing += 1
                bad.append(f"{path.relative_to(ROOT)}: <form{attrs}>")
    assert not bad, "\n".join(bad)
    assert forms >= 30, forms  # the scan found the site's forms


def csrf_refused(resp) -> bool:
    return (
        resp.status_code == 403
        and b"CSRF" in resp.content
        and b"cookie not set" not in resp.content
    )


def test_every_page_route_refuses_a_post_without_the_token(shop):
    world = build_world(shop)
    users: dict[str, Client] = {}
    for role in ("admin", "agent", "warehouse", "finance", "arbiter"):
        client = Client(enforce_csrf_checks=True)
        client.force_login(make_staff(shop, role).user)
        users[role] = client
    buyer = Client(enforce_csrf_checks=True)
    # The buyer reaches the victim's own order: the right person, without the token.
    buyer_plain = Client()
    enter(buyer_plain, world.objects["case"].order)
    buyer.cookies = buyer_plain.cookies
    anonymous = Client(enforce_csrf_checks=True)
    # A forged request rides on the victim's cookies, the CSRF cookie included: each client
    # holds one, so the refusal below is for the missing token, not a missing cookie.
    for client, page in [(c, "/wb/") for c in users.values()] + [
        (buyer, "/portal/order/"),
        (anonymous, "/login/"),
    ]:
        client.get(page)
        assert "csrftoken" in client.cookies, page

    def client_for(route: str) -> Client:
        if route.startswith(("portal/", "help/")):
            return buyer
        if route.startswith("wb/arbitration/"):
            return users["arbiter"]
        if route.startswith("wb/warehouse/"):
            return users["warehouse"]
        if route.startswith("wb/finance/"):
            return users["finance"]
        if route.startswith("wb/"):
            return users["admin"]
        return anonymous if route.startswith(("login/", "i18n/")) else users["admin"]

    not_refused = []
    routes = page_routes()
    for route in routes:
        url = fill(route, world.ids)
        resp = client_for(route).post(url, POST_FIELDS)
        if not csrf_refused(resp):
            not_refused.append(f"POST {url}: {resp.status_code}")
    assert not not_refused, "\n".join(not_refused)
    assert len(routes) >= 60


def test_the_same_post_with_the_token_is_not_refused_for_csrf(shop):
    """The control: the 403s above are the CSRF check, not the role or a missing object."""
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(make_staff(shop, "admin").user)
    page = admin.get("/wb/settings/faq/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1)
    resp = admin.post(
        "/wb/settings/faq/",
        {
            "csrfmiddlewaretoken": token.decode(),
            "question": "怎么退货？",
            "answer": "在订单页申请。",
        },
    )
    assert not csrf_refused(resp) and resp.status_code < 500, resp.status_code
    login = Client(enforce_csrf_checks=True)
    page = login.get("/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1)
    resp = login.post(
        "/login/", {"csrfmiddlewaretoken": token.decode(), "username": "x", "password": "y"}
    )
    assert resp.status_code == 200 and not csrf_refused(resp)
    buyer = Client(enforce_csrf_checks=True)
    order = make_order(shop)
    page = buyer.get("/portal/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1)
    resp = buyer.post(
        "/portal/",
        {
            "csrfmiddlewaretoken": token.decode(),
            "order_no": order.external_id,
            "phone_last4": order.customer.phone_last4,
        },
    )
    assert resp.status_code == 302 and resp.url == "/portal/order/"
