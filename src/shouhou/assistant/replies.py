"""Canned replies on a case: which ones suit it, with the case's facts filled in.

A reply body may use {buyer} {order_no} {case_no} {status} {deadline} {refund} {tracking}
{return_address} {shop}. Filling works from `cases.selectors.case_detail(...)` (already
masked for the viewer), so ranking and filling a dozen replies costs no extra query per
reply — except the return address: the detail masks it for staff, but a reply is written
to the buyer, who needs the shop's warehouse in full to post the parcel, so it is read once. A placeholder the case cannot fill yet (no tracking number, no return address) is
left empty rather than shown as "{tracking}" to a buyer.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shouhou.cases import services as case_services
from shouhou.cases import wording
from shouhou.cases.actors import Actor
from shouhou.cases.models import ReturnAddress, TimelineEvent
from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop

from .models import CannedReply

VARIABLES = (
    "buyer",
    "order_no",
    "case_no",
    "status",
    "deadline",
    "refund",
    "tracking",
    "return_address",
    "shop",
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fen(amount: int | None) -> str:
    yuan, cents = divmod(int(amount or 0), 100)
    return f"¥{yuan:,}.{cents:02d}"


def case_variables(detail: dict[str, Any], shop: Shop, lang: str | None = None) -> dict[str, str]:
    """The value of every variable for this case (detail = case_detail(...))."""
    deadline = detail.get("deadline_at")
    shipments = detail.get("shipments") or []
    address = _return_address_in_full(detail.get("return_address"), shop)
    refund = detail.get("refund_fen") or detail.get("requested_refund_fen") or 0
    return {
        "buyer": (detail.get("customer") or {}).get("nickname") or "",
        "order_no": detail.get("order_external_id") or "",
        "case_no": detail.get("number") or "",
        "status": wording.label("status", detail.get("status") or "", lang),
        "deadline": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M") if deadline else "",
        "refund": _fen(refund),
        "tracking": (
            f"{shipments[-1]['carrier']} {shipments[-1]['tracking_no']}" if shipments else ""
        ),
        "return_address": (
            f"{address['address']}（{address['contact_name']} {address['phone']}）"
            if address
            else ""
        ),
        "shop": shop.name,
    }


def _return_address_in_full(masked: dict[str, Any] | None, shop: Shop) -> dict[str, str] | None:
    if not masked:
        return None
    row = ReturnAddress.objects.filter(pk=masked["id"], shop=shop).first()
    if row is None:
        return None
    return {"address": row.address, "contact_name": row.contact_name, "phone": row.phone}


def fill(body: str, variables: dict[str, str]) -> str:
    """Replace the known {variables}; anything else in braces stays as written."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return variables[name] if name in variables else match.group(0)

    return _PLACEHOLDER.sub(one, body)


def _rank_key(reply: CannedReply, case_type: str, status: str) -> tuple:
    types, statuses = list(reply.case_types or []), list(reply.statuses or [])
    matched = (status in statuses) * 2 + (case_type in types)
    # A reply written for other types or statuses goes after the general ones.
    mismatched = (bool(types) and case_type not in types) or (
        bool(statuses) and status not in statuses
    )
    return (mismatched, -matched, -reply.times_used, reply.position, reply.id)


def ranked_for_case(
    shop: Shop, detail: dict[str, Any], *, limit: int = 12, lang: str | None = None
) -> list[dict[str, Any]]:
    """The shop's active replies for this case, best first, with the variables filled."""
    replies = list(CannedReply.objects.filter(shop=shop, is_active=True).order_by("position", "id"))
    replies.sort(key=lambda r: _rank_key(r, detail.get("type", ""), detail.get("status", "")))
    variables = case_variables(detail, shop, lang)
    return [
        {
            "id": r.id,
            "title": r.title,
            "text": fill(r.body, variables),
            "times_used": r.times_used,
        }
        for r in replies[:limit]
    ]


def send_reply(
    case_id: int,
    actor: Actor,
    *,
    text: str,
    canned_id: int | None = None,
    expected_version: int | None = None,
) -> TimelineEvent:
    """A public reply on the case; a canned reply it came from counts one more use."""
    with transaction.atomic():
        event = case_services.add_note(
            case_id, actor, text=text, internal=False, expected_version=expected_version
        )
        if canned_id is not None:
            used = CannedReply.objects.filter(
                pk=canned_id, shop_id=actor.shop_id, is_active=True
            ).update(times_used=F("times_used") + 1)
            if not used:
                raise ShouhouError("not_found", what="快捷回复")
    return event
