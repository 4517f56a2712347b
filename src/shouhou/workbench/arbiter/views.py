"""/wb/arbitration/…: the platform arbiter's disputes of the current shop (an arbiter in
several shops switches shop with the top bar). Shop admins may look, read-only; only an
arbiter rules, reviews and makes statements. Another shop's case is a 404."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shouhou.cases import services
from shouhou.cases.models import Evidence
from shouhou.cases.selectors import require_case
from shouhou.core.errors import ShouhouError
from shouhou.core.i18n import tr
from shouhou.core.models import Role
from shouhou.core.web import attempt, int_or_none, staff_page

from . import selectors

may_view = staff_page(Role.ARBITER, Role.ADMIN)
may_act = staff_page(Role.ARBITER)


@may_view
def disputes(request: HttpRequest) -> HttpResponse:
    lists = selectors.disputes(request.actor)
    return render(
        request,
        "workbench/arbiter/list.html",
        {
            "arbitration": lists["in_arbitration"],
            "review": lists["submitted"],
            "read_only": request.member.role != Role.ARBITER,
        },
    )


@may_view
def dispute(request: HttpRequest, case_id: int) -> HttpResponse:
    try:
        data = selectors.dispute(request.actor, case_id)
    except ShouhouError as exc:
        if exc.code == "not_found":
            raise Http404 from None
        raise
    data["read_only"] = request.member.role != Role.ARBITER
    return render(request, "workbench/arbiter/dispute.html", data)


def _back(case_id: int) -> HttpResponse:
    return redirect("wb:arb_dispute", case_id=case_id)


@may_act
@require_POST
def rule(request: HttpRequest, case_id: int) -> HttpResponse:
    side = request.POST.get("side")
    reason = request.POST.get("reason", "")
    version = int_or_none(request.POST.get("version"))
    if side not in {"buyer", "shop"}:
        attempt(request, lambda: _raise("validation_error", detail="side: buyer / shop"))
        return _back(case_id)
    work = services.rule_for_buyer if side == "buyer" else services.rule_for_shop
    attempt(
        request,
        lambda: work(case_id, request.actor, reason=reason, expected_version=version),
        success=tr("已裁定支持买家。", "Ruled for the buyer.")
        if side == "buyer"
        else tr("已裁定支持商家。", "Ruled for the shop."),
    )
    return _back(case_id)


@may_act
@require_POST
def statement(request: HttpRequest, case_id: int) -> HttpResponse:
    attempt(
        request,
        lambda: services.add_note(
            case_id, request.actor, text=request.POST.get("text", ""), internal=False
        ),
        success=tr("平台陈述已发布，双方可见。", "Statement posted; both sides see it."),
    )
    return _back(case_id)


@may_act
@require_POST
def review(request: HttpRequest, case_id: int) -> HttpResponse:
    """A new application in platform review: pass it to the shop, or dismiss it (reason)."""
    decision = request.POST.get("decision")
    version = int_or_none(request.POST.get("version"))
    if decision == "pass":
        attempt(
            request,
            lambda: services.pass_review(case_id, request.actor, expected_version=version),
            success=tr("已通过审核，转商家处理。", "Passed to the shop."),
        )
    elif decision == "dismiss":
        attempt(
            request,
            lambda: services.dismiss(
                case_id,
                request.actor,
                reason=request.POST.get("reason", ""),
                expected_version=version,
            ),
            success=tr("已驳回申请。", "Application dismissed."),
        )
    else:
        attempt(request, lambda: _raise("validation_error", detail="decision: pass / dismiss"))
    if request.POST.get("back") == "list":
        return redirect("wb:arb_list")
    return _back(case_id)


@may_view
def evidence_file(request: HttpRequest, case_id: int, evidence_id: int) -> HttpResponse:
    """An evidence file of this shop's case, shown inline (images are re-encoded on upload;
    nosniff keeps the browser from guessing another type)."""
    try:
        require_case(request.actor, case_id)
    except ShouhouError:
        raise Http404 from None
    ev = Evidence.objects.filter(pk=evidence_id, case_id=case_id, shop=request.shop).first()
    if ev is None:
        raise Http404
    inline = ev.content_type.startswith("image/")
    response = FileResponse(
        ev.file.open("rb"),
        content_type=ev.content_type,
        as_attachment=not inline,
        filename=ev.original_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    return response


def _raise(code: str, **params) -> None:
    raise ShouhouError(code, **params)
