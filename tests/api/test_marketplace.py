"""Marketplace mode: the marketplace's own deadline is the case's clock (PRODUCT.md §2)."""

from __future__ import annotations

from datetime import timedelta

from shouhou.cases import deadlines
from shouhou.core import clock
from shouhou.core.models import ShopMode
from tests.factories import make_order

from .support import key_api, open_case


def test_a_marketplace_deadline_replaces_the_shops_own(shop):
    shop.mode = ShopMode.MARKETPLACE
    shop.save()
    api = key_api(shop)
    order = make_order(shop)
    expire = clock.now() + timedelta(hours=30)  # e.g. Pinduoduo expire_time
    case = open_case(api, order, type="refund_only", deadline_at=expire.isoformat())
    assert case["deadline_action"] == "agree"
    assert case["deadline_at"].startswith(expire.strftime("%Y-%m-%dT%H:%M"))

    clock.move_to(expire - timedelta(minutes=1))
    deadlines.sweep()
    assert api.get(f"/cases/{case['id']}").json()["status"] == "awaiting_merchant"
    clock.move_to(expire + timedelta(minutes=1))
    deadlines.sweep()
    after = api.get(f"/cases/{case['id']}").json()
    assert after["status"] == "refunding"
    assert after["auto_agreed_by_timeout"] is True


def test_an_own_platform_shop_keeps_its_own_deadlines(shop):
    api = key_api(shop)
    order = make_order(shop)
    line = order.lines.get()
    resp = api.post(
        "/cases",
        {
            "order_id": order.id,
            "type": "refund_only",
            "reason": "quality",
            "deadline_at": (clock.now() + timedelta(hours=1)).isoformat(),
            "lines": [{"order_line_id": line.id, "quantity": 1}],
        },
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "validation_error"
    assert order.cases.count() == 0
