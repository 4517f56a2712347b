"""Builders for the desk tests (Django client and browser alike)."""

from __future__ import annotations

from django.test import Client

from shouhou.cases import services
from shouhou.cases.models import Case
from shouhou.core.models import Shop, StaffMember
from tests.factories import buyer, make_customer, make_order

REASON_FOR = {
    "refund_only": "quality",
    "return_refund": "quality",
    "exchange": "quality",
    "reship": "wrong_or_missing",
    "repair": "quality",
    "price_protect": "price_change",
}


def open_case(
    shop: Shop, case_type: str = "refund_only", *, order=None, customer=None, **kw
) -> Case:
    """A case opened by the buyer on a fresh delivered order (one line, 2 × ¥50)."""
    order = order or make_order(shop, customer or make_customer(shop))
    line = order.lines.order_by("id").first()
    if case_type == "price_protect":
        kw.setdefault("refund_fen", 500)
    return services.open_case(
        shop,
        buyer(order),
        order=order,
        type=case_type,
        reason=kw.pop("reason", REASON_FOR[case_type]),
        lines=[services.LineRequest(line.id, kw.pop("quantity", 1))],
        channel="portal",
        **kw,
    )


def client_for(member: StaffMember) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def refreshed(case: Case) -> Case:
    case.refresh_from_db()
    return case
