"""The assistant's replies: what it says for an intent, with the order's own facts.

Every fact in a reply is read from the database (the order, its outbound shipment, its
open case, the shop's FAQ); nothing the buyer wrote is echoed back, so a buyer cannot make
the assistant "confirm" a tracking number or a promise. Replies are plain text: pages
escape them like every other message.

`compose` returns None when the assistant has nothing it is sure of; the caller hands the
conversation to a person (low_confidence).

- greeting → a greeting naming the shop.
- shipping_time / logistics_tracking → the order's shipping facts: not shipped yet (paid at,
  and the shop's dispatch promise when its FAQ has one), or shipped (carrier, tracking
  number, when, delivered or still on its way).
- return_refund → the order's open case (status, what happens next and by when, in the
  words of `cases.wording`), else how to apply.
- After the facts, the confident FAQ answer to what was asked, cited ("默认发什么快递",
  "退款多久到账" ask about the order and the shop's rules at once).
- promotion_price / product_inquiry / other → the confident FAQ answer.
A confident FAQ match also answers when the intent itself is not confident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from shouhou.cases import lifecycle as lc
from shouhou.cases import wording
from shouhou.cases.models import Case
from shouhou.core import clock
from shouhou.core.models import Shop
from shouhou.orders.models import Order, OrderStatus, Shipment, ShipmentDirection

from .models import Conversation, FaqCategory, FaqEntry

if TYPE_CHECKING:
    from .nlp import Label
    from .retrieval import FaqMatch

ZH = "zh-hans"  # the assistant speaks Chinese whatever language the agent's page uses
MAX_BODY = 2000
# An intent the assistant acts on needs at least this probability; below it only a
# confident FAQ match answers. Set with the intent model's cross-validated scores: the
# wrong answers it gives above this are rarer than one in twenty (see the eval command).
INTENT_CONFIDENT = 0.55
DISPATCH_QUESTIONS = ("多久发货", "什么时候发货", "发货时间", "几天发货")
# Thanks and acknowledgements are greetings to the intent model; they get "不客气".
THANKS_RE = re.compile(r"谢|感谢|好的|好滴|好哒|收到|知道了|明白|^(嗯|哦|ok|okay)+[!！。.~]*$")
FACT_INTENTS = frozenset({"greeting", "shipping_time", "logistics_tracking", "return_refund"})


@dataclass(frozen=True)
class Answer:
    body: str
    kind: str  # greeting | shipping | case | apply | faq
    faq_entry: FaqEntry | None = None
    faq_score: float | None = None


def _when(at) -> str:
    return timezone.localtime(at).strftime("%m月%d日 %H:%M")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_BODY else text[: MAX_BODY - 1] + "…"


def welcome(shop: Shop, order: Order | None) -> str:
    about = f"关于订单 {order.external_id} 的" if order is not None else ""
    return (
        f"您好，欢迎光临{shop.name}！我是智能客服，可以帮您查询{about}发货、物流和售后进度。"
        "需要人工服务时，随时点击「转人工」。"
    )


def compose(
    conversation: Conversation, *, intent: Label, faq: FaqMatch | None, thanks: bool = False
) -> Answer | None:
    """The assistant's answer to a buyer message, or None to hand over. `thanks`: the
    message thanks or acknowledges; a greeting then gets 不客气."""
    shop = conversation.shop
    order = conversation.order
    confident_faq = faq if faq is not None and faq.confident else None
    code = intent.label if intent.score >= INTENT_CONFIDENT else ""
    if code == "greeting":
        if thanks:
            return Answer("不客气！还有其他问题随时问我，需要人工时点击「转人工」。", "greeting")
        return Answer(
            f"您好，欢迎光临{shop.name}！请问有什么可以帮您？"
            "您可以问我发货时间、物流进度、退换货和售后进度。",
            "greeting",
        )
    if code in {"shipping_time", "logistics_tracking"} and order is not None:
        return _shipping(shop, order, confident_faq)
    if code == "return_refund" and order is not None:
        return _after_sales(conversation, order, confident_faq)
    if confident_faq is not None:
        return _faq(confident_faq)
    return None


def _faq(match: FaqMatch, lead: str = "") -> Answer:
    entry = match.entry
    return Answer(
        _cut(f"{lead}关于「{entry.question}」：{entry.answer}"),
        "faq",
        entry,
        round(match.score, 4),
    )


# --- shipping -----------------------------------------------------------------------------
def _dispatch_promise(shop: Shop) -> FaqEntry | None:
    """The shop's own words on when it ships: its first published shipping entry that asks
    when an order ships (下单后多久发货？ in the default FAQ)."""
    for entry in FaqEntry.objects.filter(
        shop=shop, category=FaqCategory.SHIPPING, is_published=True
    ).order_by("position", "id"):
        if any(words in entry.question for words in DISPATCH_QUESTIONS):
            return entry
    return None


def _shipping(shop: Shop, order: Order, faq: FaqMatch | None) -> Answer:
    no = order.external_id
    if order.status == OrderStatus.UNPAID:
        return Answer(f"您的订单 {no} 还未付款，付款后仓库才会安排发货。", "shipping")
    if order.status == OrderStatus.CANCELLED:
        return Answer(f"您的订单 {no} 已取消，不会再发货。", "shipping")
    if not order.is_shipped:
        paid = f"已于 {_when(order.paid_at)} 付款，" if order.paid_at else ""
        text = f"您的订单 {no} {paid}目前还未发货。"
        promise = _dispatch_promise(shop)
        if promise is not None:
            text += f"本店发货说明：{promise.answer}"
        else:
            text += "仓库会尽快安排发货，发货后您可以在这里查到快递公司和运单号。"
        if faq is not None and promise is not None and promise.id == faq.entry.id:
            return Answer(_cut(text), "shipping", promise, round(faq.score, 4))
        return _with_faq(text, "shipping", faq, cited=promise)
    shipment = (
        Shipment.objects.filter(
            shop_id=order.shop_id, order=order, direction=ShipmentDirection.OUTBOUND
        )
        .order_by("-shipped_at", "-id")
        .first()
    )
    if shipment is None:
        shipped = f"已于 {_when(order.shipped_at)} 发货" if order.shipped_at else "已发货"
        text = f"您的订单 {no} {shipped}，暂时还没有运单信息，请稍后再查看。"
    else:
        text = (
            f"您的订单 {no} 已于 {_when(shipment.shipped_at)} 由{shipment.carrier}发出，"
            f"运单号 {shipment.tracking_no}。"
        )
        delivered = shipment.delivered_at or order.delivered_at
        if delivered is not None:
            text += f"包裹已于 {_when(delivered)} 签收。"
        else:
            text += f"包裹还在运输途中，可用运单号在{shipment.carrier}官网或 App 查询最新轨迹。"
    if shipment is None and order.delivered_at is not None:
        text += f"包裹已于 {_when(order.delivered_at)} 签收。"
    return _with_faq(text, "shipping", faq)


def _with_faq(
    text: str, kind: str, faq: FaqMatch | None, *, cited: FaqEntry | None = None
) -> Answer:
    """The order's facts, then the confident FAQ answer to what was asked ("默认发什么快递",
    "退款多久到账" are about the order and the shop's rules at once); the entry is cited."""
    if faq is None:
        return Answer(_cut(text), kind, cited)
    entry = faq.entry
    return Answer(
        _cut(f"{text}\n关于「{entry.question}」：{entry.answer}"), kind, entry, round(faq.score, 4)
    )


# --- after-sales --------------------------------------------------------------------------
def _deadline_label(case: Case, order: Order) -> str:
    if case.deadline_at is None:
        return ""
    key = lc.deadline_key(lc.Status(case.status), path=case.path, order_shipped=order.is_shipped)
    rule = lc.DEADLINES.get(key) if key else None
    return rule.label if rule else ""


def _case_for(conversation: Conversation, order: Order) -> Case | None:
    cases = Case.objects.filter(shop_id=order.shop_id, order=order)
    linked = (
        cases.filter(pk=conversation.case_id, is_open=True).first()
        if conversation.case_id
        else None
    )
    return linked or cases.filter(is_open=True).order_by("-opened_at", "-id").first()


def apply_url() -> str:
    try:
        return reverse("portal:apply")
    except NoReverseMatch:  # pragma: no cover — the portal is always installed
        return ""


def _after_sales(conversation: Conversation, order: Order, faq: FaqMatch | None) -> Answer:
    case = _case_for(conversation, order)
    if case is not None:
        status = wording.label("status", case.status, ZH)
        text = f"您的售后单 {case.number}（{wording.label('type', case.type, ZH)}）当前状态：{status}。"
        step = wording.next_step(
            case.status,
            case.deadline_at,
            _deadline_label(case, order),
            clock.now(),
            buyer=True,
            lang=ZH,
        )
        if step:
            text += f"{step}"
            if case.deadline_at is not None and case.deadline_at > clock.now():
                text += f"（截止 {_when(case.deadline_at)}）"
            text += "。"
        return _with_faq(text, "case", faq)
    url = apply_url()
    text = (
        f"您的订单 {order.external_id} 目前没有进行中的售后单。"
        f"您可以在订单页点击「申请售后」{f'（{url}）' if url else ''}，"
        "选择商品、售后类型和原因，上传照片凭证后提交。"
    )
    return _with_faq(text, "apply", faq)
