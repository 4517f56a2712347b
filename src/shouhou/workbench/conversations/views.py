"""/wb/conversations/: buyers waiting for a person, and one conversation with what the
assistant read in it.

The list puts waiting buyers first with how long they have waited. A conversation page
shows the thread (on each buyer message the intent, sentiment and FAQ match, with a
correction control that feeds training), the suggested reply and the shop's canned replies
to insert, the reply box, take over / close, the customer's archive, and a form that turns
the conversation into a case with the suggested type and reason filled in.

Views stay thin: parse (forms.py), call `shouhou.assistant.chat` through `attempt` (a
ShouhouError becomes a message on the page and nothing is written), redirect. Another
shop's conversation or message is the 404 page.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET, require_POST

from shouhou.assistant import chat, replies
from shouhou.assistant import selectors as assistant_selectors
from shouhou.assistant.models import Conversation, ConversationStatus
from shouhou.cases import lifecycle as lc
from shouhou.core.errors import ShouhouError
from shouhou.core.i18n import tr
from shouhou.core.models import Role
from shouhou.core.web import attempt, int_or_none, staff_page
from shouhou.customers import selectors as customer_selectors

from . import forms, selectors

DESK = (Role.AGENT, Role.ADMIN)
REFRESH_SECONDS = 10
POLL_SECONDS = 4


def _lang() -> str:
    return translation.get_language() or "zh-hans"


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    try:
        found = assistant_selectors.conversation_for_staff(request.shop, conversation_id)
    except ShouhouError:
        found = None
    if found is None:
        raise Http404
    return found


def _here(conversation_id: int, anchor: str = "") -> HttpResponseRedirect:
    return HttpResponseRedirect(f"/wb/conversations/{conversation_id}/{anchor}")


# --- the list -----------------------------------------------------------------------------
def _listed(request: HttpRequest, view: str) -> list[dict[str, Any]]:
    shop = request.shop
    if view == "waiting":
        return list(assistant_selectors.desk_conversations(shop, status=ConversationStatus.WAITING))
    if view == "mine":
        return list(assistant_selectors.desk_conversations(shop, mine=request.actor.staff_id))
    if view == "closed":
        return list(assistant_selectors.desk_conversations(shop, status=ConversationStatus.CLOSED))
    return list(assistant_selectors.desk_conversations(shop))


@staff_page(*DESK)
@require_GET
def conversation_list(request: HttpRequest) -> HttpResponse:
    view, unknown = forms.list_view(request.GET)
    if unknown:
        messages.warning(
            request,
            tr("未知的筛选条件，已显示全部进行中的会话。", "Unknown filter: showing all open."),
        )
    context = {
        "view": view,
        "views": [
            ("open", tr("全部进行中", "All open")),
            ("waiting", tr("等待人工", "Waiting")),
            ("mine", tr("我接待的", "Mine")),
            ("closed", tr("已结束", "Closed")),
        ],
        "rows": selectors.rows(_listed(request, view)),
        "waiting_count": assistant_selectors.waiting_count(request.shop),
        "refresh_seconds": REFRESH_SECONDS,
    }
    return render(request, "workbench/conversations/list.html", context)


@staff_page(*DESK)
@require_GET
def waiting_badge(request: HttpRequest) -> HttpResponse:
    """The nav's count of buyers waiting for a person (fetched by htmx on every staff page)."""
    return render(
        request,
        "workbench/conversations/_badge.html",
        {"waiting_count": assistant_selectors.waiting_count(request.shop)},
    )


# --- one conversation ---------------------------------------------------------------------
@staff_page(*DESK)
@require_GET
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    items = list(assistant_selectors.messages_after(conversation, 0))
    is_open = conversation.status != ConversationStatus.CLOSED
    archive = customer_selectors.archive(request.shop.id, conversation.customer_id)
    archive["tier_label"] = selectors.bilingual(archive["tier_label"])
    can_open_case = is_open and conversation.order_id is not None and conversation.case_id is None
    suggestion = chat.suggest_case(conversation.id) if can_open_case else None
    lines = selectors.order_lines(conversation)
    if suggestion is not None:
        chosen = set(suggestion["line_ids"])
        for line in lines:
            line["checked"] = line["id"] in chosen
    context = {
        "conversation": conversation,
        "status_label": selectors.status_label(conversation.status),
        "handover_label": selectors.handover_label(conversation.handover_reason),
        "intent_label": selectors.intent_label(conversation.last_intent),
        "thread": selectors.thread(conversation, items),
        "is_open": is_open,
        "is_mine": conversation.assignee_id == request.actor.staff_id,
        "archive": archive,
        "suggested": selectors.suggested_reply(conversation, items) if is_open else None,
        "replies": replies.ranked_for_case(
            request.shop, selectors.reply_detail(request.actor, conversation), lang=_lang()
        )
        if is_open
        else [],
        "token": uuid.uuid4().hex,
        "intents": selectors.intent_choices(),
        "faq_choices": selectors.faq_choices(request.shop.id),
        "suggestion": suggestion,
        "lines": lines,
        "types": list(lc.CaseType),
        "reasons": list(lc.Reason),
        "poll_seconds": POLL_SECONDS,
        "max_text": chat.MAX_BODY,
    }
    return render(request, "workbench/conversations/detail.html", context)


@staff_page(*DESK)
@require_GET
def thread_after(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Messages newer than `after`, for the page's poll (htmx appends them)."""
    conversation = _conversation(request, conversation_id)
    after = int_or_none(request.GET.get("after")) or 0
    items = list(assistant_selectors.messages_after(conversation, after))
    if not items:
        return HttpResponse(status=204)
    context: dict[str, Any] = {
        "conversation": conversation,
        "thread": selectors.thread(conversation, items),
        "is_open": conversation.status != ConversationStatus.CLOSED,
        "intents": selectors.intent_choices(),
        "faq_choices": selectors.faq_choices(request.shop.id),
    }
    return render(request, "workbench/conversations/_thread.html", context)


@staff_page(*DESK)
@require_POST
def reply(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    sent = attempt(
        request,
        lambda: chat.agent_says(
            conversation.id,
            request.actor,
            request.POST.get("text", ""),
            client_token=request.POST.get("client_token", ""),
        ),
        success=tr("回复已发送", "Reply sent"),
    )
    return _here(conversation.id, "#reply" if sent is None else f"#m-{sent.id}")


@staff_page(*DESK)
@require_POST
def take(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    attempt(
        request,
        lambda: chat.take_over(conversation.id, request.actor),
        success=tr("已接入会话", "You took the conversation"),
    )
    return _here(conversation.id)


@staff_page(*DESK)
@require_POST
def close(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    attempt(
        request,
        lambda: chat.close(conversation.id, request.actor),
        success=tr("会话已结束", "Conversation closed"),
    )
    return _here(conversation.id)


@staff_page(*DESK)
@require_POST
def correct(request: HttpRequest, conversation_id: int, message_id: int, kind: str) -> HttpResponse:
    conversation = _conversation(request, conversation_id)
    if kind not in {"intent", "faq"} or not selectors.is_buyer_message(conversation, message_id):
        raise Http404
    if kind == "intent":
        attempt(
            request,
            lambda: chat.correct_intent(
                message_id, request.actor, intent=request.POST.get("intent", "")
            ),
            success=tr("已纠正意图，将用于训练", "Intent corrected; training will use it"),
        )
    else:
        attempt(
            request,
            lambda: chat.correct_faq(
                message_id, request.actor, faq_entry_id=forms.faq_choice(request.POST.get("faq"))
            ),
            success=tr(
                "已纠正常见问题匹配，将用于训练", "FAQ match corrected; training will use it"
            ),
        )
    return _here(conversation.id, f"#m-{message_id}")


@staff_page(*DESK)
@require_POST
def open_case(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(request, conversation_id)

    def run():
        form = forms.case_form(request.POST)
        return chat.open_case_from_conversation(
            conversation.id,
            request.actor,
            case_type=form.case_type,
            reason=form.reason,
            line_ids=form.line_ids,
            description=form.description,
        )

    case = attempt(request, run)
    if case is None:
        return _here(conversation.id, "#open-case")
    messages.success(
        request, tr(f"已创建售后单 {case.number}", f"Case {case.number} opened from the chat")
    )
    return HttpResponseRedirect(f"/wb/cases/{case.id}/")
