"""Tenant isolation over every page: each route from the URL resolver, its ids filled with
another shop's real objects, requested (GET and POST) by every role of this shop, by this
shop's buyer, and with no credentials.

Refusals are 302 (to log in, or back to a list with a message), 400, 403, 404 or 405; a
route that names none of the victim's objects may also answer 200. No answer may carry
any of the victim's marker strings, and nothing of the victim's may change.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_order, make_staff
from tests.portal.support import enter

from .world import POST_FIELDS, build_world, fill, page_routes, targeted

ROLES = ("agent", "warehouse", "finance", "admin", "arbiter")
REFUSED = {302, 400, 403, 404, 405}
# Public by design: a shop's help centre (policy and published FAQ) is for anyone.
PUBLIC = {"help/<slug:shop_code>/"}


def readable(resp) -> str:
    if resp.streaming:
        return b"".join(resp.streaming_content).decode("utf-8", "replace")
    return resp.content.decode("utf-8", "replace")


@pytest.fixture
def attackers(other_shop):
    clients: dict[str, Client] = {}
    for role in ROLES:
        client = Client()
        client.force_login(make_staff(other_shop, role).user)
        clients[f"other shop's {role}"] = client
    buyer = Client()
    enter(buyer, make_order(other_shop))
    clients["other shop's buyer"] = buyer
    clients["no credentials"] = Client()
    return clients


def test_every_page_refuses_other_shops_and_strangers(shop, other_shop, attackers, media):
    world = build_world(shop)
    before = world.snapshot()
    routes = page_routes()
    assert len(routes) >= 60, routes  # the whole site, not an empty resolver
    failures: list[str] = []
    walked = 0
    for route in routes:
        url = fill(route, world.ids)
        for who, client in attackers.items():
            for method in ("get", "post"):
                if method == "get":
                    resp = client.get(url)
                else:
                    resp = client.post(url, POST_FIELDS)
                walked += 1
                text = readable(resp)
                leaked = [m for m in world.markers if m and m in text]
                ok = resp.status_code in REFUSED or (
                    (not targeted(route) or route in PUBLIC) and 200 <= resp.status_code < 300
                )
                if leaked or not ok:
                    failures.append(
                        f"{method.upper()} {url} as {who}: {resp.status_code} leaked={leaked}"
                    )
    assert not failures, "\n".join(failures)
    assert walked >= len(routes) * len(attackers) * 2
    after = world.snapshot()
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def test_the_owner_reaches_the_targeted_pages(shop, media):
    """The same ids are real: the victim's own admin (or arbiter, for arbitration) opens
    each targeted page with a GET that is not a 404 — the refusals above are isolation,
    not typos."""
    world = build_world(shop)
    admin, arbiter = Client(), Client()
    admin.force_login(make_staff(shop, "admin").user)
    arbiter.force_login(make_staff(shop, "arbiter").user)
    checked = 0
    for route in page_routes():
        if not targeted(route) or route.startswith(("portal/", "help/")):
            continue
        client = arbiter if route.startswith("wb/arbitration/") else admin
        resp = client.get(fill(route, world.ids))
        assert resp.status_code != 404 or resp.status_code == 405, (route, resp.status_code)
        assert resp.status_code < 500, route
        checked += 1
    assert checked >= 25
    # And the markers are what those pages show their owner: a leak would be seen.
    case_page = admin.get(f"/wb/cases/{world.ids['case_id']}/").content.decode()
    assert world.objects["case"].number in case_page
    assert world.objects["key"].name in admin.get("/wb/settings/api-keys/").content.decode()
    assert world.objects["rule"].name in admin.get("/wb/settings/rules/").content.decode()


def test_the_django_admin_is_for_superusers_only(shop, other_shop):
    world = build_world(shop)
    client = Client()
    client.force_login(make_staff(other_shop, "admin").user)
    for path in ("/admin/", f"/admin/cases/case/{world.ids['case_id']}/change/"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/admin/login/" in resp["Location"], path
