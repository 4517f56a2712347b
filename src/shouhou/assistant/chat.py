"""Service conversations (PRODUCT.md §3): a buyer writes in, the assistant answers what it is
sure of, and hands the rest to a person (转人工).

Every function is one transaction and takes who acts explicitly (the buyer-side functions
are called by the portal after it checked that the conversation is the signed-in buyer's).
Ids of another shop or another buyer are `not_found`, never a hint that they exist.

Message bodies are trimmed; an empty body or one over 2,000 characters is refused with
`validation_error` (a chat box is not the place for a 100 KB paste, and the page caps the
field at the same length). Markup is stored exactly as typed, as plain text: pages escape it,
so `<script>` shows as text and never runs.

What the assistant does with a buyer's message (`buyer_says`)
--------------------------------------------------------------
It always reads it: intent, sentiment and the best FAQ match are stored on the message,
and an angry message marks the conversation (`is_angry`) and raises the priority of the
open case the conversation is linked to. Then, only while the conversation is with the
assistant (status `bot`), it either answers or hands over. Hand-over rules, first match wins:

1. ``asked``        the buyer asks for a person (转人工, 人工客服, 真人, 客服呢, 不要机器人 …:
                    the explicit list in `ASK_FOR_PERSON`; the intent model has no such
                    label, so the list decides). The 转人工 button (`ask_for_human`) does
                    the same at any time.
2. ``unreadable``   nothing readable after normalising (emoji or punctuation only): the
                    first time the assistant gently asks "请用文字描述您的问题"; if the next
                    message is unreadable too, it hands over.
3. ``angry``        `nlp.is_angry` (strongly negative, or 投诉/12315/差评/骗子 …).
4. ``complaint``    intent `quality_complaint`: a person handles quality problems.
5. ``order_change`` intent `order_change`: changes before shipment (address, quantity,
                    spec, cancel) are tracked requests for a person, never promised by a bot.
6. ``repeated``     the assistant has just answered, and the buyer asks the same again
                    (nearly the same words, or the same intent and the same best FAQ entry):
                    the answer did not help.
7. ``low_confidence`` neither a confident intent the assistant can answer from the order's
                    facts nor a confident FAQ match (`answers.compose` returns None). A
                    message without a single Chinese character (English, an order number
                    alone) lands here too: the models and the FAQ are Chinese, and what they
                    make of Latin letters is a coincidence, not an answer.

A hand-over sets the status to `waiting` (the desk sorts by `waiting_since`), records the
reason and posts a system message ("已为您转接人工客服，请稍候"). While the conversation is
waiting or with an agent the assistant stays quiet: the agent answers.

Resent messages: the page sends a `client_token` with each message; a resent
(conversation, token) returns the messages the first call produced and adds nothing. The
messages an answer produced carry derived tokens (`<token>#1`, `<token>#2`), so the replay
is exact; a concurrent duplicate loses on the unique constraint and gets the same replay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from shouhou.cases import lifecycle as lc
from shouhou.cases.actors import Actor
from shouhou.cases.models import Case
from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop, StaffMember
from shouhou.core.services import audit
from shouhou.customers.models import Customer
from shouhou.orders.models import Channel, Order, OrderLine

from . import answers, casework, nlp
from .models import (
    AssistantCorrection,
    Conversation,
    ConversationStatus,
    CorrectionKind,
    FaqEntry,
    HandoverReason,
    Message,
    MessageAuthor,
)

if TYPE_CHECKING:
    from .retrieval import FaqMatch

MAX_BODY = 2000
MAX_TOKEN = 60  # the column holds 64: room for the derived "#1", "#2"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,60}$")
STAFF_ROLES = frozenset({lc.ActorRole.AGENT, lc.ActorRole.ADMIN})
OPEN = (ConversationStatus.BOT, ConversationStatus.WAITING, ConversationStatus.WITH_AGENT)

HANDOVER_NOTICE = "已为您转接人工客服，请稍候"
UNREADABLE_PROMPT = "抱歉，我没能看懂这条消息。请用文字描述您的问题，例如“什么时候发货”“我要退货”。"
CLOSED_NOTICE = "本次会话已结束，感谢您的咨询。如还有问题，可以随时再联系我们。"
# What the buyer reads before the notice, by reason (plain, no blame).
HANDOVER_LEAD = {
    HandoverReason.ASKED: "好的，",
    HandoverReason.ANGRY: "非常抱歉给您带来不好的体验，",
    HandoverReason.COMPLAINT: "非常抱歉商品给您带来困扰，质量问题由人工客服为您处理，",
    HandoverReason.ORDER_CHANGE: "修改或取消订单需要人工客服为您处理，",
    HandoverReason.REPEATED: "看来刚才的回答没能解决您的问题，",
    HandoverReason.UNREADABLE: "",
    HandoverReason.LOW_CONFIDENCE: "这个问题我还不能准确回答，",
}
# Asking for a person. The intent model has no such label, so an explicit list decides;
# bare 客服 is not enough ("客服你好" is a greeting), 机器人 alone is a product (扫地机器人).
ASK_FOR_PERSON = re.compile(
    r"转人工|人工客服|人工服务|找人工|要人工|叫人工|接人工|^人工$|真人|活人|"
    r"客服呢|客服在吗|客服在哪|找客服|联系客服|叫.{0,4}客服|有客服吗|"
    r"不要机器人|别用机器人|你是机器人|机器人回复|自动回复"
)
_CJK_RE = re.compile(r"[\u3400-\u9fff]")
# Intents where "the same again" means the answer did not help (a second 你好 is fine).
REPEATABLE_INTENTS = frozenset(
    {
        "shipping_time",
        "logistics_tracking",
        "return_refund",
        "promotion_price",
        "product_inquiry",
    }
)


# --- input --------------------------------------------------------------------------------
def _invalid(zh: str, en: str) -> ShouhouError:
    return ShouhouError("validation_error", detail=f"{zh} / {en}")


def clean_body(text: str | None) -> str:
    """Trimmed message text; empty or over 2,000 characters is a validation_error."""
    if text is not None and not isinstance(text, str):
        raise _invalid("消息必须是文字", "the message must be text")
    body = (text or "").strip()
    if not body:
        raise _invalid("消息不能为空", "the message is empty")
    if len(body) > MAX_BODY:
        raise _invalid(
            f"消息最多 {MAX_BODY} 字，请分几条发送",
            f"a message holds at most {MAX_BODY} characters; send it in parts",
        )
    if "\x00" in body:
        raise _invalid("消息含有非法字符", "the message contains a NUL character")
    return body


def clean_token(token: str | None) -> str:
    token = (token or "").strip()
    if token and not TOKEN_RE.match(token):
        raise _invalid(
            "client_token 须为 1–60 位字母、数字或 _ . : -",
            "client_token must be 1–60 letters, digits or _ . : -",
        )
    return token


def _require_staff(actor: Actor, shop_id: int) -> None:
    if actor.shop_id != shop_id:
        raise ShouhouError("not_found", what="会话")
    if actor.role not in STAFF_ROLES:
        raise ShouhouError("permission_denied", role=actor.role.value)


def _staff_member(actor: Actor) -> StaffMember | None:
    if actor.staff_id is None:
        return None
    return StaffMember.objects.filter(
        pk=actor.staff_id, shop_id=actor.shop_id, is_active=True
    ).first()


def _locked(conversation_id: int, shop_id: int | None = None) -> Conversation:
    qs = Conversation.objects.select_for_update().select_related("shop")
    if shop_id is not None:
        qs = qs.filter(shop_id=shop_id)
    conversation = qs.filter(pk=conversation_id).first()
    if conversation is None:
        raise ShouhouError("not_found", what="会话")
    return conversation


def _not_closed(conversation: Conversation) -> None:
    if conversation.status == ConversationStatus.CLOSED:
        raise _invalid("会话已结束，请重新发起咨询", "the conversation is closed; start a new one")


def _post(
    conversation: Conversation,
    author_kind: str,
    body: str,
    *,
    author: StaffMember | None = None,
    token: str = "",
    **fields,
) -> Message:
    return Message.objects.create(
        shop_id=conversation.shop_id,
        conversation=conversation,
        author_kind=author_kind,
        author=author,
        body=body[:MAX_BODY],
        client_token=token,
        created_at=clock.now(),
        **fields,
    )


def _replay(conversation_id: int, token: str, author_kind: str, body: str) -> list[Message]:
    tokens = [token, f"{token}#1", f"{token}#2"]
    found = list(
        Message.objects.filter(conversation_id=conversation_id, client_token__in=tokens).order_by(
            "id"
        )
    )
    if found and (found[0].author_kind != author_kind or found[0].body != body):
        # A page that missed the answer to its first send kept the old token; a different
        # text under it is a new message, and dropping it silently would lose it.
        raise _invalid(
            "client_token 已被另一条消息使用，请刷新后重新发送",
            "this client_token belongs to another message: reload and send again",
        )
    return found


# --- opening ------------------------------------------------------------------------------
def open_conversation(
    shop: Shop, customer: Customer, *, order: Order | None = None, channel: str = "portal"
) -> Conversation:
    """The buyer's open conversation about this order (or none), or a new one linked to the
    order's latest open case; a new one starts with the assistant's welcome."""
    if customer.shop_id != shop.id:
        raise ShouhouError("not_found", what="客户")
    if order is not None and (order.shop_id != shop.id or order.customer_id != customer.id):
        raise ShouhouError("not_found", what="订单")
    if channel not in Channel.values:
        raise _invalid(f"未知渠道 {channel!r}", f"unknown channel {channel!r}")
    with transaction.atomic():
        # Lock the buyer: two tabs opening the chat at once land in one conversation, also
        # for conversations without an order (which the unique constraint cannot cover).
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        existing = _open_for(shop, customer, order)
        if existing is not None:
            return existing
        now = clock.now()
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(
                    shop=shop,
                    customer=customer,
                    order=order,
                    case=_open_case_of(order),
                    channel=channel,
                    started_at=now,
                    last_message_at=now,
                )
        except IntegrityError:
            existing = _open_for(shop, customer, order)
            if existing is None:
                raise
            return existing
        _post(conversation, MessageAuthor.ASSISTANT, answers.welcome(shop, order))
    return conversation


def _open_case_of(order: Order | None) -> Case | None:
    """The order's latest open case: the conversation is most likely about it."""
    if order is None:
        return None
    return (
        Case.objects.filter(shop_id=order.shop_id, order=order, is_open=True)
        .order_by("-opened_at", "-id")
        .first()
    )


def _open_for(shop: Shop, customer: Customer, order: Order | None) -> Conversation | None:
    return (
        Conversation.objects.filter(shop=shop, customer=customer, order=order)
        .exclude(status=ConversationStatus.CLOSED)
        .order_by("-id")
        .first()
    )


# --- the buyer writes ---------------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """What the assistant read in one buyer message (computed before any lock is taken)."""

    normalized: str
    intent: nlp.Label
    sentiment: nlp.Label
    angry: bool
    faq: FaqMatch | None  # the best match, confident or not

    @property
    def readable(self) -> bool:
        return any(ch.isalnum() for ch in self.normalized)

    @property
    def chinese(self) -> bool:
        return bool(_CJK_RE.search(self.normalized))

    @property
    def negative_score(self) -> float:
        return nlp.negative_probability(self.sentiment)


def read(shop: Shop, body: str) -> Reading:
    normalized = nlp.normalize(body)
    if not any(ch.isalnum() for ch in normalized):
        # Emoji or punctuation only: nothing for the models to read.
        return Reading(normalized, nlp.Label("other", 0.0), nlp.Label("positive", 0.5), False, None)
    from . import retrieval  # ORM-aware; imported when first needed

    # The shop's FAQ is Chinese: a match on Latin letters alone is a coincidence of
    # character n-grams, not an answer ("Can I pay with bitcoin?" is not 可以指定快递吗).
    matches = retrieval.match(shop, body, k=1) if _CJK_RE.search(normalized) else []
    return Reading(
        normalized,
        nlp.intent(body),
        nlp.sentiment(body),
        nlp.is_angry(body),
        matches[0] if matches else None,
    )


def buyer_says(conversation_id: int, text: str, *, client_token: str = "") -> list[Message]:
    """Store the buyer's message and, while the assistant has the conversation, its answer
    or the hand-over notice. A resent client_token returns the first call's messages."""
    body = clean_body(text)
    token = clean_token(client_token)
    head = (
        Conversation.objects.select_related("shop")
        .filter(pk=conversation_id)
        .only("id", "shop", "status")
        .first()
    )
    if head is None:
        raise ShouhouError("not_found", what="会话")
    if token and (done := _replay(conversation_id, token, MessageAuthor.BUYER, body)):
        return done
    _not_closed(head)  # checked again under the lock; this spares the models the work
    # The models run before the transaction: no row is locked while they think.
    reading = read(head.shop, body)
    with transaction.atomic():
        conversation = _locked(conversation_id)
        if token and (done := _replay(conversation_id, token, MessageAuthor.BUYER, body)):
            return done  # the same message, sent twice at once: the other call stored it
        _not_closed(conversation)
        # A case the buyer opened after the chat began is what the chat is about now.
        current_case = _open_case_of(conversation.order) if conversation.order_id else None
        if current_case is not None and current_case.id != conversation.case_id:
            conversation.case = current_case
        recent = list(conversation.messages.order_by("-id")[:6])
        try:
            with transaction.atomic():
                said = _post(
                    conversation,
                    MessageAuthor.BUYER,
                    body,
                    token=token,
                    intent=reading.intent.label,
                    intent_score=round(reading.intent.score, 4),
                    sentiment=reading.sentiment.label,
                    sentiment_score=round(reading.sentiment.score, 4),
                    faq_entry=reading.faq.entry if reading.faq else None,
                    faq_score=round(reading.faq.score, 4) if reading.faq else None,
                )
        except IntegrityError:
            # The same token won a race a moment ago: hand back what it produced.
            if token and (done := _replay(conversation_id, token, MessageAuthor.BUYER, body)):
                return done
            raise
        out = [said]
        now = said.created_at
        conversation.last_message_at = now
        if reading.readable:
            conversation.last_intent = reading.intent.label
        if reading.angry:
            conversation.is_angry = True
            if conversation.case_id:
                casework.angry_message(conversation.case_id, reading.negative_score)
        if conversation.status == ConversationStatus.BOT:
            out += _assistant_turn(conversation, said, reading, recent, token)
        conversation.save()
    return out


def _assistant_turn(
    conversation: Conversation,
    said: Message,
    reading: Reading,
    recent: list[Message],
    token: str,
) -> list[Message]:
    reply_token = f"{token}#1" if token else ""
    reason = _handover_reason(reading, recent)
    if reason == "prompt":
        return [_post(conversation, MessageAuthor.ASSISTANT, UNREADABLE_PROMPT, token=reply_token)]
    if reason is None and reading.chinese:
        answer = answers.compose(
            conversation,
            intent=reading.intent,
            faq=reading.faq,
            thanks=bool(answers.THANKS_RE.search(reading.normalized)),
        )
        if answer is not None:
            return [
                _post(
                    conversation,
                    MessageAuthor.ASSISTANT,
                    answer.body,
                    token=reply_token,
                    faq_entry=answer.faq_entry,
                    faq_score=answer.faq_score,
                )
            ]
    return [_hand_over(conversation, reason or HandoverReason.LOW_CONFIDENCE, token=reply_token)]


def _handover_reason(reading: Reading, recent: list[Message]) -> str | None:
    """The first hand-over rule that applies (module docstring), "prompt" to ask for words
    once, or None to let the assistant try an answer."""
    if ASK_FOR_PERSON.search(reading.normalized):
        return HandoverReason.ASKED
    if not reading.readable:
        asked_already = (
            recent
            and recent[0].author_kind == MessageAuthor.ASSISTANT
            and (recent[0].body == UNREADABLE_PROMPT)
        )
        return HandoverReason.UNREADABLE if asked_already else "prompt"
    if reading.angry:
        return HandoverReason.ANGRY
    if reading.intent.label == "quality_complaint":
        return HandoverReason.COMPLAINT
    if reading.intent.label == "order_change":
        return HandoverReason.ORDER_CHANGE
    if _is_repeat(reading, recent):
        return HandoverReason.REPEATED
    return None


def _is_repeat(reading: Reading, recent: list[Message]) -> bool:
    """The assistant answered the buyer's previous message, and this one asks the same."""
    if not recent or recent[0].author_kind != MessageAuthor.ASSISTANT:
        return False
    if recent[0].body == UNREADABLE_PROMPT:
        return False
    previous = next((m for m in recent[1:] if m.author_kind == MessageAuthor.BUYER), None)
    if previous is None:
        return False  # the welcome message answered nothing
    if nlp.normalize(previous.body) == reading.normalized:
        return True
    if _overlap(nlp.normalize(previous.body), reading.normalized) >= 0.6:
        return True
    # The same topic: the same intent and the same best FAQ entry ("什么时候发货" then
    # "到底什么时候发货啊"), not merely the same intent ("优惠券怎么用" then "满减怎么算").
    top = reading.faq.entry.id if reading.faq else None
    if previous.intent != reading.intent.label or previous.faq_entry_id != top:
        return False
    return reading.intent.label in REPEATABLE_INTENTS or (
        top is not None and reading.intent.label != "greeting"
    )


def _overlap(a: str, b: str) -> float:
    """Jaccard overlap of character bigrams (spaces and punctuation dropped)."""

    def grams(s: str) -> set[str]:
        s = "".join(ch for ch in s if ch.isalnum())
        return {s[i : i + 2] for i in range(len(s) - 1)} or ({s} if s else set())

    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def _hand_over(conversation: Conversation, reason: str, *, token: str = "") -> Message:
    conversation.status = ConversationStatus.WAITING
    conversation.handover_reason = reason
    conversation.waiting_since = clock.now()
    lead = HANDOVER_LEAD.get(HandoverReason(reason), "")
    return _post(conversation, MessageAuthor.SYSTEM, f"{lead}{HANDOVER_NOTICE}", token=token)


def ask_for_human(conversation_id: int) -> Conversation:
    """The buyer's 转人工 button: wait for a person now, whatever the assistant thought."""
    with transaction.atomic():
        conversation = _locked(conversation_id)
        _not_closed(conversation)
        if conversation.status == ConversationStatus.BOT:
            message = _hand_over(conversation, HandoverReason.ASKED)
            conversation.last_message_at = message.created_at
            conversation.save()
    return conversation


# --- the agent ----------------------------------------------------------------------------
def take_over(conversation_id: int, actor: Actor) -> Conversation:
    """An agent takes the conversation (the assignee is the acting staff member)."""
    with transaction.atomic():
        conversation = _locked(conversation_id, actor.shop_id)
        _require_staff(actor, conversation.shop_id)
        _not_closed(conversation)
        _take(conversation, actor)
        conversation.save()
    return conversation


def _take(conversation: Conversation, actor: Actor) -> None:
    staff = _staff_member(actor)
    changed = conversation.status != ConversationStatus.WITH_AGENT or (
        staff is not None and conversation.assignee_id != staff.id
    )
    conversation.status = ConversationStatus.WITH_AGENT
    if staff is not None:
        conversation.assignee = staff
    if changed:
        message = _post(conversation, MessageAuthor.SYSTEM, "人工客服已接入，为您服务")
        conversation.last_message_at = message.created_at


def agent_says(conversation_id: int, actor: Actor, text: str, *, client_token: str = "") -> Message:
    """The agent's reply; answering a conversation that is not yet theirs takes it over."""
    body = clean_body(text)
    token = clean_token(client_token)
    with transaction.atomic():
        conversation = _locked(conversation_id, actor.shop_id)
        _require_staff(actor, conversation.shop_id)
        if token and (done := _replay(conversation_id, token, MessageAuthor.AGENT, body)):
            return done[0]
        _not_closed(conversation)
        if conversation.status != ConversationStatus.WITH_AGENT or conversation.assignee_id is None:
            _take(conversation, actor)
        try:
            with transaction.atomic():
                message = _post(
                    conversation,
                    MessageAuthor.AGENT,
                    body,
                    author=_staff_member(actor),
                    token=token,
                )
        except IntegrityError:
            if token and (done := _replay(conversation_id, token, MessageAuthor.AGENT, body)):
                return done[0]
            raise
        conversation.last_message_at = message.created_at
        conversation.save()
    return message


def close(conversation_id: int, actor: Actor) -> Conversation:
    """End the conversation (the agent, or the buyer it belongs to). Closing twice is fine."""
    with transaction.atomic():
        conversation = _locked(conversation_id, actor.shop_id)
        if actor.role == lc.ActorRole.BUYER:
            if conversation.customer_id != actor.customer_id:
                raise ShouhouError("not_found", what="会话")
        else:
            _require_staff(actor, conversation.shop_id)
        if conversation.status != ConversationStatus.CLOSED:
            message = _post(conversation, MessageAuthor.SYSTEM, CLOSED_NOTICE)
            conversation.status = ConversationStatus.CLOSED
            conversation.closed_at = message.created_at
            conversation.last_message_at = message.created_at
            conversation.save()
    return conversation


# --- from a conversation to a case --------------------------------------------------------
def _buyer_text(conversation: Conversation) -> str:
    bodies = conversation.messages.filter(author_kind=MessageAuthor.BUYER).order_by("id")
    return "\n".join(bodies.values_list("body", flat=True))[:MAX_BODY]


def suggest_case(conversation_id: int) -> dict:
    """{"case_type", "reason", "description", "line_ids"} from triage of what the buyer
    said, the type adjusted to one the shop's policy allows for that reason."""
    conversation = (
        Conversation.objects.select_related("shop", "order").filter(pk=conversation_id).first()
    )
    if conversation is None:
        raise ShouhouError("not_found", what="会话")
    description = _buyer_text(conversation)
    triage = nlp.triage(description)
    reason = triage.reason if triage.reason in lc.Reason.__members__.values() else "other"
    order = conversation.order
    if reason == lc.Reason.CHANGED_MIND_UNSHIPPED and order is not None and order.is_shipped:
        reason = lc.Reason.NO_REASON_7D  # "not shipped" no longer applies
    case_type = casework.allowed_type(conversation.shop, reason, triage.case_type)
    line_ids = (
        list(
            OrderLine.objects.filter(order=order, shop_id=conversation.shop_id)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if order is not None
        else []
    )
    return {
        "case_type": case_type,
        "reason": str(reason),
        "description": description,
        "line_ids": line_ids,
        "reason_score": triage.reason_score,
        "type_score": triage.type_score,
    }


def open_case_from_conversation(
    conversation_id: int,
    actor: Actor,
    *,
    case_type: str,
    reason: str,
    line_ids: list[int],
    description: str,
) -> Case:
    """The agent opens a case for the buyer from the chat (channel 在线客服 chat)."""
    from shouhou.cases import services as case_services

    with transaction.atomic():
        conversation = _locked(conversation_id, actor.shop_id)
        _require_staff(actor, conversation.shop_id)
        _not_closed(conversation)  # another agent may have closed it while this page was open
        if conversation.order_id is None:
            raise _invalid("会话未关联订单，不能创建售后单", "the conversation has no order")
        ids: list[int] = []
        for raw in line_ids or []:
            try:
                ids.append(int(raw))
            except (TypeError, ValueError):
                raise _invalid(f"订单行 {raw!r} 不合法", f"bad order line {raw!r}") from None
        lines = {
            ol.id: ol
            for ol in OrderLine.objects.filter(
                shop_id=conversation.shop_id, order_id=conversation.order_id, id__in=ids
            )
        }
        requests = [
            case_services.LineRequest(i, lines[i].quantity if i in lines else 1) for i in ids
        ]
        text = (description or "").strip()[:MAX_BODY] or _buyer_text(conversation)
        case = case_services.open_case(
            conversation.shop,
            actor,
            order=Order.objects.get(pk=conversation.order_id),
            type=case_type,
            reason=reason,
            lines=requests,
            description=text,
            channel=Channel.CHAT,
        )
        conversation.case = case
        message = _post(conversation, MessageAuthor.SYSTEM, f"已为您创建售后单 {case.number}")
        conversation.last_message_at = message.created_at
        conversation.save()
    return case


# --- learning from the shop ---------------------------------------------------------------
def _buyer_message(message_id: int, actor: Actor) -> Message:
    message = (
        Message.objects.select_for_update()
        .filter(pk=message_id, shop_id=actor.shop_id)
        .select_related("shop")
        .first()
    )
    if message is None:
        raise ShouhouError("not_found", what="消息")
    _require_staff(actor, message.shop_id)
    if message.author_kind != MessageAuthor.BUYER:
        raise _invalid("只能纠正买家的消息", "only a buyer's message can be corrected")
    return message


def correct_intent(message_id: int, actor: Actor, *, intent: str) -> AssistantCorrection:
    """The agent says what the buyer really wanted; training learns from it."""
    if intent not in nlp.INTENTS:
        raise _invalid(f"未知意图 {intent!r}", f"unknown intent {intent!r}")
    with transaction.atomic():
        message = _buyer_message(message_id, actor)
        correction = AssistantCorrection.objects.create(
            shop_id=message.shop_id,
            message=message,
            kind=CorrectionKind.INTENT,
            text=message.body,
            predicted=message.intent,
            corrected=intent,
            corrected_by=_staff_member(actor),
            created_at=clock.now(),
        )
        audit(
            message.shop,
            actor,
            "assistant.correct_intent",
            f"message:{message.id}",  # never the buyer's words: the audit log outlives erasure
            {"message": message.id, "predicted": message.intent, "corrected": intent},
        )
    return correction


def correct_faq(message_id: int, actor: Actor, *, faq_entry_id: int | None) -> AssistantCorrection:
    """The FAQ entry that should have answered (None: no entry should). With an entry, the
    buyer's words become one of its 相似问法 at once, so retrieval finds it next time."""
    with transaction.atomic():
        message = _buyer_message(message_id, actor)
        entry = None
        if faq_entry_id is not None:
            entry = (
                FaqEntry.objects.select_for_update()
                .filter(pk=faq_entry_id, shop_id=message.shop_id)
                .first()
            )
            if entry is None:
                raise ShouhouError("not_found", what="常见问题")
        correction = AssistantCorrection.objects.create(
            shop_id=message.shop_id,
            message=message,
            kind=CorrectionKind.FAQ,
            text=message.body,
            predicted=str(message.faq_entry_id or ""),
            corrected=str(entry.id) if entry else "",
            faq_entry=entry,
            corrected_by=_staff_member(actor),
            created_at=clock.now(),
        )
        learned = casework.learn_phrasing(entry, message.body) if entry else False
        audit(
            message.shop,
            actor,
            "assistant.correct_faq",
            f"message:{message.id}",
            {
                "message": message.id,
                "predicted": message.faq_entry_id,
                "corrected": entry.id if entry else None,
                "phrasing_added": learned,
            },
        )
    return correction
