"""Reads of the customer archive for staff pages: who the buyer is (masked), and what
else they bought and asked for in this shop."""

from __future__ import annotations

from typing import Any

from shouhou.cases.models import Case
from shouhou.core.errors import ShouhouError
from shouhou.orders.models import Order

from .models import Customer

RECENT = 10


def archive(shop_id: int, customer_id: int, *, limit: int = RECENT) -> dict[str, Any]:
    """The customer's archive in this shop; phone and address masked.

    Another shop's customer is not found. Orders and cases are the most recent `limit`
    (both read through the (shop, customer) indexes), with the totals beside them.
    """
    customer = Customer.objects.filter(shop_id=shop_id, pk=customer_id).first()
    if customer is None:
        raise ShouhouError("not_found", what="客户")
    orders = Order.objects.filter(shop_id=shop_id, customer_id=customer_id)
    cases = Case.objects.filter(shop_id=shop_id, customer_id=customer_id)
    return {
        "id": customer.id,
        "external_id": customer.external_id,
        "nickname": customer.nickname,
        "tier": customer.tier,
        "tier_label": customer.get_tier_display(),
        "points": customer.points,
        "blocklisted": customer.blocklisted,
        "tags": list(customer.tags or []),
        "notes": customer.notes,
        "phone_masked": customer.phone_masked,
        "address_masked": customer.address_masked,
        "order_count": orders.count(),
        "case_count": cases.count(),
        "orders": list(
            orders.order_by("-placed_at", "-id").values(
                "id", "external_id", "status", "placed_at", "total_paid_fen"
            )[:limit]
        ),
        "cases": list(
            cases.order_by("-opened_at", "-id").values(
                "id", "number", "type", "status", "opened_at", "refund_fen", "order__external_id"
            )[:limit]
        ),
    }
