"""The agent desk: the queue, the case page, bulk agree, the warehouse and finance pages.

Views stay thin: parse the form (forms.py), call a service through `attempt` (which turns
a ShouhouError into a message on the page and changes nothing), redirect. Who may do what
to a case is the lifecycle's business (services raise); the views only keep each role on
its own pages, and another shop's case is a 404 page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_POST

from shouhou.assistant import replies
from shouhou.cases import bulk, services, wording
from shouhou.cases import lifecycle as lc
from shouhou.cases import selectors as case_selectors
from shouhou.cases.actors import Actor
from shouhou.cases.models import Evidence, Priority
from shouhou.core.errors import ShouhouError
from shouhou.core.i18n import tr
from shouhou.core.models import Role
from shouhou.core.views import safe_next
from shouhou.core.web import attempt, forbidden, int_or_none, staff_page
from shouhou.customers import selectors as customer_selectors
from shouhou.customers import services as customer_services
from shouhou.orders.models import Channel

from . import selectors
from . import services as desk_services
from .forms import fen_from_yuan, optional_int, parse_queue

DESK = (Role.AGENT, Role.ADMIN)
CASE_ROLES = (Role.AGENT, Role.ADMIN, Role.WAREHOUSE)
BULK_KEY = "wb_bulk_summary"
PAGE_SIZE = 50

PRIORITY_LABELS = {0: ("普通", "Normal"), 1: ("高", "High"), 2: ("紧急", "Urgent")}


def _bilingual(label: str) -> str:
    """Model choices carry "中文 English" labels; show the half for the active language."""
    zh, _, en = label.partition(" ")
    if not en or zh.isascii():
        return label
    return tr(zh, en)


CHANNEL_LABELS = {c.value: c.label for c in Channel}


def _lang() -> str:
    return translation.get_language() or "zh-hans"


# --- the queue ----------------------------------------------------------------------------
@staff_page(*DESK)
def queue(request: HttpRequest) -> HttpResponse:
    form = parse_queue(request.GET)
    cursor = request.GET.get("cursor") or None
    page = attempt(
        request,
        lambda: case_selectors.queue(request.actor, form.filters, limit=PAGE_SIZE, cursor=cursor),
    )
    if page is None:  # a broken cursor: the first page, with the message
        page = case_selectors.queue(request.actor, form.filters, limit=PAGE_SIZE)
    names = selectors.staff_names(request.shop.id)
    for item in page.items:
        item["assignee_name"] = names.get(item["assignee_id"], "")
        item["channel_label"] = _bilingual(CHANNEL_LABELS.get(item["channel"], item["channel"]))
        item["priority_label"] = tr(*PRIORITY_LABELS.get(item["priority"], ("", "")))
        item["amount_fen"] = item["refund_fen"] or item["requested_refund_fen"]
    context = {
        "form": form,
        "page": page,
        "counts": selectors.status_counts(request.shop.id),
        "views": selectors.saved_views(request.shop.id, request.actor.staff_id),
        "staff": selectors.assignable_staff(request.shop.id),
        "statuses": list(lc.Status),
        "types": list(lc.CaseType),
        "reasons": list(lc.Reason),
        "priorities": [(k, tr(*v)) for k, v in PRIORITY_LABELS.items()],
        # An htmx refresh swaps the table only; the summary waits for a full page.
        "bulk": None if request.headers.get("HX-Request") else request.session.pop(BULK_KEY, None),
        "next_query": f"{form.query}&cursor={page.next_cursor}".lstrip("&")
        if page.next_cursor
        else "",
        "query": form.query,
    }
    return render(request, "workbench/desk/queue.html", context)


@require_POST
@staff_page(*DESK)
def bulk_agree(request: HttpRequest) -> HttpResponse:
    ids = [n for n in (int_or_none(v) for v in request.POST.getlist("case")) if n]
    summary = attempt(request, lambda: bulk.bulk_agree(request.shop, request.actor, ids))
    if summary is not None:
        lang = _lang()
        request.session[BULK_KEY] = {
            "done": [o.as_dict(lang) for o in summary.done],
            "finance": [o.as_dict(lang) for o in summary.finance],
            "refused": [o.as_dict(lang) for o in summary.refused],
        }
    return HttpResponseRedirect(safe_next(request, "/wb/"))


@require_POST
@staff_page(*DESK)
def save_view(request: HttpRequest) -> HttpResponse:
    query = parse_queue(_query_dict(request.POST.get("query", ""))).query
    saved = attempt(
        request,
        lambda: desk_services.save_view(
            request.actor,
            name=request.POST.get("name", ""),
            query=query,
            shared=request.POST.get("shared") == "1",
        ),
        success=tr("视图已保存", "View saved"),
    )
    del saved  # either way, back to the queue with these filters (and the message)
    return HttpResponseRedirect(f"/wb/?{query}")


@require_POST
@staff_page(*DESK)
def delete_view(request: HttpRequest, view_id: int) -> HttpResponse:
    attempt(
        request,
        lambda: desk_services.delete_view(request.actor, view_id),
        success=tr("视图已删除", "View deleted"),
    )
    return HttpResponseRedirect("/wb/")


def _query_dict(query: str):
    from django.http import QueryDict

    return QueryDict(query[:1000])


# --- the case page ------------------------------------------------------------------------
def _detail_or_404(actor: Actor, case_id: int) -> dict[str, Any]:
    try:
        return case_selectors.case_detail(actor, case_id)
    except ShouhouError:
        raise Http404 from None


@staff_page(*CASE_ROLES)
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    actor: Actor = request.actor
    detail = _detail_or_404(actor, case_id)
    allowed = detail["allowed_actions"]
    desk_role = actor.role in {lc.ActorRole.AGENT, lc.ActorRole.ADMIN}
    for ev in detail["evidence"]:
        ev["url"] = f"/wb/cases/{case_id}/evidence/{ev['id']}/"
        ev["is_image"] = ev["content_type"].startswith("image/")
    for ev in detail["timeline"]:
        ev["internal"] = ev["visibility"] == "internal"
        ev["changes_status"] = ev["from_status"] != ev["to_status"] and ev["to_status"]
    order = selectors.order_summary(request.shop.id, detail["order_id"])
    order["status_label"] = _bilingual(order["status_label"])
    archive = customer_selectors.archive(request.shop.id, detail["customer"]["id"])
    archive["tier_label"] = _bilingual(archive["tier_label"])
    context = {
        "case": detail,
        "allowed": allowed,
        "desk_role": desk_role,
        "order": order,
        "archive": archive,
        "replies": replies.ranked_for_case(request.shop, detail, lang=_lang())
        if desk_role and "note" in allowed
        else [],
        "addresses": selectors.return_addresses(request.shop.id) if "agree" in allowed else [],
        "staff": selectors.assignable_staff(request.shop.id) if "assign" in allowed else [],
        "priorities": [(k, tr(*v)) for k, v in PRIORITY_LABELS.items()],
        "priority_label": tr(*PRIORITY_LABELS.get(detail["priority"], ("", ""))),
        "proposal_kinds": list(lc.ProposalKind),
        "is_money": detail["path"] in lc.MONEY_PATHS,
        "needs_address": detail["path"] in {"return_refund", "exchange", "repair"},
        "channel_label": _bilingual(CHANNEL_LABELS.get(detail["channel"], detail["channel"])),
    }
    return render(request, "workbench/desk/case.html", context)


@staff_page(*CASE_ROLES)
def evidence_file(request: HttpRequest, case_id: int, evidence_id: int) -> HttpResponse:
    ev = Evidence.objects.filter(pk=evidence_id, case_id=case_id, shop_id=request.shop.id).first()
    if ev is None:
        raise Http404
    # Images were re-encoded on upload, so showing them inline is safe; anything else is a
    # download, and nothing served here may run script.
    response = FileResponse(
        ev.file.open("rb"),
        content_type=ev.content_type,
        as_attachment=not ev.content_type.startswith("image/"),
        filename=ev.original_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- acting on a case ---------------------------------------------------------------------
Work = Callable[[HttpRequest, int, Actor, int | None], Any]


def _agree(req: HttpRequest, case_id: int, actor: Actor, version: int | None) -> Any:
    return services.agree(
        case_id,
        actor,
        expected_version=version,
        refund_fen=fen_from_yuan(req.POST.get("refund"), tr("退款金额", "refund")),
        return_address_id=optional_int(req.POST.get("return_address"), tr("退货地址", "address")),
        note=req.POST.get("note", "")[:500],
    )


def _propose(req: HttpRequest, case_id: int, actor: Actor, version: int | None) -> Any:
    return services.propose(
        case_id,
        actor,
        expected_version=version,
        kind=req.POST.get("kind", ""),
        refund_fen=fen_from_yuan(req.POST.get("refund"), tr("退款金额", "refund")) or 0,
        note=req.POST.get("note", "")[:1000],
    )


def _assign(req: HttpRequest, case_id: int, actor: Actor, version: int | None) -> Any:
    raw = req.POST.get("staff", "")
    staff_id = actor.staff_id if raw == "me" else optional_int(raw, tr("处理人", "assignee"))
    return services.assign(case_id, actor, staff_id=staff_id, expected_version=version)


def _priority(req: HttpRequest, case_id: int, actor: Actor, version: int | None) -> Any:
    value = optional_int(req.POST.get("priority"), tr("优先级", "priority"))
    if value not in Priority.values:
        raise ShouhouError("validation_error", detail=tr("请选择优先级", "choose a priority"))
    return services.set_priority(case_id, actor, priority=value, expected_version=version)


def _reply(req: HttpRequest, case_id: int, actor: Actor, version: int | None) -> Any:
    return replies.send_reply(
        case_id,
        actor,
        text=req.POST.get("text", ""),
        canned_id=optional_int(req.POST.get("canned"), tr("快捷回复", "canned reply")),
        expected_version=version,
    )


def _fail_inspection(req: HttpRequest, case_id: int, actor: Actor, version: int | None) -> Any:
    return desk_services.fail_inspection(
        case_id,
        actor,
        reason=req.POST.get("reason", ""),
        photo=req.FILES.get("photo"),
        expected_version=version,
    )


ACTIONS: dict[str, Work] = {
    "agree": _agree,
    "reject": lambda r, c, a, v: services.reject(
        c, a, reason=r.POST.get("reason", "")[:1000], expected_version=v
    ),
    "propose": _propose,
    "confirm_receipt": lambda r, c, a, v: services.confirm_receipt(
        c, a, note=r.POST.get("note", "")[:500], expected_version=v
    ),
    "fail_inspection": _fail_inspection,
    "ship_replacement": lambda r, c, a, v: services.ship_replacement(
        c,
        a,
        carrier=r.POST.get("carrier", ""),
        tracking_no=r.POST.get("tracking_no", ""),
        expected_version=v,
    ),
    "confirm_refund": lambda r, c, a, v: services.confirm_refund(c, a, expected_version=v),
    "decline_finance": lambda r, c, a, v: services.decline_finance_approval(
        c, a, reason=r.POST.get("reason", ""), expected_version=v
    ),
    "assign": _assign,
    "set_priority": _priority,
    "note": lambda r, c, a, v: services.add_note(
        c, a, text=r.POST.get("text", ""), internal=True, expected_version=v
    ),
    "reply": _reply,
}
# Roles outside the desk act only from their own pages.
ROLE_ACTIONS = {
    Role.WAREHOUSE: {"confirm_receipt", "fail_inspection", "ship_replacement", "note"},
    Role.FINANCE: {"agree", "decline_finance", "confirm_refund"},
}
HOME_PAGE = {Role.FINANCE: "/wb/finance/"}


def _success_text(action: str, result: Any, role: str) -> str:
    if action == "agree" and role == Role.FINANCE:
        return tr("已批准退款", "Refund approved")
    if action == "agree" and getattr(result, "awaiting_finance", False):
        return tr(
            "退款金额超过审批额度，已提交财务审批", "Above the approval limit: sent to finance"
        )
    if action == "decline_finance":
        return tr("已驳回退款审批，退回客服处理", "Sent back to the agents unpaid")
    if action == "reply":
        return tr("回复已发送", "Reply sent")
    return tr("已完成：", "Done: ") + wording.label("action", action)


@require_POST
@staff_page(Role.AGENT, Role.ADMIN, Role.WAREHOUSE, Role.FINANCE)
def act(request: HttpRequest, case_id: int, action: str) -> HttpResponse:
    work = ACTIONS.get(action)
    if work is None:
        raise Http404
    role = request.member.role
    if role in ROLE_ACTIONS and action not in ROLE_ACTIONS[role]:
        return forbidden(request, "role")
    actor: Actor = request.actor
    try:
        case_selectors.require_case(actor, case_id)
    except ShouhouError:
        raise Http404 from None
    version = int_or_none(request.POST.get("version"))
    result: list[Any] = []

    def run() -> Any:
        result.append(work(request, case_id, actor, version))
        return result[0]

    attempt(request, run)
    if result:
        messages.success(request, _success_text(action, result[0], role))
    fallback = HOME_PAGE.get(role, f"/wb/cases/{case_id}/")
    return HttpResponseRedirect(safe_next(request, fallback))


@require_POST
@staff_page(*DESK)
def update_customer(request: HttpRequest, customer_id: int) -> HttpResponse:
    def run() -> Any:
        tags = customer_services.parse_tags(request.POST.get("tags", ""))
        return customer_services.update_archive(
            request.actor, customer_id, notes=request.POST.get("notes", ""), tags=tags
        )

    try:
        customer_selectors.archive(request.shop.id, customer_id, limit=0)
    except ShouhouError:
        raise Http404 from None
    attempt(request, run, success=tr("客户档案已更新", "Customer archive updated"))
    return HttpResponseRedirect(safe_next(request, "/wb/"))


# --- warehouse and finance ----------------------------------------------------------------
@staff_page(Role.WAREHOUSE, Role.AGENT, Role.ADMIN)
def warehouse(request: HttpRequest) -> HttpResponse:
    return render(
        request, "workbench/desk/warehouse.html", selectors.warehouse_lists(request.shop.id)
    )


@staff_page(Role.FINANCE, Role.ADMIN)
def finance(request: HttpRequest) -> HttpResponse:
    from shouhou.cases.policies import current_policy

    context = {
        **selectors.finance_lists(request.shop.id),
        "limit_fen": current_policy(request.shop).finance_approval_limit_fen,
        "manual_gateway": request.shop.refund_gateway == "manual",
    }
    return render(request, "workbench/desk/finance.html", context)
