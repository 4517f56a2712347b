"""Reads for the arbiter's pages: the disputes of the current shop, and one dispute split
into the buyer's side and the shop's side (statements and evidence), from the case engine's
own case_detail (so masking and scoping are the engine's)."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from shouhou.cases import lifecycle as lc
from shouhou.cases.actors import Actor
from shouhou.cases.models import Case, Visibility
from shouhou.cases.selectors import case_detail
from shouhou.orders.models import Order, OrderLine

DISPUTE_STATUSES = (lc.Status.IN_ARBITRATION.value, lc.Status.SUBMITTED.value)
LIST_LIMIT = 200
BUYER_ROLES = frozenset({lc.ActorRole.BUYER.value})
PLATFORM_ROLES = frozenset({lc.ActorRole.ARBITER.value})
NEUTRAL_ROLES = frozenset({lc.ActorRole.SYSTEM.value})


def disputes(actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """Cases waiting for the platform, soonest deadline first (one index range per status)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for status in DISPUTE_STATUSES:
        rows = (
            Case.objects.filter(shop_id=actor.shop_id, status=status)
            .select_related("order", "customer")
            .order_by(F("deadline_at").asc(nulls_last=True), "id")[:LIST_LIMIT]
        )
        out[status] = [
            {
                "id": c.id,
                "number": c.number,
                "order_no": c.order.external_id,
                "type": c.type,
                "reason": c.reason,
                "status": c.status,
                "requested_refund_fen": c.requested_refund_fen,
                "deadline_at": c.deadline_at,
                "buyer": c.customer.nickname,
                "rejection_reason": c.rejection_reason,
                "description": c.description,
                "version": c.version,
            }
            for c in rows
        ]
    return out


def side_of(role: str) -> str:
    if role in BUYER_ROLES:
        return "buyer"
    if role in PLATFORM_ROLES:
        return "platform"
    if role in NEUTRAL_ROLES:
        return "system"
    return "shop"  # agent, admin, warehouse, finance, the shop's API key


def dispute(actor: Actor, case_id: int) -> dict[str, Any]:
    """The case as the arbiter sees it: public statements only (the shop's internal notes
    are not evidence), each side's evidence, the order, the money asked."""
    detail = case_detail(actor, case_id)  # not_found for another shop's case
    public = [e for e in detail["timeline"] if e["visibility"] == Visibility.PUBLIC]
    sides: dict[str, dict[str, list]] = {
        side: {"statements": [], "evidence": []} for side in ("buyer", "shop", "platform")
    }
    for event in public:
        side = side_of(event["actor_role"])
        if side in sides and event["message"]:
            sides[side]["statements"].append(event)
    for ev in detail["evidence"]:
        side = side_of(ev["uploaded_by"])
        ev["is_image"] = ev["content_type"].startswith("image/")
        sides.get(side, sides["shop"])["evidence"].append(ev)
    order = Order.objects.filter(shop_id=actor.shop_id, pk=detail["order_id"]).first()
    lines = list(OrderLine.objects.filter(shop_id=actor.shop_id, order=order).order_by("id"))
    return {
        "case": detail,
        "public_timeline": public,
        "buyer": sides["buyer"],
        "shop": sides["shop"],
        "platform": sides["platform"],
        "order": order,
        "order_lines": lines,
        "can_rule": lc.Action.RULE_FOR_BUYER.value in detail["allowed_actions"],
        "can_review": lc.Action.PASS_REVIEW.value in detail["allowed_actions"],
        "can_state": actor.role == lc.ActorRole.ARBITER and detail["is_open"],
    }
