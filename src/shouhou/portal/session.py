"""The buyer in the Django session: which shop, customer and order this browser reached.

A buyer proves an order once (order number + phone digits, or a signed link); the session
then remembers the three ids. The session key is rotated at that moment, so a session id
planted before the proof is worth nothing after it. Every page re-reads the order with all
three ids, so a session can never reach another customer's or another shop's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from shouhou.cases.actors import Actor
from shouhou.cases.lifecycle import ActorRole
from shouhou.core.models import Shop
from shouhou.orders.models import Order

SESSION_KEY = "shouhou_portal_buyer"


@dataclass(frozen=True)
class PortalBuyer:
    shop: Shop
    order: Order
    actor: Actor


def start(request: HttpRequest, *, shop_id: int, customer_id: int, order_id: int) -> None:
    request.session.cycle_key()
    request.session[SESSION_KEY] = {"s": shop_id, "c": customer_id, "o": order_id}


def end(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request.session.cycle_key()


def _ids(raw: Any) -> tuple[int, int, int] | None:
    if not isinstance(raw, dict):
        return None
    values = [raw.get(k) for k in "sco"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return values[0], values[1], values[2]


def buyer_for(shop_id: int, customer_id: int, order_id: int) -> PortalBuyer | None:
    order = (
        Order.objects.select_related("shop", "customer")
        .filter(pk=order_id, shop_id=shop_id, customer_id=customer_id)
        .first()
    )
    if order is None:
        return None
    actor = Actor(role=ActorRole.BUYER, shop_id=shop_id, customer_id=customer_id, label="买家")
    return PortalBuyer(shop=order.shop, order=order, actor=actor)


def current(request: HttpRequest) -> PortalBuyer | None:
    ids = _ids(request.session.get(SESSION_KEY))
    return buyer_for(*ids) if ids else None
