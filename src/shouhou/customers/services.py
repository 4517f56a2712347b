"""Writes to the customer archive from staff pages: notes and tags, each audited."""

from __future__ import annotations

from django.db import transaction

from shouhou.cases import lifecycle as lc
from shouhou.cases.actors import Actor
from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.core.models import AuditLog

from .models import Customer

MAX_NOTES = 2000
MAX_TAGS = 20
MAX_TAG_LEN = 20
STAFF_ROLES = frozenset({lc.ActorRole.AGENT, lc.ActorRole.ADMIN})


def parse_tags(raw: str) -> list[str]:
    """ "VIP, 爱退货，易碎品" → ["VIP", "爱退货", "易碎品"] (both commas, no repeats)."""
    parts = raw.replace("，", ",").replace("、", ",").split(",")
    tags = list(dict.fromkeys(p.strip() for p in parts if p.strip()))
    if len(tags) > MAX_TAGS:
        raise ShouhouError(
            "validation_error", detail=f"标签最多 {MAX_TAGS} 个 / at most {MAX_TAGS} tags"
        )
    if any(len(t) > MAX_TAG_LEN for t in tags):
        raise ShouhouError(
            "validation_error",
            detail=f"每个标签最多 {MAX_TAG_LEN} 字 / a tag has at most {MAX_TAG_LEN} characters",
        )
    return tags


def update_archive(actor: Actor, customer_id: int, *, notes: str, tags: list[str]) -> Customer:
    """Replace the customer's notes and tags; the audit log keeps what they were."""
    if actor.role not in STAFF_ROLES:
        raise ShouhouError("permission_denied", role=actor.role.value)
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES or "\x00" in notes:
        raise ShouhouError(
            "validation_error", detail=f"备注最多 {MAX_NOTES} 字 / at most {MAX_NOTES} characters"
        )
    with transaction.atomic():
        customer = (
            Customer.objects.select_for_update()
            .filter(shop_id=actor.shop_id, pk=customer_id)
            .first()
        )
        if customer is None:
            raise ShouhouError("not_found", what="客户")
        before = {"notes": customer.notes, "tags": list(customer.tags or [])}
        if before == {"notes": notes, "tags": tags}:
            return customer
        customer.notes, customer.tags = notes, tags
        customer.save(update_fields=["notes", "tags"])
        AuditLog.objects.create(
            shop_id=actor.shop_id,
            at=clock.now(),
            actor=actor.display,
            action="customer.archive_updated",
            target=f"customer:{customer.id}",
            data={"before": before, "after": {"notes": notes, "tags": tags}},
        )
    return customer
