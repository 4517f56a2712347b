"""Builders shared by the conversation tests (chat, answers, casework)."""

from __future__ import annotations

from datetime import timedelta

from shouhou.assistant import chat
from shouhou.assistant.models import Conversation, Message
from shouhou.core import clock
from shouhou.orders.models import Order, Shipment, ShipmentDirection
from tests.factories import make_customer, make_order


def ship(order: Order, *, carrier="顺丰速运", tracking="SF1234567890", delivered=False):
    """An outbound parcel for the order (and the order marked shipped / delivered)."""
    now = clock.now()
    shipped_at = now - timedelta(days=2)
    order.status = "delivered" if delivered else "shipped"
    order.shipped_at = shipped_at
    order.delivered_at = now - timedelta(hours=5) if delivered else None
    order.save()
    return Shipment.objects.create(
        shop_id=order.shop_id,
        order=order,
        direction=ShipmentDirection.OUTBOUND,
        carrier=carrier,
        tracking_no=tracking,
        shipped_at=shipped_at,
        delivered_at=order.delivered_at,
    )


def paid_order(shop, customer=None) -> Order:
    return make_order(shop, customer or make_customer(shop), status="paid")


def chat_about(order: Order) -> Conversation:
    return chat.open_conversation(order.shop, order.customer, order=order)


def bodies(conversation: Conversation) -> list[tuple[str, str]]:
    return list(
        Message.objects.filter(conversation=conversation)
        .order_by("id")
        .values_list("author_kind", "body")
    )
