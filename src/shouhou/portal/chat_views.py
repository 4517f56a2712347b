"""The buyer's chat with the shop about the order in the session (PRODUCT.md §3).

The page works with htmx and without it. With htmx, sending, asking for a person and the
poll every few seconds each answer with the messages newer than the last one the page shows
(`after`), plus the conversation's status, a fresh client token and the poller out of band.
Without JavaScript each form is a plain POST that redirects back to the page.

Every form render carries a new client token (a uuid): the same token sent twice — a
double tap, a resent request — lands once, because `chat.buyer_says` answers a known token
with the messages it already stored. Message bodies are only ever autoescaped.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages as page_messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from shouhou.assistant import chat
from shouhou.assistant import selectors as assistant_selectors
from shouhou.assistant.models import Conversation, ConversationStatus, Message, MessageAuthor
from shouhou.core.errors import ShouhouError
from shouhou.core.i18n import tr
from shouhou.core.web import error_text, int_or_none
from shouhou.orders.models import OrderStatus

from .session import PortalBuyer
from .views import buyer_page

POLL_SECONDS = 3
# What buyers ask most; the assistant reads Chinese, so the chip always sends the Chinese.
QUICK = (
    ("什么时候发货", "When will it ship?"),
    ("物流到哪了", "Where is my parcel?"),
    ("怎么退货", "How do I return it?"),
    ("运费谁出", "Who pays the postage?"),
    ("开发票", "I need an invoice"),
)


def _buyer(request: HttpRequest) -> PortalBuyer:
    return request.buyer  # type: ignore[attr-defined,no-any-return]


def _conversation(buyer: PortalBuyer, request: HttpRequest | None = None) -> Conversation | None:
    """The open conversation about this order; else the one the page shows (`conv`), if it
    is this buyer's about this order, so a poll still brings the notice that it has ended."""
    found = assistant_selectors.conversation_for_buyer(
        buyer.shop, buyer.order.customer, buyer.order
    )
    if found is not None or request is None:
        return found
    data = request.POST if request.method == "POST" else request.GET
    ident = int_or_none(data.get("conv"))
    if ident is None:
        return None
    try:
        shown = assistant_selectors.conversation_for_staff(buyer.shop, ident)
    except ShouhouError:
        return None
    mine = shown.customer_id == buyer.order.customer_id and shown.order_id == buyer.order.id
    return shown if mine else None


def status_of(conversation: Conversation | None) -> dict[str, Any]:
    """What the header says about who is answering."""
    code = conversation.status if conversation else ConversationStatus.BOT
    if code == ConversationStatus.WAITING:
        text = tr("正在为您转接人工客服…", "Connecting you to a person…")
    elif code == ConversationStatus.WITH_AGENT:
        name = _agent_name(conversation.assignee if conversation else None)
        text = tr(f"客服 {name} 为您服务", f"{name} of the shop is helping you")
    elif code == ConversationStatus.CLOSED:
        text = tr(
            "会话已结束，发送新消息将开始新的会话",
            "This chat has ended; a new message starts a new one",
        )
    else:
        text = tr("智能客服接待中", "The assistant is answering")
    return {
        "code": str(code),
        "text": text,
        "conversation": conversation.id if conversation else "",
    }


def _agent_name(member: Any) -> str:
    if member is None:
        return tr("客服", "An agent")
    return member.display_name or tr("客服", "An agent")


def bubbles(items: list[Message], buyer: PortalBuyer) -> list[dict[str, Any]]:
    """The messages as the buyer sees them: who wrote each, and under an answer that tells
    the buyer how to apply (it names the apply page) a button to it."""
    can_apply = buyer.order.status not in {OrderStatus.UNPAID, OrderStatus.CANCELLED}
    apply_path = reverse("portal:apply")
    out: list[dict[str, Any]] = []
    for m in items:
        kind = m.author_kind
        if kind == MessageAuthor.BUYER:
            side, label = "me", tr("我", "Me")
        elif kind == MessageAuthor.ASSISTANT:
            side, label = "bot", tr("智能客服", "Assistant")
        elif kind == MessageAuthor.AGENT:
            name = _agent_name(m.author)
            side, label = "agent", tr(f"客服 {name}", f"{name} (agent)")
        else:
            side, label = "system", tr("系统", "System")
        out.append(
            {
                "id": m.id,
                "author": kind,
                "side": side,
                "label": label,
                "body": m.body,
                "at": m.created_at,
                "apply": can_apply and kind == MessageAuthor.ASSISTANT and apply_path in m.body,
            }
        )
    return out


def _after(request: HttpRequest) -> int:
    raw = request.POST.get("after") if request.method == "POST" else request.GET.get("after")
    return int_or_none(raw) or 0


def _update(
    request: HttpRequest,
    buyer: PortalBuyer,
    *,
    token: str = "",
    error: ShouhouError | None = None,
    poller: bool = True,
) -> HttpResponse:
    """The htmx answer: messages after `after`, the status (and token, poller) out of band."""
    conversation = _conversation(buyer, request)
    after = _after(request)
    new = list(assistant_selectors.messages_after(conversation, after)) if conversation else []
    status = status_of(conversation)
    response = render(
        request,
        "portal/_chat_update.html",
        {
            "bubbles": bubbles(new, buyer),
            # The page's placeholder greeting gives way to the conversation's own welcome.
            "drop_welcome": after == 0 and bool(new),
            "status": status,
            "token": token,
            "poller": poller,
            "poll_seconds": POLL_SECONDS,
            "error": {"code": error.code, "text": error_text(error)} if error else None,
        },
    )
    if token and error is None:
        response["HX-Trigger"] = "chat-sent"
    return response


def _back(request: HttpRequest) -> HttpResponse:
    return redirect(reverse("portal:chat") + "#chat-compose")


@buyer_page
@require_GET
def chat_page(request: HttpRequest) -> HttpResponse:
    buyer = _buyer(request)
    conversation = _conversation(buyer)
    items = list(assistant_selectors.messages_after(conversation, 0)) if conversation else []
    return render(
        request,
        "portal/chat.html",
        {
            "buyer": buyer,
            "bubbles": bubbles(items, buyer),
            "status": status_of(conversation),
            "token": uuid.uuid4().hex,
            "quick": QUICK,
            "max_text": chat.MAX_BODY,
            "has_conversation": conversation is not None,
            "poll_seconds": POLL_SECONDS,
        },
    )


@buyer_page
@require_POST
def chat_send(request: HttpRequest) -> HttpResponse:
    buyer = _buyer(request)
    text = request.POST.get("quick") or request.POST.get("text", "")
    token = request.POST.get("client_token", "")
    try:
        # Empty, too long or a malformed token: the service refuses before anything is stored.
        chat.clean_body(text)
        chat.clean_token(token)
        conversation = chat.open_conversation(
            buyer.shop, buyer.order.customer, order=buyer.order, channel="portal"
        )
        chat.buyer_says(conversation.id, text, client_token=token)
    except ShouhouError as exc:
        if request.htmx:  # type: ignore[attr-defined]
            # A fresh token with the error: the refused one must not be sent again.
            return _update(request, buyer, error=exc, poller=False, token=uuid.uuid4().hex)
        page_messages.error(request, error_text(exc), extra_tags=exc.code)
        return _back(request)
    if request.htmx:  # type: ignore[attr-defined]
        return _update(request, buyer, token=uuid.uuid4().hex)
    return _back(request)


@buyer_page
@require_POST
def chat_human(request: HttpRequest) -> HttpResponse:
    buyer = _buyer(request)
    try:
        conversation = chat.open_conversation(
            buyer.shop, buyer.order.customer, order=buyer.order, channel="portal"
        )
        chat.ask_for_human(conversation.id)
    except ShouhouError as exc:
        if request.htmx:  # type: ignore[attr-defined]
            return _update(request, buyer, error=exc)
        page_messages.error(request, error_text(exc), extra_tags=exc.code)
        return _back(request)
    if request.htmx:  # type: ignore[attr-defined]
        return _update(request, buyer)
    return _back(request)


@buyer_page
@require_GET
def chat_messages(request: HttpRequest) -> HttpResponse:
    buyer = _buyer(request)
    conversation = _conversation(buyer, request)
    closed = conversation is not None and conversation.status == ConversationStatus.CLOSED
    # The poller is replaced only to stop it once the conversation has ended.
    return _update(request, buyer, poller=closed)
