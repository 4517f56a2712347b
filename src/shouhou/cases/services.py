"""Every write to a case: one function per action, one transaction each, actor explicit.

The API, the pages, the automation rules and the deadline sweep all call these. The
transition itself comes from `lifecycle.plan`; this module checks the business rules
around it (amounts, quantities, windows, versions), applies it under a row lock, bumps the
version with a guarded UPDATE (the loser of a race gets `case_conflict`), and writes the
timeline event in the same transaction.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from shouhou.assistant import casework
from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.core.models import RefundGateway, Shop, StaffMember
from shouhou.customers.models import Customer
from shouhou.notify import events as notify_events
from shouhou.orders.models import (
    Channel,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentDirection,
)

from . import lifecycle as lc
from .actors import Actor
from .models import (
    Case,
    CaseLine,
    CaseRating,
    Priority,
    RefundInstruction,
    ReturnAddress,
    ShopPolicy,
    TimelineEvent,
    Visibility,
)
from .policies import current_policy

A = lc.Action
S = lc.Status
TRACKING_RE = re.compile(r"^[A-Za-z0-9]{6,30}$")
CARRIER_MAX = 40
MAX_RULE_DEPTH = 3


# --- opening a case -----------------------------------------------------------------------
@dataclass(frozen=True)
class LineRequest:
    order_line_id: int
    quantity: int
    refund_fen: int | None = None  # None: the paid share of the quantity


def open_case(
    shop: Shop,
    actor: Actor,
    *,
    order: Order,
    type: str,
    reason: str,
    lines: Iterable[LineRequest],
    description: str = "",
    channel: str = Channel.API,
    refund_fen: int | None = None,
    external_id: str = "",
    marketplace_deadline_at: datetime | None = None,
) -> Case:
    """Open an after-sales request on an order (PRODUCT.md §2).

    In marketplace mode the marketplace's own deadline (Pinduoduo `expire_time`, Taobao
    `refund_remind_timeout`) is the clock: a connector passes it as marketplace_deadline_at.
    """
    _require_same_shop(shop, actor)
    if order.shop_id != shop.id:
        raise ShouhouError("not_found", what="订单")
    if actor.role == lc.ActorRole.BUYER and order.customer_id != actor.customer_id:
        raise ShouhouError("not_found", what="订单")
    case_type = _enum(lc.CaseType, type, "type")
    case_reason = _enum(lc.Reason, reason, "reason")
    try:
        lc.plan(None, A.OPEN, actor.role, path=case_type)  # role check, before any read
    except lc.NotAllowed as exc:
        raise ShouhouError(
            exc.code,
            role=actor.role.value,
            action=A.OPEN.value,
            action_label=lc.ACTION_LABELS[A.OPEN],
        ) from None
    policy = current_policy(shop)
    _check_reason_allows_type(policy, case_reason, case_type)
    if order.status in {OrderStatus.UNPAID, OrderStatus.CANCELLED}:
        raise ShouhouError("order_not_paid")
    now = clock.now()
    _check_window(policy, order, case_reason, now)
    if case_reason == lc.Reason.CHANGED_MIND_UNSHIPPED and order.is_shipped:
        raise ShouhouError("reason_requires_unshipped")

    requested = list(lines)
    if not requested:
        raise ShouhouError(
            "validation_error", detail="至少选择一个订单行 / choose at least one line"
        )
    with transaction.atomic():
        # The buyer's row first, as erasure (customers.privacy) takes it: an erasure and an
        # open never both go through, and nothing is opened for an erased person.
        # (NO KEY UPDATE: rows that merely reference the customer are not held up.)
        erased = (
            Customer.objects.select_for_update(no_key=True)
            .filter(pk=order.customer_id)
            .values_list("erased_at", flat=True)
            .first()
        )
        if erased is not None:
            raise ShouhouError("customer_erased")
        by_id = {
            ol.id: ol
            for ol in OrderLine.objects.select_for_update().filter(
                shop=shop, order=order, id__in=[r.order_line_id for r in requested]
            )
        }
        case_lines, total = _price_lines(case_type, requested, by_id, refund_fen)
        step = lc.plan(
            None, A.OPEN, actor.role, path=case_type, review_new_cases=shop.review_new_cases
        )
        case = Case(
            shop=shop,
            number=_case_number(now),
            order=order,
            customer_id=order.customer_id,
            type=case_type,
            path=case_type,
            reason=case_reason,
            description=description.strip(),
            status=step.to_status,
            channel=channel,
            external_id=external_id,
            requested_refund_fen=total,
            refund_fen=total,
            opened_at=now,
            updated_at=now,
        )
        _set_deadline(case, order, policy, now)
        if marketplace_deadline_at is not None:
            _use_marketplace_deadline(shop, case, marketplace_deadline_at)
        try:
            with transaction.atomic():
                case.save(force_insert=True)
                for cl in case_lines:
                    cl.case = case
                    cl.shop = shop
                    cl.type = case_type
                CaseLine.objects.bulk_create(case_lines)
        except IntegrityError as exc:
            raise _open_conflict(shop, case_type, by_id) from exc
        _event(case, actor, step, message=description.strip()[:500])
        notify_events.case_opened(case)  # the outbox, in this transaction
        casework.read_case_description(case)  # an angry buyer raises the priority
        _after_step(case, actor, step, event="case_opened")
    return case


def _use_marketplace_deadline(shop: Shop, case: Case, at: datetime) -> None:
    from shouhou.core.models import ShopMode

    if shop.mode != ShopMode.MARKETPLACE:
        raise ShouhouError(
            "validation_error",
            detail="deadline_at 仅用于平台店铺（以平台期限为准） / only for marketplace-mode shops",
        )
    if at.tzinfo is None:
        raise ShouhouError("validation_error", detail="deadline_at 需带时区 / needs a time zone")
    if case.deadline_action:
        case.deadline_at = at


def _price_lines(
    case_type: str,
    requested: list[LineRequest],
    by_id: dict[int, OrderLine],
    refund_fen: int | None,
) -> tuple[list[CaseLine], int]:
    seen: set[int] = set()
    caps: dict[int, int] = {}
    out: list[CaseLine] = []
    total = 0
    money = case_type in lc.MONEY_PATHS
    for req in requested:
        if req.order_line_id in seen:
            raise ShouhouError("duplicate_line", line=req.order_line_id)
        seen.add(req.order_line_id)
        ol = by_id.get(req.order_line_id)
        if ol is None:
            raise ShouhouError("unknown_order_line", line=req.order_line_id)
        if req.quantity < 1 or req.quantity > ol.quantity:
            raise ShouhouError(
                "quantity_exceeds_ordered",
                line=ol.id,
                requested=req.quantity,
                available=ol.quantity,
            )
        if req.refund_fen is not None and req.refund_fen < 0:
            raise ShouhouError("validation_error", detail="退款金额不能为负 / refund_fen < 0")
        amount = 0
        if money:
            # A buyer claiming 1 of 2 items may ask for at most that item's share of
            # what the line paid (rounded up), and never more than the line can still refund.
            cap = min(-(-ol.paid_fen * req.quantity // ol.quantity), ol.refundable_fen)
            caps[ol.id] = cap
            amount = min(ol.paid_fen * req.quantity // ol.quantity, cap)
            if req.refund_fen is not None:
                amount = req.refund_fen
            elif case_type == lc.CaseType.PRICE_PROTECT:
                amount = 0  # the difference is given as the case's refund_fen
            if amount > cap:
                raise ShouhouError("refund_exceeds_paid", requested=amount, refundable=cap)
        out.append(CaseLine(order_line=ol, quantity=req.quantity, refund_fen=amount))
        total += amount
    if money and refund_fen is not None:
        # A case-level amount (a price difference, or less than the lines' share) is
        # spread over the lines, never above what each line's claimed share allows.
        refundable = sum(caps[cl.order_line_id] for cl in out)
        if refund_fen > refundable:
            raise ShouhouError("refund_exceeds_paid", requested=refund_fen, refundable=refundable)
        remaining = refund_fen
        for cl in out:
            cl.refund_fen = min(remaining, caps[cl.order_line_id])
            remaining -= cl.refund_fen
        total = refund_fen
    if money and total <= 0:
        raise ShouhouError("validation_error", detail="退款金额必须大于 0 / refund must be above 0")
    return out, total


def _open_conflict(shop: Shop, case_type: str, by_id: dict[int, OrderLine]) -> ShouhouError:
    clash = (
        CaseLine.objects.filter(
            shop=shop, order_line_id__in=list(by_id), type=case_type, is_open=True
        )
        .select_related("case")
        .first()
    )
    if clash is None:
        return ShouhouError("duplicate_request")
    return ShouhouError(
        "case_already_open",
        line=clash.order_line_id,
        type=case_type,
        type_label=lc.CASE_TYPE_LABELS[lc.CaseType(case_type)],
        case=clash.case.number,
    )


def _check_reason_allows_type(policy: ShopPolicy, reason: str, case_type: str) -> None:
    allowed = policy.reason_types.get(reason)
    types = set(allowed) if allowed is not None else lc.DEFAULT_REASON_TYPES[lc.Reason(reason)]
    if case_type not in types:
        raise ShouhouError(
            "reason_not_allowed",
            reason=reason,
            reason_label=lc.REASON_LABELS[lc.Reason(reason)],
            type=case_type,
            type_label=lc.CASE_TYPE_LABELS[lc.CaseType(case_type)],
        )


def _check_window(policy: ShopPolicy, order: Order, reason: str, now: datetime) -> None:
    if order.delivered_at is None:
        return
    days = (
        policy.no_reason_days
        if reason == lc.Reason.NO_REASON_7D
        else policy.after_sales_window_days
    )
    if (now - order.delivered_at).total_seconds() > days * 86400:
        raise ShouhouError("outside_after_sales_window", days=days)


def _case_number(now: datetime) -> str:
    # Readable, sortable by day, and random enough that no sequence table is needed.
    return f"AS{now:%y%m%d}{secrets.token_hex(5).upper()}"


# --- the common step ----------------------------------------------------------------------
def _load_for_update(actor: Actor, case_id: int) -> Case:
    qs = Case.objects.select_related("order", "shop")
    if connection.features.has_select_for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        case = qs.get(pk=case_id, shop_id=actor.shop_id)
    except Case.DoesNotExist:
        raise ShouhouError("not_found", what="售后单") from None
    if actor.role == lc.ActorRole.BUYER and case.customer_id != actor.customer_id:
        raise ShouhouError("not_found", what="售后单")
    return case


def _plan(case: Case, actor: Actor, action: lc.Action, proposal_path: str | None = None) -> lc.Step:
    try:
        return lc.plan(
            lc.Status(case.status),
            action,
            actor.role,
            path=case.path,
            proposal_path=proposal_path,
        )
    except lc.NotAllowed as exc:
        status = lc.Status(case.status)
        raise ShouhouError(
            exc.code,
            status=status.value,
            status_label=lc.STATUS_LABELS[status],
            action=action.value,
            action_label=lc.ACTION_LABELS[action],
            role=actor.role.value,
            type=case.type,
            type_label=case.type_label,
        ) from None


def _check_version(case: Case, expected_version: int | None) -> None:
    if expected_version is not None and case.version != expected_version:
        raise ShouhouError("case_conflict", expected=expected_version, actual=case.version)


def _check_deadline(case: Case, actor: Actor, action: lc.Action, now: datetime) -> None:
    """A person acting after a status-changing deadline passed is too late: the timeout
    rule applies (the sweep may simply not have reached the case yet)."""
    if actor.role == lc.ActorRole.SYSTEM or case.deadline_at is None or case.deadline_at > now:
        return
    if case.deadline_action in {A.ALERT, ""} or action == case.deadline_action:
        return
    if action in {A.CANCEL}:
        return  # the buyer may always withdraw before refunding
    raise ShouhouError("deadline_expired", deadline=clock_local(case.deadline_at))


def clock_local(at: datetime) -> str:
    from django.utils import timezone

    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


def _set_deadline(case: Case, order: Order, policy: ShopPolicy, now: datetime) -> None:
    if case.status in lc.TERMINAL:
        case.deadline_at, case.deadline_action = None, ""
        return
    rule = lc.deadline_for(
        lc.Status(case.status),
        path=case.path,
        order_shipped=order.is_shipped,
        overrides=policy.deadline_hours,
    )
    if rule is None:
        case.deadline_at, case.deadline_action = None, ""
    else:
        delta, action = rule
        case.deadline_at, case.deadline_action = now + delta, action.value


CASE_FIELDS = [
    f.attname for f in Case._meta.concrete_fields if f.attname not in {"id", "shop_id", "version"}
]


def _save(case: Case) -> None:
    """Write the case only if nobody else did since we read it (any database)."""
    old = case.version
    values = {name: getattr(case, name) for name in CASE_FIELDS}
    updated = Case.objects.filter(pk=case.pk, version=old).update(version=old + 1, **values)
    if updated != 1:
        actual = Case.objects.filter(pk=case.pk).values_list("version", flat=True).first()
        raise ShouhouError("case_conflict", expected=old, actual=actual)
    case.version = old + 1


def _transition(
    case_id: int,
    actor: Actor,
    action: lc.Action,
    *,
    expected_version: int | None,
    prepare: Callable[[Case, lc.Step, datetime], None] | None = None,
    proposal_path: Callable[[Case], str | None] | None = None,
    message: str = "",
    data: dict | None = None,
) -> Case:
    with transaction.atomic():
        case = _load_for_update(actor, case_id)
        _check_version(case, expected_version)
        now = clock.now()
        step = _plan(case, actor, action, proposal_path(case) if proposal_path else None)
        _check_deadline(case, actor, action, now)
        if prepare is not None:
            prepare(case, step, now)
        _apply(case, actor, step, now, message=message, data=data)
    return case


def _apply(
    case: Case,
    actor: Actor,
    step: lc.Step,
    now: datetime,
    *,
    message: str = "",
    data: dict | None = None,
    visibility: str = Visibility.PUBLIC,
) -> None:
    """Apply a planned step to a locked case: status, deadline, openness, refund, timeline."""
    policy = current_policy(case.shop)
    case.path = step.path if step.action == A.ACCEPT_PROPOSAL else case.path
    case.status = step.to_status
    case.updated_at = now
    if step.changes_status:
        _set_deadline(case, case.order, policy, now)
        # A pending finance approval belongs to the shop's decision at awaiting_merchant.
        case.awaiting_finance = False
    elif step.action == A.ALERT:
        case.deadline_at, case.deadline_action = None, ""
    if step.closes:
        case.is_open = False
        case.closed_at = now
        case.deadline_at, case.deadline_action = None, ""
    if actor.by_deadline and step.action == A.AGREE:
        case.auto_agreed_by_timeout = True
    _save(case)
    if step.changes_status:
        notify_events.status_changed(case, step)
    if step.closes:
        CaseLine.objects.filter(case=case).update(is_open=False)
    _event(case, actor, step, message=message, data=data, visibility=visibility)
    if step.issues_refund:
        _issue_refund(case, actor, now)
    _after_step(case, actor, step, event="status_changed" if step.changes_status else None)


def _event(
    case: Case,
    actor: Actor,
    step: lc.Step | None = None,
    *,
    action: str | None = None,
    message: str = "",
    data: dict | None = None,
    visibility: str = Visibility.PUBLIC,
) -> TimelineEvent:
    return TimelineEvent.objects.create(
        shop_id=case.shop_id,
        case=case,
        at=clock.now(),
        actor_role=actor.role.value,
        actor_label=actor.display,
        staff_id=actor.staff_id,
        action=action or step.action.value,
        from_status=(step.from_status or "") if step else case.status,
        to_status=step.to_status if step else case.status,
        rule_id=actor.rule_id,
        by_deadline=actor.by_deadline,
        visibility=visibility,
        message=message,
        data=data or {},
    )


def _after_step(case: Case, actor: Actor, step: lc.Step, *, event: str | None) -> None:
    if event is None or actor.rule_depth >= MAX_RULE_DEPTH:
        return
    from shouhou.rules.engine import fire

    fire(event, case, actor)


# --- refunds ------------------------------------------------------------------------------
def _issue_refund(case: Case, actor: Actor, now: datetime) -> RefundInstruction:
    """Issue the refund instruction: exactly once per case, never above what was paid."""
    amount = case.refund_fen
    if amount <= 0:
        raise ShouhouError("validation_error", detail="退款金额为 0 / refund amount is 0")
    if RefundInstruction.objects.filter(case=case).exists():
        raise ShouhouError("refund_already_issued")
    allocation = _allocate(case, amount)
    for line_id, take in allocation.items():
        # Guarded increment: refuses to push any line's refunds above what was paid for it,
        # whatever other cases did concurrently (the CHECK constraint backs this up).
        done = OrderLine.objects.filter(
            pk=int(line_id), shop_id=case.shop_id, refunded_fen__lte=F("paid_fen") - take
        ).update(refunded_fen=F("refunded_fen") + take)
        if done != 1:
            line = OrderLine.objects.get(pk=int(line_id))
            raise ShouhouError(
                "refund_exceeds_paid", requested=take, refundable=line.refundable_fen
            )
    try:
        with transaction.atomic():
            refund = RefundInstruction.objects.create(
                shop_id=case.shop_id,
                case=case,
                reference=f"RF{uuid.uuid4().hex[:20].upper()}",
                amount_fen=amount,
                issued_at=now,
                allocation=allocation,
            )
    except IntegrityError as exc:
        raise ShouhouError("refund_already_issued") from exc
    notify_events.refund_issued(case, refund)
    _event(
        case,
        actor,
        action="refund_issued",
        message=f"退款指令 {refund.reference}：{amount / 100:.2f} 元",
        data={"reference": refund.reference, "amount_fen": amount},
    )
    if case.shop.refund_gateway == RefundGateway.INSTANT:
        gateway = Actor.system(case.shop_id, label="退款通道")
        _confirm_refund_locked(case, gateway, now)
    return refund


def _allocate(case: Case, amount: int) -> dict[str, int]:
    """Spread a refund over the case's lines: first what each line asked for, then the rest
    (a partial refund on an exchange, a raised amount) within what each line can still
    refund, so no single line is pushed above what was paid for it."""
    case_lines = list(CaseLine.objects.filter(case=case).order_by("order_line_id"))
    lines = OrderLine.objects.filter(pk__in=[cl.order_line_id for cl in case_lines])
    if connection.features.has_select_for_update:
        lines = lines.select_for_update()  # in id order, so two refunds never deadlock
    room = {ol.id: ol.refundable_fen for ol in lines.order_by("id")}
    allocation: dict[str, int] = {}
    remaining = amount
    for first_pass in (True, False):
        for cl in case_lines:
            cap = room[cl.order_line_id] - allocation.get(str(cl.order_line_id), 0)
            if first_pass:
                cap = min(cap, cl.refund_fen)
            take = min(remaining, cap)
            if take > 0:
                key = str(cl.order_line_id)
                allocation[key] = allocation.get(key, 0) + take
                remaining -= take
    if remaining > 0:
        raise ShouhouError("refund_exceeds_paid", requested=amount, refundable=amount - remaining)
    return allocation


def _confirm_refund_locked(case: Case, actor: Actor, now: datetime) -> None:
    step = _plan(case, actor, A.CONFIRM_REFUND)
    RefundInstruction.objects.filter(case=case, status="issued").update(
        status="confirmed", confirmed_at=now
    )
    _apply(case, actor, step, now)


# --- the actions --------------------------------------------------------------------------
def agree(
    case_id: int,
    actor: Actor,
    *,
    expected_version: int | None = None,
    return_address_id: int | None = None,
    refund_fen: int | None = None,
    note: str = "",
) -> Case:
    """The shop agrees to the buyer's request (or the deadline / a rule agrees for it)."""
    with transaction.atomic():
        case = _load_for_update(actor, case_id)
        _check_version(case, expected_version)
        now = clock.now()
        step = _plan(case, actor, A.AGREE)
        _check_deadline(case, actor, A.AGREE, now)
        if refund_fen is not None and case.path in lc.MONEY_PATHS:
            if refund_fen <= 0 or refund_fen > case.requested_refund_fen:
                raise ShouhouError(
                    "refund_exceeds_paid",
                    requested=refund_fen,
                    refundable=case.requested_refund_fen,
                )
            case.refund_fen = refund_fen
        if _needs_finance(case, actor):
            if not case.awaiting_finance:
                case.awaiting_finance = True
                case.updated_at = now
                _save(case)
                _event(
                    case,
                    actor,
                    action="finance_approval_requested",
                    message=note or "退款金额超过审批额度，已提交财务审批",
                    data={"refund_fen": case.refund_fen},
                    visibility=Visibility.INTERNAL,
                )
            return case
        if step.to_status == S.AWAITING_BUYER_RETURN:
            case.return_address = _return_address(case, return_address_id)
        case.awaiting_finance = False
        _apply(case, actor, step, now, message=note, data=_agree_data(case))
    return case


def decline_finance_approval(
    case_id: int, actor: Actor, *, reason: str, expected_version: int | None = None
) -> Case:
    """Finance (or the admin) sends a refund above the limit back to the agents unpaid.

    The case stays with the merchant (awaiting_merchant, its deadline running); only the
    pending approval is withdrawn, with the reason as an internal note.
    """
    reason = _required(reason, "驳回理由")[:1000]
    if actor.role not in {lc.ActorRole.FINANCE, lc.ActorRole.ADMIN}:
        raise ShouhouError("permission_denied", role=actor.role.value)
    with transaction.atomic():
        case = _load_for_update(actor, case_id)
        _check_version(case, expected_version)
        if not case.awaiting_finance:
            status = S(case.status)
            raise ShouhouError(
                "action_not_allowed",
                status=status.value,
                status_label=lc.STATUS_LABELS[status],
                action="decline_finance_approval",
                action_label="驳回退款审批",
            )
        case.awaiting_finance = False
        case.updated_at = clock.now()
        _save(case)
        _event(
            case,
            actor,
            action="note",
            message=f"财务驳回退款审批：{reason}",
            data={"finance_declined": True, "refund_fen": case.refund_fen},
            visibility=Visibility.INTERNAL,
        )
    return case


def _needs_finance(case: Case, actor: Actor) -> bool:
    if case.path not in {"refund_only", "price_protect", "return_refund"}:
        return False
    if actor.role in {lc.ActorRole.FINANCE, lc.ActorRole.ADMIN} or actor.by_deadline:
        return False
    limit = current_policy(case.shop).finance_approval_limit_fen
    return limit is not None and case.refund_fen > limit


def _return_address(case: Case, return_address_id: int | None) -> ReturnAddress:
    qs = ReturnAddress.objects.filter(shop_id=case.shop_id)
    address = (
        qs.filter(pk=return_address_id).first()
        if return_address_id
        else qs.filter(is_default=True).first() or qs.order_by("id").first()
    )
    if address is None:
        raise ShouhouError("no_return_address")
    return address


def _agree_data(case: Case) -> dict:
    data: dict = {"refund_fen": case.refund_fen}
    if case.return_address_id:
        data["return_address_id"] = case.return_address_id
    return data


def reject(case_id: int, actor: Actor, *, reason: str, expected_version: int | None = None) -> Case:
    reason = (reason or "").strip()
    if not reason:
        raise ShouhouError("validation_error", detail="请填写拒绝理由 / give a reason")

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        case.rejection_reason = reason

    return _transition(
        case_id, actor, A.REJECT, expected_version=expected_version, prepare=prepare, message=reason
    )


def propose(
    case_id: int,
    actor: Actor,
    *,
    kind: str,
    refund_fen: int = 0,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    kind = _enum(lc.ProposalKind, kind, "kind")

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        if kind == lc.ProposalKind.PARTIAL_REFUND:
            refundable = _case_refundable(case)
            if refund_fen <= 0:
                raise ShouhouError("proposal_invalid", detail="部分退款金额必须大于 0")
            if refund_fen > refundable:
                raise ShouhouError(
                    "refund_exceeds_paid", requested=refund_fen, refundable=refundable
                )
            # Accepting pays out at once, so the shop's approval limit applies here.
            limit = current_policy(case.shop).finance_approval_limit_fen
            if limit is not None and refund_fen > limit and actor.role != lc.ActorRole.ADMIN:
                raise ShouhouError("finance_approval_required", limit=limit)
        elif refund_fen:
            raise ShouhouError("proposal_invalid", detail="只有部分退款方案可以带金额")
        case.proposal_kind = kind
        case.proposal_refund_fen = refund_fen
        case.proposal_note = note.strip()

    return _transition(
        case_id,
        actor,
        A.PROPOSE,
        expected_version=expected_version,
        prepare=prepare,
        message=f"{lc.PROPOSAL_LABELS[kind]} {note}".strip(),
        data={"kind": kind, "refund_fen": refund_fen},
    )


def _case_refundable(case: Case) -> int:
    return sum(
        cl.order_line.paid_fen - cl.order_line.refunded_fen
        for cl in CaseLine.objects.filter(case=case).select_related("order_line")
    )


def accept_proposal(case_id: int, actor: Actor, *, expected_version: int | None = None) -> Case:
    def path_of(case: Case) -> str | None:
        return lc.PROPOSAL_PATH.get(case.proposal_kind) if case.proposal_kind else None

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        if case.proposal_kind == lc.ProposalKind.PARTIAL_REFUND:
            case.refund_fen = case.proposal_refund_fen
        elif case.proposal_kind == lc.ProposalKind.EXCHANGE:
            case.return_address = _return_address(case, None)
            case.refund_fen = 0
        else:
            case.refund_fen = 0

    return _transition(
        case_id,
        actor,
        A.ACCEPT_PROPOSAL,
        expected_version=expected_version,
        prepare=prepare,
        proposal_path=path_of,
    )


def decline_proposal(
    case_id: int, actor: Actor, *, reason: str = "", expected_version: int | None = None
) -> Case:
    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        case.proposal_kind, case.proposal_refund_fen = "", 0

    return _transition(
        case_id,
        actor,
        A.DECLINE_PROPOSAL,
        expected_version=expected_version,
        prepare=prepare,
        message=reason,
    )


def ship_return(
    case_id: int,
    actor: Actor,
    *,
    carrier: str,
    tracking_no: str,
    expected_version: int | None = None,
) -> Case:
    """The buyer sends the goods back (carrier + tracking no.)."""
    return _ship(
        case_id,
        actor,
        A.SHIP_RETURN,
        ShipmentDirection.RETURN,
        carrier,
        tracking_no,
        expected_version,
    )


def _ship(
    case_id: int,
    actor: Actor,
    action: lc.Action,
    direction: str,
    carrier: str,
    tracking_no: str,
    expected_version: int | None,
) -> Case:
    carrier, tracking_no = _check_tracking(carrier, tracking_no)

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        Shipment.objects.create(
            shop_id=case.shop_id,
            order_id=case.order_id,
            case=case,
            direction=direction,
            carrier=carrier,
            tracking_no=tracking_no,
            shipped_at=now,
        )

    return _transition(
        case_id,
        actor,
        action,
        expected_version=expected_version,
        prepare=prepare,
        message=f"{carrier} {tracking_no}",
        data={"carrier": carrier, "tracking_no": tracking_no},
    )


def _check_tracking(carrier: str, tracking_no: str) -> tuple[str, str]:
    carrier = (carrier or "").strip()
    tracking_no = (tracking_no or "").strip().upper()
    if not carrier or len(carrier) > CARRIER_MAX:
        raise ShouhouError("validation_error", detail="请填写快递公司 / carrier is required")
    if not TRACKING_RE.match(tracking_no):
        raise ShouhouError("invalid_tracking")
    return carrier, tracking_no


def confirm_receipt(
    case_id: int, actor: Actor, *, note: str = "", expected_version: int | None = None
) -> Case:
    """The returned parcel arrived and passed inspection."""

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        Shipment.objects.filter(
            case=case, direction=ShipmentDirection.RETURN, delivered_at__isnull=True
        ).update(delivered_at=now)

    return _transition(
        case_id,
        actor,
        A.CONFIRM_RECEIPT,
        expected_version=expected_version,
        prepare=prepare,
        message=note,
    )


def fail_inspection(
    case_id: int, actor: Actor, *, reason: str, expected_version: int | None = None
) -> Case:
    reason = (reason or "").strip()
    if not reason:
        raise ShouhouError("validation_error", detail="请填写验货结果 / describe what failed")

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        case.rejection_reason = reason

    return _transition(
        case_id,
        actor,
        A.FAIL_INSPECTION,
        expected_version=expected_version,
        prepare=prepare,
        message=reason,
    )


def ship_replacement(
    case_id: int,
    actor: Actor,
    *,
    carrier: str,
    tracking_no: str,
    expected_version: int | None = None,
) -> Case:
    """The shop ships the replacement, the reshipped or the repaired item."""
    return _ship(
        case_id,
        actor,
        A.SHIP_REPLACEMENT,
        ShipmentDirection.REPLACEMENT,
        carrier,
        tracking_no,
        expected_version,
    )


def confirm_delivery(case_id: int, actor: Actor, *, expected_version: int | None = None) -> Case:
    return _transition(case_id, actor, A.CONFIRM_DELIVERY, expected_version=expected_version)


def confirm_refund(case_id: int, actor: Actor, *, expected_version: int | None = None) -> Case:
    """The payment side confirms the money reached the buyer."""
    with transaction.atomic():
        case = _load_for_update(actor, case_id)
        _check_version(case, expected_version)
        _confirm_refund_locked(case, actor, clock.now())
    return case


def modify(
    case_id: int,
    actor: Actor,
    *,
    reason: str | None = None,
    description: str | None = None,
    refund_fen: int | None = None,
    expected_version: int | None = None,
) -> Case:
    """After a rejection the buyer changes the request and sends it to the shop again."""

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        if reason is not None:
            new_reason = _enum(lc.Reason, reason, "reason")
            _check_reason_allows_type(current_policy(case.shop), new_reason, case.type)
            case.reason = new_reason
        if description is not None:
            case.description = description.strip()
        if refund_fen is not None:
            if case.path not in lc.MONEY_PATHS:
                raise ShouhouError("validation_error", detail="该类型不涉及退款金额")
            refundable = _case_refundable(case)
            if refund_fen <= 0 or refund_fen > refundable:
                raise ShouhouError(
                    "refund_exceeds_paid", requested=refund_fen, refundable=refundable
                )
            case.requested_refund_fen = case.refund_fen = refund_fen
        case.rejection_reason = ""

    return _transition(
        case_id,
        actor,
        A.MODIFY,
        expected_version=expected_version,
        prepare=prepare,
        message=(description or "").strip()[:500],
    )


def escalate(
    case_id: int, actor: Actor, *, statement: str = "", expected_version: int | None = None
) -> Case:
    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        case.priority = max(case.priority, Priority.HIGH)

    return _transition(
        case_id,
        actor,
        A.ESCALATE,
        expected_version=expected_version,
        prepare=prepare,
        message=statement.strip(),
    )


def rule_for_buyer(
    case_id: int, actor: Actor, *, reason: str, expected_version: int | None = None
) -> Case:
    """The arbiter rules for the buyer: the buyer's path resumes, shop deadlines restart."""
    reason = _required(reason, "裁定理由")

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        case.ruling, case.ruling_reason = "for_buyer", reason
        if step.to_status == S.AWAITING_BUYER_RETURN:
            case.return_address = _return_address(case, None)

    return _transition(
        case_id,
        actor,
        A.RULE_FOR_BUYER,
        expected_version=expected_version,
        prepare=prepare,
        message=reason,
    )


def rule_for_shop(
    case_id: int, actor: Actor, *, reason: str, expected_version: int | None = None
) -> Case:
    reason = _required(reason, "裁定理由")

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        case.ruling, case.ruling_reason = "for_shop", reason

    return _transition(
        case_id,
        actor,
        A.RULE_FOR_SHOP,
        expected_version=expected_version,
        prepare=prepare,
        message=reason,
    )


def pass_review(case_id: int, actor: Actor, *, expected_version: int | None = None) -> Case:
    return _transition(case_id, actor, A.PASS_REVIEW, expected_version=expected_version)


def dismiss(
    case_id: int, actor: Actor, *, reason: str, expected_version: int | None = None
) -> Case:
    reason = _required(reason, "驳回理由")
    return _transition(case_id, actor, A.DISMISS, expected_version=expected_version, message=reason)


def cancel(
    case_id: int, actor: Actor, *, reason: str = "", expected_version: int | None = None
) -> Case:
    return _transition(
        case_id, actor, A.CANCEL, expected_version=expected_version, message=reason.strip()
    )


def reopen(
    case_id: int, actor: Actor, *, description: str = "", expected_version: int | None = None
) -> Case:
    """A closed case may be re-opened once, within the after-sales window."""

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        if case.reopen_count >= 1:
            raise ShouhouError("reopen_not_allowed")
        policy = current_policy(case.shop)
        order = case.order
        window = policy.after_sales_window_days * 86400
        if order.delivered_at and (now - order.delivered_at).total_seconds() > window:
            raise ShouhouError("reopen_not_allowed")
        case.reopen_count += 1
        # A new application of the original request: not the remedy of a proposal the buyer
        # accepted and then gave up (an exchange, a reship), nor its zero refund.
        case.path, case.refund_fen = case.type, case.requested_refund_fen
        case.is_open = True
        case.closed_at = None
        case.ruling = case.ruling_reason = case.rejection_reason = ""
        case.proposal_kind, case.proposal_refund_fen = "", 0
        if description:
            case.description = description.strip()
        try:
            with transaction.atomic():
                CaseLine.objects.filter(case=case).update(is_open=True)
        except IntegrityError:
            raise ShouhouError(
                "case_already_open", line="", type=case.type, type_label=case.type_label, case=""
            ) from None

    return _transition(
        case_id,
        actor,
        A.REOPEN,
        expected_version=expected_version,
        prepare=prepare,
        message=description.strip(),
    )


def rate(
    case_id: int,
    actor: Actor,
    *,
    speed: int,
    satisfaction: int,
    comment: str = "",
) -> CaseRating:
    for name, value in (("speed", speed), ("satisfaction", satisfaction)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise ShouhouError("validation_error", detail=f"{name} 必须是 1–5 的整数")
    with transaction.atomic():
        case = _load_for_update(actor, case_id)
        now = clock.now()
        step = _plan(case, actor, A.RATE)
        if CaseRating.objects.filter(case=case).exists():
            raise ShouhouError("already_rated")
        if case.closed_at and now - case.closed_at > lc.RATING_WINDOW:
            raise ShouhouError("rating_window_closed", days=lc.RATING_WINDOW.days)
        try:
            with transaction.atomic():
                rating = CaseRating.objects.create(
                    shop_id=case.shop_id,
                    case=case,
                    speed=speed,
                    satisfaction=satisfaction,
                    comment=comment.strip()[:2000],
                    at=now,
                )
        except IntegrityError:
            raise ShouhouError("already_rated") from None
        case.updated_at = now
        _save(case)
        _event(
            case,
            actor,
            step,
            message=comment.strip()[:500],
            data={"speed": speed, "satisfaction": satisfaction},
        )
    return rating


def alert(case_id: int, actor: Actor) -> Case:
    """A deadline that only warns: flag the case, raise its priority, stop the clock."""

    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        if "overdue" not in case.flags:
            case.flags = [*case.flags, "overdue"]
        if case.status == S.AWAITING_MERCHANT_SHIPMENT:
            case.priority = Priority.URGENT
            if "escalated" not in case.flags:
                case.flags = [*case.flags, "escalated"]

    return _transition(
        case_id, actor, A.ALERT, expected_version=None, prepare=prepare, message="超时提醒"
    )


def expire_proposal(case_id: int, actor: Actor) -> Case:
    def prepare(case: Case, step: lc.Step, now: datetime) -> None:
        case.proposal_kind, case.proposal_refund_fen = "", 0
        if "proposal_expired" not in case.flags:
            case.flags = [*case.flags, "proposal_expired"]

    return _transition(case_id, actor, A.EXPIRE_PROPOSAL, expected_version=None, prepare=prepare)


def close_overdue(case_id: int, actor: Actor) -> Case:
    return _transition(case_id, actor, A.CLOSE_OVERDUE, expected_version=None)


# --- work on a case that does not change its status ---------------------------------------
def assign(
    case_id: int, actor: Actor, *, staff_id: int | None, expected_version: int | None = None
) -> Case:
    with transaction.atomic():
        case = _load_for_update(actor, case_id)
        _check_version(case, expected_version)
        _require_staff_role(actor)
        staff = None
        if staff_id is not None:
            staff = StaffMember.objects.filter(
                pk=staff_id, shop_id=case.shop_id, is_active=True
            ).first()
            if staff is None:
                raise ShouhouError("not_found", what="员工")
        case.assignee = staff
        case.updated_at = clock.now()
        _save(case)
        _event(
            case,
            actor,
            action="assign",
            visibility=Visibility.INTERNAL,
            message=str(staff) if staff else "取消分配",
            data={"staff_id": staff_id},
        )
    return case


def set_priority(
    case_id: int, actor: Actor, *, priority: int, expected_version: int | None = None
) -> Case:
    if priority not in Priority.values:
        raise ShouhouError("validation_error", detail="priority 必须是 0/1/2")
    with transaction.atomic():
        case = _load_for_update(actor, case_id)
        _check_version(case, expected_version)
        _require_staff_role(actor)
        case.priority = priority
        case.updated_at = clock.now()
        _save(case)
        _event(
            case,
            actor,
            action="set_priority",
            visibility=Visibility.INTERNAL,
            data={"priority": priority},
        )
    return case


def add_tag(case_id: int, actor: Actor, *, tag: str) -> Case:
    tag = _required(tag, "标签")[:30]
    with transaction.atomic():
        case = _load_for_update(actor, case_id)
        _require_staff_role(actor)
        if tag not in case.tags:
            case.tags = [*case.tags, tag]
            case.updated_at = clock.now()
            _save(case)
            _event(case, actor, action="tag", visibility=Visibility.INTERNAL, message=tag)
    return case


def add_note(
    case_id: int,
    actor: Actor,
    *,
    text: str,
    internal: bool = True,
    expected_version: int | None = None,
) -> TimelineEvent:
    """An internal note (staff only) or a public reply / statement."""
    text = _required(text, "内容")[:5000]
    with transaction.atomic():
        case = _load_for_update(actor, case_id)
        _check_version(case, expected_version)
        if actor.role == lc.ActorRole.BUYER:
            internal = False
            action = "statement"
        elif internal:
            _require_staff_role(actor)
            action = "note"
        else:
            action = "statement" if actor.role == lc.ActorRole.ARBITER else "reply"
        case.updated_at = clock.now()
        _save(case)
        return _event(
            case,
            actor,
            action=action,
            message=text,
            visibility=Visibility.INTERNAL if internal else Visibility.PUBLIC,
        )


# --- helpers ------------------------------------------------------------------------------
def _require_same_shop(shop: Shop, actor: Actor) -> None:
    if actor.shop_id != shop.id:
        raise ShouhouError("not_found", what="店铺")


def _require_staff_role(actor: Actor) -> None:
    if actor.role in {lc.ActorRole.BUYER}:
        raise ShouhouError("permission_denied", role=actor.role.value)


def _required(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ShouhouError("validation_error", detail=f"请填写{what}")
    return value


def _enum(enum, value: str, field: str):
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ShouhouError(
            "validation_error", detail=f"{field}: {value!r} ∉ {{{allowed}}}"
        ) from None


ACTION_SERVICES: dict[lc.Action, Callable[..., object]] = {
    A.PASS_REVIEW: pass_review,
    A.DISMISS: dismiss,
    A.AGREE: agree,
    A.REJECT: reject,
    A.PROPOSE: propose,
    A.ACCEPT_PROPOSAL: accept_proposal,
    A.DECLINE_PROPOSAL: decline_proposal,
    A.EXPIRE_PROPOSAL: expire_proposal,
    A.SHIP_RETURN: ship_return,
    A.CONFIRM_RECEIPT: confirm_receipt,
    A.FAIL_INSPECTION: fail_inspection,
    A.SHIP_REPLACEMENT: ship_replacement,
    A.CONFIRM_DELIVERY: confirm_delivery,
    A.CONFIRM_REFUND: confirm_refund,
    A.MODIFY: modify,
    A.ESCALATE: escalate,
    A.RULE_FOR_BUYER: rule_for_buyer,
    A.RULE_FOR_SHOP: rule_for_shop,
    A.CANCEL: cancel,
    A.CLOSE_OVERDUE: close_overdue,
    A.REOPEN: reopen,
    A.ALERT: alert,
}


def add_rule_note(case_id: int, actor: Actor, text: str) -> TimelineEvent:
    """Record on the timeline why a rule did not act (internal)."""
    case = Case.objects.get(pk=case_id, shop_id=actor.shop_id)
    return _event(case, actor, action="rule_fired", message=text, visibility=Visibility.INTERNAL)


# --- logistics ----------------------------------------------------------------------------
LOGISTICS_ROLES = frozenset(
    {
        lc.ActorRole.INTEGRATION,
        lc.ActorRole.WAREHOUSE,
        lc.ActorRole.AGENT,
        lc.ActorRole.ADMIN,
        lc.ActorRole.SYSTEM,
    }
)


def record_parcel_delivered(
    shop: Shop,
    actor: Actor,
    *,
    carrier: str = "",
    tracking_no: str,
    at: datetime | None = None,
) -> list[Case]:
    """A carrier reports a case parcel delivered: mark the shipment delivered, note it on the
    timeline and, for a buyer's return, let the shop's `parcel_delivered` rules act (the
    auto-refund template). A repeated report changes nothing."""
    _require_same_shop(shop, actor)
    if actor.role not in LOGISTICS_ROLES:
        raise ShouhouError("permission_denied", role=actor.role.value)
    carrier = (carrier or "").strip()
    tracking_no = (tracking_no or "").strip().upper()
    if not tracking_no:
        raise ShouhouError("validation_error", detail="请填写运单号 / tracking_no is required")
    now = clock.now()
    delivered_at = min(at, now) if at else now
    with transaction.atomic():
        found = list(
            Shipment.objects.filter(
                shop=shop,
                tracking_no=tracking_no,
                case__isnull=False,
                direction__in=[ShipmentDirection.RETURN, ShipmentDirection.REPLACEMENT],
            )
            .order_by("id")
            .values_list("id", "case_id", "carrier")
        )
        found = [f for f in found if f[2] == carrier] or found
        if not found:
            raise ShouhouError("not_found", what="运单")
        cases: list[Case] = []
        # The case first, then its shipment: the order every case service locks in
        # (confirm_receipt marks the parcel under the case lock); the reverse deadlocks.
        for case_id in sorted({f[1] for f in found}):
            case = _load_for_update(actor, case_id)
            cases.append(case)
            ids = [f[0] for f in found if f[1] == case_id]
            for shipment in Shipment.objects.select_for_update().filter(pk__in=ids).order_by("id"):
                if shipment.delivered_at is not None:
                    continue
                shipment.delivered_at = delivered_at
                shipment.save(update_fields=["delivered_at"])
                case.updated_at = now
                _save(case)
                _event(
                    case,
                    actor,
                    action="parcel_delivered",
                    message=f"{shipment.carrier} {shipment.tracking_no} 已签收",
                    data={
                        "carrier": shipment.carrier,
                        "tracking_no": shipment.tracking_no,
                        "direction": shipment.direction,
                    },
                )
                if (
                    shipment.direction == ShipmentDirection.RETURN
                    and actor.rule_depth < MAX_RULE_DEPTH
                ):
                    from shouhou.rules.engine import fire

                    fire("parcel_delivered", case, actor)
    return cases
