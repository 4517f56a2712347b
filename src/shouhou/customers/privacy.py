"""A buyer's personal data (PIPL): reveal to the staff who need it, export, erase.

- `reveal_customer`: shop admins and agents may see a customer's full name, phone or address;
  every reveal writes `customer.revealed` to the audit log (which fields, never the values).
- `export_customer`: everything shouhou holds on the person in that shop, as a JSON-able dict
  (shop admin only; audited `customer.exported`).
- `erase_customer`: removes the person but keeps the shop's accounting — orders, amounts,
  refund instructions, dates, statuses and case counts stay; names, phones, addresses, the
  buyer's own words and photos go (shop admin only; audited `customer.erased`; refused
  while a case of theirs is still open).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from shouhou.assistant.casework import MAX_PHRASING
from shouhou.assistant.models import (
    AssistantCorrection,
    Conversation,
    CorrectionKind,
    FaqEntry,
    Message,
    MessageAuthor,
)
from shouhou.cases import lifecycle as lc
from shouhou.cases.actors import Actor
from shouhou.cases.models import Case, CaseRating, Evidence, RefundInstruction, TimelineEvent
from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.core.models import AuditLog, IdempotencyRecord
from shouhou.orders.models import Order

from .models import Customer

ERASED = "［已删除］"
REVEALABLE = ("name", "phone", "address")
REVEAL_ROLES = frozenset({lc.ActorRole.ADMIN, lc.ActorRole.AGENT})
ADMIN_ROLES = frozenset({lc.ActorRole.ADMIN})


def may_reveal(actor: Actor) -> bool:
    return actor.role in REVEAL_ROLES


def _audit(actor: Actor, action: str, target: str, data: dict[str, Any]) -> None:
    AuditLog.objects.create(
        shop_id=actor.shop_id,
        at=clock.now(),
        actor=(actor.display or "")[:120],
        action=action,
        target=target,
        data=data,
    )


def _customer(actor: Actor, customer_id: int, *, lock: bool = False) -> Customer:
    qs = Customer.objects.filter(shop_id=actor.shop_id, pk=customer_id)
    if lock:
        qs = qs.select_for_update()
    customer = qs.first()
    if customer is None:
        raise ShouhouError("not_found", what="客户")
    return customer


def reveal_customer(actor: Actor, customer_id: int, fields: Iterable[str]) -> dict[str, str]:
    """The customer's full values of `fields` (name / phone / address), audited."""
    if not may_reveal(actor):
        raise ShouhouError("permission_denied", role=actor.role.value)
    wanted = list(dict.fromkeys(fields))
    unknown = [f for f in wanted if f not in REVEALABLE]
    if not wanted or unknown:
        raise ShouhouError(
            "validation_error",
            detail=f"fields: {', '.join(unknown) or '—'} (可选 one of {', '.join(REVEALABLE)})",
        )
    with transaction.atomic():
        customer = _customer(actor, customer_id)
        _audit(actor, "customer.revealed", f"customer:{customer.id}", {"fields": wanted})
    return {f: getattr(customer, f) or "" for f in wanted}


def reveal_order_receiver(actor: Actor, order_id: int, fields: Iterable[str]) -> dict[str, str]:
    """An order's full receiver name / phone / address, audited `order.receiver_revealed`."""
    if not may_reveal(actor):
        raise ShouhouError("permission_denied", role=actor.role.value)
    wanted = list(dict.fromkeys(fields))
    if not wanted or any(f not in REVEALABLE for f in wanted):
        raise ShouhouError("validation_error", detail=f"fields: one of {', '.join(REVEALABLE)}")
    with transaction.atomic():
        order = Order.objects.filter(shop_id=actor.shop_id, pk=order_id).first()
        if order is None:
            raise ShouhouError("not_found", what="订单")
        _audit(actor, "order.receiver_revealed", f"order:{order.id}", {"fields": wanted})
    return {f: getattr(order, f"receiver_{f}") or "" for f in wanted}


# -- export -------------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _row(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: _iso(getattr(obj, f)) for f in fields}


def export_customer(actor: Actor, customer_id: int) -> dict[str, Any]:
    """Everything this shop holds on the person, plain values included (admin only)."""
    if actor.role not in ADMIN_ROLES:
        raise ShouhouError("permission_denied", role=actor.role.value)
    with transaction.atomic():
        customer = _customer(actor, customer_id)
        orders = list(
            Order.objects.filter(shop_id=actor.shop_id, customer=customer)
            .prefetch_related("lines", "shipments")
            .order_by("placed_at", "id")
        )
        cases = list(
            Case.objects.filter(shop_id=actor.shop_id, customer=customer)
            .select_related("order")
            .order_by("opened_at", "id")
        )
        case_ids = [c.id for c in cases]
        timeline: dict[int, list] = {}
        for ev in TimelineEvent.objects.filter(case_id__in=case_ids).order_by("at", "id"):
            timeline.setdefault(ev.case_id, []).append(
                _row(
                    ev,
                    (
                        "at",
                        "actor_role",
                        "actor_label",
                        "action",
                        "from_status",
                        "to_status",
                        "visibility",
                        "message",
                    ),
                )
            )
        evidence: dict[int, list] = {}
        for ev in Evidence.objects.filter(case_id__in=case_ids).order_by("id"):
            evidence.setdefault(ev.case_id, []).append(
                {
                    **_row(
                        ev,
                        (
                            "uploaded_by",
                            "original_name",
                            "content_type",
                            "size",
                            "sha256",
                            "note",
                            "created_at",
                        ),
                    ),
                    "file": ev.file.name or "",
                }
            )
        ratings = {r.case_id: r for r in CaseRating.objects.filter(case_id__in=case_ids)}
        refunds = {r.case_id: r for r in RefundInstruction.objects.filter(case_id__in=case_ids)}
        conversations = list(
            Conversation.objects.filter(shop_id=actor.shop_id, customer=customer).order_by(
                "started_at", "id"
            )
        )
        messages: dict[int, list] = {}
        for m in Message.objects.filter(conversation__in=conversations).order_by("id"):
            messages.setdefault(m.conversation_id, []).append(
                _row(m, ("author_kind", "body", "created_at"))
            )
        out = {
            "format": "shouhou.customer-export.v1",
            "exported_at": _iso(clock.now()),
            "shop": actor.shop_id,
            "customer": {
                **_row(
                    customer,
                    (
                        "id",
                        "external_id",
                        "nickname",
                        "name",
                        "phone",
                        "address",
                        "tier",
                        "points",
                        "blocklisted",
                        "notes",
                        "created_at",
                    ),
                ),
                "tags": list(customer.tags or []),
                "erased_at": _iso(customer.erased_at),
            },
            "orders": [
                {
                    **_row(
                        o,
                        (
                            "id",
                            "external_id",
                            "channel",
                            "status",
                            "placed_at",
                            "paid_at",
                            "shipped_at",
                            "delivered_at",
                            "total_paid_fen",
                            "shipping_fee_fen",
                            "receiver_name",
                            "receiver_phone",
                            "receiver_address",
                        ),
                    ),
                    "lines": [
                        _row(
                            ln,
                            (
                                "external_id",
                                "title",
                                "quantity",
                                "unit_price_fen",
                                "paid_fen",
                                "refunded_fen",
                            ),
                        )
                        for ln in sorted(o.lines.all(), key=lambda x: x.id)
                    ],
                    "shipments": [
                        _row(
                            s, ("direction", "carrier", "tracking_no", "shipped_at", "delivered_at")
                        )
                        for s in sorted(o.shipments.all(), key=lambda x: x.id)
                    ],
                }
                for o in orders
            ],
            "cases": [
                {
                    **_row(
                        c,
                        (
                            "id",
                            "number",
                            "type",
                            "reason",
                            "status",
                            "channel",
                            "description",
                            "requested_refund_fen",
                            "refund_fen",
                            "opened_at",
                            "closed_at",
                        ),
                    ),
                    "order": c.order.external_id,
                    "timeline": timeline.get(c.id, []),
                    "evidence": evidence.get(c.id, []),
                    "rating": _row(ratings[c.id], ("speed", "satisfaction", "comment", "at"))
                    if c.id in ratings
                    else None,
                    "refund": _row(
                        refunds[c.id],
                        ("reference", "amount_fen", "status", "issued_at", "confirmed_at"),
                    )
                    if c.id in refunds
                    else None,
                }
                for c in cases
            ],
            "conversations": [
                {
                    **_row(cv, ("id", "channel", "status", "started_at", "closed_at")),
                    "messages": messages.get(cv.id, []),
                }
                for cv in conversations
            ],
        }
        _audit(
            actor,
            "customer.exported",
            f"customer:{customer.id}",
            {"orders": len(orders), "cases": len(cases), "conversations": len(conversations)},
        )
    return out


# -- erasure ------------------------------------------------------------------------------


CORRECTION_AUDITS = ("assistant.correct_intent", "assistant.correct_faq")


def _unlearn_phrasings(buyer_messages) -> None:
    """Take the buyer's words back out of the FAQ entries' 相似问法 that an agent's FAQ
    correction taught them (assistant.casework.learn_phrasing): a line equal to one of this
    buyer's corrected messages goes, the shop's own phrasings stay. (The entry's retrieval
    index is rebuilt because updated_at moves.)"""
    from shouhou.assistant import nlp  # loads the text models; only erasure needs them

    learned: dict[int, set[str]] = {}
    for entry_id, body in AssistantCorrection.objects.filter(
        message__in=buyer_messages, kind=CorrectionKind.FAQ, faq_entry__isnull=False
    ).values_list("faq_entry_id", "message__body"):
        phrasing = " ".join((body or "").split())[:MAX_PHRASING]
        if phrasing:
            learned.setdefault(entry_id, set()).add(nlp.normalize(phrasing))
    for entry in FaqEntry.objects.select_for_update().filter(pk__in=learned):
        lines = (entry.keywords or "").splitlines()
        kept = [ln for ln in lines if nlp.normalize(ln) not in learned[entry.id]]
        if kept != lines:
            entry.keywords = "\n".join(kept)
            entry.save(update_fields=["keywords", "updated_at"])


def _erase_copies(shop_id: int, case_ids: list[int], message_ids: list[int]) -> None:
    """Copies of the person's data outside their own rows: the Idempotency-Key records of
    the cases they opened through the API (the stored response is the whole case detail —
    description, nickname, timeline), and the targets of audit entries for the agents'
    corrections of their chat messages, which older versions wrote as the message's first
    120 characters (now `message:<id>`)."""
    if case_ids:
        IdempotencyRecord.objects.filter(shop_id=shop_id, response__id__in=case_ids).delete()
    if message_ids:
        for row in AuditLog.objects.filter(
            shop_id=shop_id, action__in=CORRECTION_AUDITS, data__message__in=message_ids
        ).only("id", "data"):
            AuditLog.objects.filter(pk=row.pk).update(target=f"message:{row.data['message']}")


def erase_customer(actor: Actor, customer_id: int) -> dict[str, int]:
    """Remove the person, keep the accounting. A second call changes nothing.

    Kept: orders (lines, amounts, dates, statuses), cases (amounts, statuses, dates, the
    timeline's events), refund instructions, ratings' scores. Removed: the customer's name,
    phone, address, nickname, notes and tags, the lookup hash and last four digits (so the
    buyer portal no longer finds the orders), order receivers, the buyer's own words (case
    descriptions, their timeline messages, rating comments, chat messages and the copies in
    assistant corrections, FAQ phrasings learned from them, audit targets and stored
    Idempotency-Key responses) and evidence files (deleted from disk; the rows say so).
    """
    if actor.role not in ADMIN_ROLES:
        raise ShouhouError("permission_denied", role=actor.role.value)
    files: list[Any] = []
    with transaction.atomic():
        customer = _customer(actor, customer_id, lock=True)
        if customer.erased_at is not None:
            return {"already_erased": 1}
        open_cases = Case.objects.filter(customer=customer, is_open=True).count()
        if open_cases:
            raise ShouhouError("customer_has_open_cases", count=open_cases)
        shop_id = actor.shop_id
        cases = Case.objects.filter(shop_id=shop_id, customer=customer)
        case_ids = list(cases.values_list("id", flat=True))
        counts = {"orders": 0, "cases": len(case_ids), "messages": 0, "evidence": 0}
        counts["orders"] = Order.objects.filter(shop_id=shop_id, customer=customer).update(
            receiver_name="", receiver_phone="", receiver_address=""
        )
        cases.exclude(description="").update(description=ERASED)
        # The timeline is append-only for the product; erasure is the one rewrite allowed,
        # and only of the buyer's own words.
        TimelineEvent.objects.filter(case_id__in=case_ids, actor_role=lc.ActorRole.BUYER).exclude(
            message=""
        ).update(message=ERASED)
        CaseRating.objects.filter(case_id__in=case_ids).exclude(comment="").update(comment=ERASED)
        for ev in Evidence.objects.filter(case_id__in=case_ids).exclude(file=""):
            files.append(ev.file.name)
            counts["evidence"] += 1
        Evidence.objects.filter(case_id__in=case_ids).update(file="", original_name=ERASED, note="")
        buyer_messages = Message.objects.filter(
            conversation__customer=customer, author_kind=MessageAuthor.BUYER
        )
        _unlearn_phrasings(buyer_messages)
        _erase_copies(shop_id, case_ids, list(buyer_messages.values_list("id", flat=True)))
        AssistantCorrection.objects.filter(message__in=buyer_messages).update(text=ERASED)
        counts["messages"] = buyer_messages.update(body=ERASED)
        AuditLog.objects.filter(
            shop_id=shop_id, target=f"customer:{customer.id}", action="customer.archive_updated"
        ).update(data={"erased": True})
        customer.nickname = ERASED
        customer.name = customer.phone = customer.address = ""
        customer.phone_index = customer.phone_last4 = ""
        customer.notes, customer.tags = "", []
        customer.erased_at = clock.now()
        customer.save()
        _audit(actor, "customer.erased", f"customer:{customer.id}", counts)
        if files:
            storage = Evidence._meta.get_field("file").storage
            # Files go only once the erasure is committed; a rollback keeps them.
            transaction.on_commit(lambda: [storage.delete(name) for name in files])
    return counts
