"""Reads for the conversation pages beyond `assistant.selectors`: the rows of the list, the
thread with what the assistant read in each buyer message (and any correction), the FAQ
entries to correct to, the order's lines, and the variables canned replies are filled with.
"""

from __future__ import annotations

from typing import Any

from shouhou.assistant import retrieval
from shouhou.assistant import selectors as assistant_selectors
from shouhou.assistant.models import (
    AssistantCorrection,
    Conversation,
    ConversationStatus,
    CorrectionKind,
    FaqEntry,
    HandoverReason,
    Message,
    MessageAuthor,
)
from shouhou.cases import selectors as case_selectors
from shouhou.cases.actors import Actor
from shouhou.cases.wording import duration_words
from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.core.i18n import tr
from shouhou.orders.models import OrderLine, Shipment, ShipmentDirection

FAQ_CHOICES_LIMIT = 300
INTENT_EN = {
    "greeting": "Greeting",
    "product_inquiry": "Product question",
    "promotion_price": "Promotion & price",
    "shipping_time": "When it ships",
    "logistics_tracking": "Parcel tracking",
    "order_change": "Change / cancel order",
    "return_refund": "Return & refund",
    "quality_complaint": "Quality complaint",
    "other": "Other",
}
SENTIMENT_LABELS = {"positive": ("正面", "positive"), "negative": ("负面", "negative")}


def bilingual(label: str) -> str:
    """Model choices carry "中文 English" labels; the half for the active language."""
    zh, _, en = str(label).partition(" ")
    if not en or zh.isascii():
        return str(label)
    return tr(zh, en)


def intent_label(code: str) -> str:
    if not code:
        return ""
    return tr(assistant_selectors.intent_label(code), INTENT_EN.get(code, code))


def intent_choices() -> list[tuple[str, str]]:
    return [(code, intent_label(code)) for code in assistant_selectors.INTENT_LABELS]


def sentiment_label(code: str) -> str:
    zh, en = SENTIMENT_LABELS.get(code, (code, code))
    return tr(zh, en)


def status_label(code: str) -> str:
    return bilingual(ConversationStatus(code).label) if code in ConversationStatus.values else code


def handover_label(code: str) -> str:
    return bilingual(HandoverReason(code).label) if code in HandoverReason.values else ""


def rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`assistant.selectors.desk_conversations` rows, with labels in the page's language and
    how long each waiting buyer has waited."""
    now = clock.now()
    for row in found:
        row["status_label"] = status_label(row["status"])
        row["handover_label"] = handover_label(row["handover_reason"])
        row["intent_label"] = intent_label(row["last_intent"])
        waiting = row["status"] == ConversationStatus.WAITING and row["waiting_since"]
        row["waited"] = duration_words(now - row["waiting_since"]) if waiting else ""
    return found


def thread(conversation: Conversation, items: list[Message]) -> list[dict[str, Any]]:
    """Each message for the agent; buyer messages with the intent, sentiment, FAQ match
    and the latest correction of each kind."""
    ids = [m.id for m in items if m.author_kind == MessageAuthor.BUYER]
    corrected: dict[tuple[int, str], AssistantCorrection] = {}
    for corr in AssistantCorrection.objects.filter(
        shop_id=conversation.shop_id, message_id__in=ids
    ).order_by("id"):
        corrected[(corr.message_id, corr.kind)] = corr  # the latest wins
    faq_ids = {m.faq_entry_id for m in items if m.faq_entry_id} | {
        c.faq_entry_id for c in corrected.values() if c.faq_entry_id
    }
    questions = dict(
        FaqEntry.objects.filter(shop_id=conversation.shop_id, pk__in=faq_ids).values_list(
            "id", "question"
        )
    )
    out = []
    for m in items:
        row: dict[str, Any] = {
            "id": m.id,
            "author": m.author_kind,
            "label": _author_label(m),
            "body": m.body,
            "at": m.created_at,
            "is_buyer": m.author_kind == MessageAuthor.BUYER,
        }
        if row["is_buyer"]:
            intent_fix = corrected.get((m.id, CorrectionKind.INTENT))
            faq_fix = corrected.get((m.id, CorrectionKind.FAQ))
            row.update(
                {
                    "intent": m.intent,
                    "intent_label": intent_label(m.intent),
                    "intent_score": m.intent_score,
                    "sentiment": m.sentiment,
                    "sentiment_label": sentiment_label(m.sentiment) if m.sentiment else "",
                    "sentiment_score": m.sentiment_score,
                    "faq_id": m.faq_entry_id,
                    "faq_question": questions.get(m.faq_entry_id, ""),
                    "faq_score": m.faq_score,
                    "intent_fix": intent_label(intent_fix.corrected) if intent_fix else "",
                    "intent_fix_code": intent_fix.corrected if intent_fix else "",
                    "faq_fix": faq_fix is not None,
                    "faq_fix_id": faq_fix.faq_entry_id if faq_fix else None,
                    "faq_fix_question": questions.get(faq_fix.faq_entry_id, "")
                    if faq_fix and faq_fix.faq_entry_id
                    else "",
                }
            )
        out.append(row)
    return out


def _author_label(m: Message) -> str:
    if m.author_kind == MessageAuthor.BUYER:
        return tr("买家", "Buyer")
    if m.author_kind == MessageAuthor.ASSISTANT:
        return tr("智能客服", "Assistant")
    if m.author_kind == MessageAuthor.AGENT:
        name = (m.author.display_name or m.author.user.get_username()) if m.author else ""
        return tr(f"客服 {name}", f"Agent {name}").strip()
    return tr("系统", "System")


def is_buyer_message(conversation: Conversation, message_id: int) -> bool:
    return Message.objects.filter(
        pk=message_id,
        conversation_id=conversation.id,
        shop_id=conversation.shop_id,
        author_kind=MessageAuthor.BUYER,
    ).exists()


def faq_choices(shop_id: int) -> list[tuple[int, str]]:
    """The shop's FAQ entries an agent may say should have answered."""
    return list(
        FaqEntry.objects.filter(shop_id=shop_id)
        .order_by("category", "position", "id")
        .values_list("id", "question")[:FAQ_CHOICES_LIMIT]
    )


def suggested_reply(conversation: Conversation, items: list[Message]) -> dict[str, Any] | None:
    """The answer of the FAQ entry that best answers the buyer's latest message: the one an
    agent corrected it to, else retrieval's best match when it is confident (a weak match
    is no suggestion)."""
    last = next((m for m in reversed(items) if m.author_kind == MessageAuthor.BUYER), None)
    if last is None:
        return None
    fix = (
        AssistantCorrection.objects.filter(
            shop_id=conversation.shop_id, message=last, kind=CorrectionKind.FAQ
        )
        .order_by("-id")
        .first()
    )
    if fix is not None:
        entry = fix.faq_entry if fix.faq_entry_id else None
        return {"question": entry.question, "text": entry.answer, "score": None} if entry else None
    found = retrieval.best(conversation.shop, last.body)
    if found is None:
        return None
    return {"question": found.entry.question, "text": found.entry.answer, "score": found.score}


def order_lines(conversation: Conversation) -> list[dict[str, Any]]:
    if conversation.order_id is None:
        return []
    return list(
        OrderLine.objects.filter(shop_id=conversation.shop_id, order_id=conversation.order_id)
        .order_by("id")
        .values("id", "title", "quantity", "paid_fen", "refunded_fen")
    )


def reply_detail(actor: Actor, conversation: Conversation) -> dict[str, Any]:
    """What canned replies are ranked and filled from: the linked case's detail, else a
    stand-in built from the order (its own parcel as {tracking}), else the buyer alone."""
    if conversation.case_id:
        try:
            return case_selectors.case_detail(actor, conversation.case_id)
        except ShouhouError:
            pass  # a case the actor may not read: fall back to the order
    detail: dict[str, Any] = {
        "type": "",
        "status": "",
        "customer": {"nickname": conversation.customer.nickname},
        "order_external_id": conversation.order.external_id if conversation.order_id else "",
        "shipments": [],
    }
    if conversation.order_id:
        parcel = (
            Shipment.objects.filter(
                shop_id=conversation.shop_id,
                order_id=conversation.order_id,
                direction=ShipmentDirection.OUTBOUND,
            )
            .order_by("-shipped_at", "-id")
            .first()
        )
        if parcel is not None:
            detail["shipments"] = [{"carrier": parcel.carrier, "tracking_no": parcel.tracking_no}]
    return detail
