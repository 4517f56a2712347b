"""The 201 of POST /cases is built from the case in hand: it must equal a fresh GET."""

from __future__ import annotations

import pytest

from shouhou.orders.models import OrderStatus
from shouhou.rules.services import set_template_enabled
from tests.factories import make_order

from .support import buyer_api, key_api, open_case


@pytest.mark.parametrize("fast_refund", [False, True])
def test_open_response_equals_the_detail(shop, fast_refund):
    if fast_refund:
        set_template_enabled(shop, "fast_refund", True)  # the rule agrees and refunds at once
    api = key_api(shop)
    order = make_order(shop, status=OrderStatus.PAID)
    opened = open_case(api, order, type="refund_only", reason="quality")
    assert opened == api.get(f"/cases/{opened['id']}").json()
    assert (opened["status"] == "refunding") is fast_refund
    assert (opened["refund"] is not None) is fast_refund


def test_buyer_open_response_equals_the_buyers_detail(shop):
    order = make_order(shop)
    api = buyer_api(order)
    opened = open_case(api, order, type="return_refund", reason="quality")
    assert opened == api.get(f"/cases/{opened['id']}").json()
    assert opened["customer"]["phone_masked"].count("*") == 4
