"""Signed order links: `/portal/o/<token>/` opens the buyer's order without typing anything.

The shop sends the link (SMS, the parcel's card, a chat reply); whoever holds it reaches
that one order for about a month. The token names shop, customer and order, so a link
stays bound to the order it was made for, and its own salt keeps it from being mixed up
with the API's short-lived buyer tokens.
"""

from __future__ import annotations

from typing import TypedDict

from django.core import signing
from django.urls import reverse

from shouhou.orders.models import Order

ORDER_LINK_SALT = "shouhou.portal.order-link"
ORDER_LINK_MAX_AGE = 30 * 24 * 3600


class LinkData(TypedDict):
    s: int
    c: int
    o: int


def order_link_token(order: Order) -> str:
    signer = signing.TimestampSigner(salt=ORDER_LINK_SALT)
    return signer.sign_object(
        {"s": order.shop_id, "c": order.customer_id, "o": order.id}, compress=True
    )


def order_link(order: Order) -> str:
    """The path of the order's signed link: "/portal/o/<token>/"."""
    return reverse("portal:link", kwargs={"token": order_link_token(order)})


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def read_order_link(token: str, *, max_age: int | None = None) -> LinkData:
    """The ids a token names; LinkExpired or LinkInvalid otherwise."""
    max_age = ORDER_LINK_MAX_AGE if max_age is None else max_age
    signer = signing.TimestampSigner(salt=ORDER_LINK_SALT)
    if not token or len(token) > 500:
        raise LinkInvalid
    try:
        data = signer.unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError):
        raise LinkInvalid from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), int) and not isinstance(data.get(k), bool) for k in "sco"
    ):
        raise LinkInvalid
    return LinkData(s=data["s"], c=data["c"], o=data["o"])
