"""Reads for conversations: the agent desk's list, one conversation, new messages.

Every read is scoped to a shop (and, for the buyer, to the customer and order); an id of
another shop is `not_found`, exactly like an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Case as When_
from django.db.models import F, IntegerField, OuterRef, Subquery, Value, When

from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop, StaffMember
from shouhou.customers.models import Customer
from shouhou.orders.models import Order

from . import nlp
from .models import Conversation, ConversationStatus, HandoverReason, Message

OPEN_STATUSES = (
    ConversationStatus.WAITING,
    ConversationStatus.WITH_AGENT,
    ConversationStatus.BOT,
)
MAX_MESSAGES = 200
DESK_LIMIT = 200

INTENT_LABELS = nlp.INTENT_LABELS  # code → 中文 (PRODUCT.md §3)


def intent_label(code: str) -> str:
    return INTENT_LABELS.get(code, code)


def _staff_id(mine: Any) -> int | None:
    if mine is None or mine is False:
        return None
    if isinstance(mine, StaffMember):
        return mine.id
    staff_id = getattr(mine, "staff_id", mine)  # an Actor, or an id
    return int(staff_id) if staff_id is not None else None


def desk_conversations(
    shop: Shop, *, status: str | None = None, mine: Any = None, limit: int = DESK_LIMIT
) -> list[dict[str, Any]]:
    """The desk's conversations: waiting for a person first (longest wait first), then
    those with an agent, then those with the assistant (latest message first).

    status: one ConversationStatus code, or None for every open conversation.
    mine: a StaffMember, an Actor or a staff id → only conversations assigned to them.
    Each row: id, status, status_label, handover_reason, handover_label, is_angry,
    last_intent, last_intent_label, customer {id, nickname, tier}, order {id, external_id}
    or None, case {id, number} or None, assignee {id, name} or None, started_at,
    last_message_at, waiting_since, last_message {body, author_kind, created_at} or None.
    """
    qs = Conversation.objects.filter(shop=shop)
    if status:
        if status not in ConversationStatus.values:
            raise ShouhouError("validation_error", detail=f"status: {status!r}")
        qs = qs.filter(status=status)
    else:
        qs = qs.filter(status__in=OPEN_STATUSES)
    staff_id = _staff_id(mine)
    if staff_id is not None:
        qs = qs.filter(assignee_id=staff_id)
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-id")
    qs = (
        qs.select_related("customer", "order", "case", "assignee__user")
        .annotate(
            rank=When_(
                When(status=ConversationStatus.WAITING, then=Value(0)),
                When(status=ConversationStatus.WITH_AGENT, then=Value(1)),
                When(status=ConversationStatus.BOT, then=Value(2)),
                default=Value(3),
                output_field=IntegerField(),
            ),
            # Only a waiting conversation sorts by how long it has waited.
            wait_key=When_(
                When(status=ConversationStatus.WAITING, then=F("waiting_since")),
                default=None,
            ),
            last_body=Subquery(last.values("body")[:1]),
            last_author=Subquery(last.values("author_kind")[:1]),
            last_at=Subquery(last.values("created_at")[:1]),
        )
        .order_by(
            "rank",
            F("wait_key").asc(nulls_last=True),
            "-last_message_at",
            "-id",
        )
    )
    rows = []
    for c in qs[: max(1, min(int(limit), 1000))]:
        rows.append(
            {
                "id": c.id,
                "status": c.status,
                "status_label": ConversationStatus(c.status).label,
                "handover_reason": c.handover_reason,
                "handover_label": HandoverReason(c.handover_reason).label
                if c.handover_reason
                else "",
                "is_angry": c.is_angry,
                "last_intent": c.last_intent,
                "last_intent_label": intent_label(c.last_intent) if c.last_intent else "",
                "customer": {
                    "id": c.customer_id,
                    "nickname": c.customer.nickname or c.customer.external_id,
                    "tier": c.customer.tier,
                },
                "order": {"id": c.order_id, "external_id": c.order.external_id}
                if c.order_id
                else None,
                "case": {"id": c.case_id, "number": c.case.number} if c.case_id else None,
                "assignee": {
                    "id": c.assignee_id,
                    "name": c.assignee.display_name or c.assignee.user.get_username(),
                }
                if c.assignee_id
                else None,
                "channel": c.channel,
                "started_at": c.started_at,
                "last_message_at": c.last_message_at,
                "waiting_since": c.waiting_since,
                "last_message": {
                    "body": c.last_body,
                    "author_kind": c.last_author,
                    "created_at": c.last_at,
                }
                if c.last_body is not None
                else None,
            }
        )
    return rows


def waiting_count(shop: Shop) -> int:
    return Conversation.objects.filter(shop=shop, status=ConversationStatus.WAITING).count()


def conversation_for_staff(shop: Shop, conversation_id: int) -> Conversation:
    """One conversation of the shop (customer, order, case and assignee loaded)."""
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        raise ShouhouError("not_found", what="会话") from None
    conversation = (
        Conversation.objects.select_related("shop", "customer", "order", "case", "assignee")
        .filter(shop=shop, pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise ShouhouError("not_found", what="会话")
    return conversation


def messages_after(conversation: Conversation, after_id: int | None = 0) -> list[Message]:
    """The conversation's messages with id > after_id, oldest first (at most 200: a page
    polling with the last id it has gets the rest on the next call)."""
    try:
        after = int(after_id or 0)
    except (TypeError, ValueError):
        after = 0
    return list(
        Message.objects.filter(conversation=conversation, id__gt=after)
        .select_related("author", "faq_entry")
        .order_by("id")[:MAX_MESSAGES]
    )


def conversation_for_buyer(
    shop: Shop, customer: Customer, order: Order | None
) -> Conversation | None:
    """The buyer's open conversation about this order, or None (then the page offers to
    start one with chat.open_conversation)."""
    if customer.shop_id != shop.id:
        return None
    if order is not None and (order.shop_id != shop.id or order.customer_id != customer.id):
        return None
    return (
        Conversation.objects.filter(shop=shop, customer=customer, order=order)
        .exclude(status=ConversationStatus.CLOSED)
        .select_related("shop", "order", "case")
        .order_by("-id")
        .first()
    )
