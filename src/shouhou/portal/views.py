"""The buyer portal (mobile first) and the shop's public help centre.

A buyer reaches one order — by order number and the phone's last four digits, or by a
signed link — and the session remembers it (portal/session.py). Every page below reads
through portal/selectors.py with a buyer actor scoped to that order, and every action
goes to the case services through `attempt`, then redirects back (POST/redirect/GET).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from shouhou.cases import selectors as case_selectors
from shouhou.cases import services as case_services
from shouhou.cases.services import LineRequest
from shouhou.core.auth import open_buyer_session
from shouhou.core.errors import ShouhouError
from shouhou.core.i18n import tr
from shouhou.core.web import attempt, error_text, int_or_none
from shouhou.orders.models import Order

from . import selectors, services, session
from .links import LinkExpired, LinkInvalid, read_order_link
from .session import PortalBuyer

MAX_TEXT = 2000


def not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "404.html", status=404)


MAX_ID = 2**63 - 1


def buyer_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only a browser that proved an order reaches the view; `request.buyer` is that order."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        buyer = session.current(request)
        if buyer is None:
            messages.info(
                request,
                tr("请先输入订单号查询订单。", "Look up your order first."),
                extra_tags="portal_login",
            )
            return redirect("portal:lookup")
        if any(isinstance(v, int) and v > MAX_ID for v in kwargs.values()):
            return not_found(request)  # an id no database row can have
        request.buyer = buyer  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return guarded


def _buyer(request: HttpRequest) -> PortalBuyer:
    return request.buyer  # type: ignore[attr-defined,no-any-return]


def _text(value: str | None, what: str, limit: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if len(text) > limit or "\x00" in text:
        raise ShouhouError(
            "validation_error", detail=f"{what}最多 {limit} 字 / at most {limit} characters"
        )
    return text


def _fen(value: str | None) -> int | None:
    """ "12.5" (yuan, as buyers type it) → 1250 fen; blank → None."""
    text = (value or "").strip().replace("¥", "").replace(",", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise ShouhouError(
            "validation_error",
            detail="金额须为大于 0 的数字，最多两位小数 / an amount above 0 with at most 2 decimals",
        )
    if amount > Decimal("100000000"):
        raise ShouhouError("validation_error", detail="金额过大 / amount too large")
    return int(amount * 100)


def _file_refused(request: HttpRequest, exc: services.FileRefused) -> None:
    if exc.error.code == "payload_too_large":
        limit = f"{selectors.max_file_mb()} MB"
        text = tr(
            f"文件「{exc.name}」太大（上限 {limit}），请压缩后重新上传。申请未提交。",
            f"The file “{exc.name}” is too large (limit {limit}); shrink it and try again. "
            "Nothing was submitted.",
        )
    else:
        text = tr(
            f"文件「{exc.name}」无法使用：{error_text(exc.error)} 申请未提交。",
            f"The file “{exc.name}” cannot be used: {error_text(exc.error)} Nothing was submitted.",
        )
    messages.error(request, text, extra_tags=exc.error.code)


# --- reaching the order -------------------------------------------------------------------
def _reach_order(request: HttpRequest, shop_code: str, order_no: str, last4: str) -> int:
    """The order id for these answers, or ShouhouError (not_found / too_many_attempts).

    The public page never lists the shops on the platform (that would hand anyone the
    tenant list). A buyer who came through a shop's link has its code; one who did not
    gives only the order number. Then the shops whose order with that number has these
    phone digits are tried (an order locked by someone else's wrong guesses in one shop
    does not stop the buyer's own order in another); when none has them, the one failure
    is counted against the first shop holding the number whose order is not locked yet
    (so guesses lock every such order in turn, and the client once per try).
    """
    from shouhou.core.ratelimit import client_ip

    client = client_ip(request)

    def prove(code: str) -> int:
        return open_buyer_session(
            shop_code=code, order_external_id=order_no, phone_last4=last4, client=client
        )[1]

    if shop_code:
        return prove(shop_code)
    matching, holding = selectors.shops_holding_order(order_no, last4)
    error: ShouhouError | None = None
    for code in matching or holding or [""]:
        try:
            return prove(code)
        except ShouhouError as exc:
            error = exc
            if exc.code != "too_many_attempts":
                break  # a failure was counted: one per try
    assert error is not None
    raise error


def lookup(request: HttpRequest) -> HttpResponse:
    fixed = selectors.shop_by_code(request.GET.get("shop", ""))
    values = {
        "shop": request.POST.get("shop", fixed.code if fixed else ""),
        "order_no": request.POST.get("order_no", "").strip()[:64],
    }
    if request.method == "POST":
        last4 = request.POST.get("phone_last4", "").strip()
        if not values["order_no"] or not (len(last4) == 4 and last4.isascii() and last4.isdigit()):
            messages.error(
                request,
                tr(
                    "请填写订单号和手机号后四位（4 位数字）。",
                    "Enter the order number and the last 4 digits of your phone.",
                ),
                extra_tags="validation_error",
            )
        else:
            try:
                order_id = _reach_order(request, values["shop"][:40], values["order_no"], last4)
            except ShouhouError as exc:
                if exc.code == "not_found":
                    text = tr(
                        "没有找到该订单，或手机号后四位不匹配。请核对订单号和下单手机号后重试。",
                        "No such order, or the phone digits do not match. Check the order "
                        "number and the phone you ordered with.",
                    )
                else:
                    text = error_text(exc)
                messages.error(request, text, extra_tags=exc.code)
            else:
                shop_id, customer_id = Order.objects.filter(pk=order_id).values_list(
                    "shop_id", "customer_id"
                )[0]
                session.start(request, shop_id=shop_id, customer_id=customer_id, order_id=order_id)
                return redirect("portal:order")
    return render(
        request,
        "portal/lookup.html",
        {
            "fixed_shop": fixed,
            "values": values,
        },
    )


@require_GET
def signed_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = read_order_link(token)
    except LinkExpired:
        return render(request, "portal/link_invalid.html", {"expired": True}, status=410)
    except LinkInvalid:
        return render(request, "portal/link_invalid.html", {"expired": False}, status=400)
    buyer = session.buyer_for(data["s"], data["c"], data["o"])
    if buyer is None:
        return render(request, "portal/link_invalid.html", {"expired": False}, status=404)
    session.start(request, shop_id=data["s"], customer_id=data["c"], order_id=data["o"])
    return redirect("portal:order")


@require_POST
def leave(request: HttpRequest) -> HttpResponse:
    session.end(request)
    return redirect("portal:lookup")


# --- the order and a new request ----------------------------------------------------------
@buyer_page
@require_GET
def order(request: HttpRequest) -> HttpResponse:
    buyer = _buyer(request)
    return render(request, "portal/order.html", {"buyer": buyer, **selectors.order_page(buyer)})


def _request_form(request: HttpRequest) -> services.RequestForm:
    post = request.POST
    lines = []
    for line_id in dict.fromkeys(post.getlist("line")):
        ident = int_or_none(line_id)
        qty = int_or_none(post.get(f"qty_{line_id}", "1"))
        if ident is None or qty is None:
            raise ShouhouError(
                "validation_error", detail="数量须为正整数 / quantity must be a whole number"
            )
        lines.append(LineRequest(ident, qty))
    if not lines:
        raise ShouhouError(
            "validation_error", detail="请至少选择一件商品 / choose at least one item"
        )
    if not post.get("type") or not post.get("reason"):
        raise ShouhouError(
            "validation_error", detail="请选择售后类型和原因 / choose the type and the reason"
        )
    return services.RequestForm(
        type=post.get("type", ""),
        reason=post.get("reason", ""),
        lines=lines,
        description=_text(post.get("description"), "问题描述"),
        refund_fen=_fen(post.get("amount")),
    )


@buyer_page
def apply(request: HttpRequest) -> HttpResponse:
    buyer = _buyer(request)
    if request.method == "POST":
        token = request.POST.get("form_token", "")
        known, done = services.form_token_state(request.session, token)
        if done is not None:
            messages.info(
                request,
                tr("该申请已提交，无需重复提交。", "This request was already submitted."),
                extra_tags="already_submitted",
            )
            return redirect("portal:case", case_id=done)
        if not known:
            messages.error(
                request,
                tr("表单已失效，请重新填写后提交。", "The form has expired; fill it in again."),
                extra_tags="form_expired",
            )
            return redirect("portal:apply")
        try:
            form = _request_form(request)
            case = services.open_request(buyer, form, request.FILES.getlist("photos"))
        except services.FileRefused as exc:
            _file_refused(request, exc)
        except ShouhouError as exc:
            text = error_text(exc)
            if exc.code == "case_already_open":
                text += tr(
                    " 请在下方「售后记录」中查看进行中的申请。",
                    " See the open request under “Requests” on the order page.",
                )
            messages.error(request, text, extra_tags=exc.code)
        else:
            services.spend_form_token(request.session, token, case.id)
            messages.success(
                request,
                tr(f"申请已提交，售后单号 {case.number}。", f"Request {case.number} submitted."),
                extra_tags="opened",
            )
            return redirect("portal:case", case_id=case.id)
    else:
        token = services.issue_form_token(request.session)
    post = request.POST if request.method == "POST" else None
    chosen = {int_or_none(v) for v in (post.getlist("line") if post else [])} - {None}
    form = selectors.apply_form(buyer)
    for line in form["lines"]:
        line["checked"] = line["id"] in chosen if post else len(form["lines"]) == 1
        line["qty"] = (post.get(f"qty_{line['id']}") if post else None) or line["quantity"]
    return render(
        request,
        "portal/apply.html",
        {
            "buyer": buyer,
            "form_token": token,
            "values": post or {},
            **form,
        },
    )


# --- a case -------------------------------------------------------------------------------
@buyer_page
@require_GET
def case(request: HttpRequest, case_id: int) -> HttpResponse:
    buyer = _buyer(request)
    try:
        detail = selectors.case_page(buyer, case_id)
    except ShouhouError:
        return not_found(request)
    return render(
        request,
        "portal/case.html",
        {
            "buyer": buyer,
            "case": detail,
            "actions": set(detail["allowed_actions"]),
            "carriers": selectors.CARRIERS,
            "scores": range(1, 6),
        },
    )


def _version(post) -> int | None:
    return int_or_none(post.get("version"))


def _modify(buyer: PortalBuyer, case_id: int, request: HttpRequest):
    post = request.POST
    return case_services.modify(
        case_id,
        buyer.actor,
        reason=post.get("reason") or None,
        description=_text(post.get("description"), "问题描述") or None,
        refund_fen=_fen(post.get("amount")),
        expected_version=_version(post),
    )


def _rate(buyer: PortalBuyer, case_id: int, request: HttpRequest):
    post = request.POST
    return case_services.rate(
        case_id,
        buyer.actor,
        speed=int_or_none(post.get("speed")) or 0,
        satisfaction=int_or_none(post.get("satisfaction")) or 0,
        comment=_text(post.get("comment"), "评价"),
    )


# action → (what it does, the success message (zh, en))
CASE_ACTIONS: dict[str, tuple[Callable[[PortalBuyer, int, HttpRequest], Any], tuple[str, str]]] = {
    "ship_return": (
        lambda b, cid, r: case_services.ship_return(
            cid,
            b.actor,
            carrier=r.POST.get("carrier", ""),
            tracking_no=r.POST.get("tracking_no", ""),
            expected_version=_version(r.POST),
        ),
        ("已提交退货物流信息，等待商家收货。", "Return shipped; the shop will confirm receipt."),
    ),
    "accept_proposal": (
        lambda b, cid, r: case_services.accept_proposal(
            cid, b.actor, expected_version=_version(r.POST)
        ),
        ("已接受商家的方案。", "You accepted the shop's proposal."),
    ),
    "decline_proposal": (
        lambda b, cid, r: case_services.decline_proposal(
            cid,
            b.actor,
            reason=_text(r.POST.get("reason"), "理由", 500),
            expected_version=_version(r.POST),
        ),
        ("已拒绝商家的方案，申请退回商家处理。", "Proposal declined; the shop decides again."),
    ),
    "modify": (
        _modify,
        ("申请已修改，重新提交给商家。", "Request changed and sent to the shop again."),
    ),
    "escalate": (
        lambda b, cid, r: case_services.escalate(
            cid,
            b.actor,
            statement=_text(r.POST.get("statement"), "陈述"),
            expected_version=_version(r.POST),
        ),
        ("已申请平台介入，平台将尽快处理。", "The platform has been asked to intervene."),
    ),
    "cancel": (
        lambda b, cid, r: case_services.cancel(
            cid,
            b.actor,
            reason=_text(r.POST.get("reason"), "理由", 500),
            expected_version=_version(r.POST),
        ),
        ("申请已撤销。", "Request cancelled."),
    ),
    "confirm_delivery": (
        lambda b, cid, r: case_services.confirm_delivery(
            cid, b.actor, expected_version=_version(r.POST)
        ),
        ("已确认收货。", "Delivery confirmed."),
    ),
    "reopen": (
        lambda b, cid, r: case_services.reopen(
            cid,
            b.actor,
            description=_text(r.POST.get("description"), "问题描述"),
            expected_version=_version(r.POST),
        ),
        ("已重新提交申请。", "Request submitted again."),
    ),
    "statement": (
        lambda b, cid, r: case_services.add_note(
            cid, b.actor, text=_text(r.POST.get("text"), "留言", 5000), internal=False
        ),
        ("留言已提交。", "Message added."),
    ),
    "evidence": (
        lambda b, cid, r: services.add_files(
            b, cid, r.FILES.getlist("photos"), _text(r.POST.get("note"), "说明", 500)
        ),
        ("凭证已上传。", "Evidence uploaded."),
    ),
    "rate": (_rate, ("感谢您的评价！", "Thank you for rating!")),
}


@buyer_page
@require_POST
def case_action(request: HttpRequest, case_id: int, action: str) -> HttpResponse:
    buyer = _buyer(request)
    try:
        case_selectors.require_case(buyer.actor, case_id, buyer.order.id)
    except ShouhouError:
        return not_found(request)
    entry = CASE_ACTIONS.get(action)
    if entry is None:
        return not_found(request)
    work, (zh, en) = entry
    try:
        attempt(request, lambda: work(buyer, case_id, request), success=tr(zh, en))
    except services.FileRefused as exc:
        _file_refused(request, exc)
    return redirect(reverse("portal:case", kwargs={"case_id": case_id}) + f"#{action}")


@buyer_page
@require_GET
def evidence(request: HttpRequest, case_id: int, evidence_id: int) -> HttpResponse:
    buyer = _buyer(request)
    try:
        ev = selectors.evidence_file(buyer, case_id, evidence_id)
    except ShouhouError:
        ev = None
    if ev is None:
        return not_found(request)
    response = FileResponse(
        ev.file.open("rb"), content_type=ev.content_type, filename=ev.original_name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- the help centre ----------------------------------------------------------------------
@require_GET
def help_centre(request: HttpRequest, shop_code: str) -> HttpResponse:
    shop = selectors.shop_by_code(shop_code)
    if shop is None:
        return not_found(request)
    buyer = session.current(request)
    return render(
        request,
        "portal/help.html",
        {
            **selectors.help_centre(shop),
            "buyer": buyer if buyer and buyer.shop.id == shop.id else None,
        },
    )
