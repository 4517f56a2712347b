"""Reads for cases: the work queue and the case detail.

The queue is sized for shops with millions of cases. It never counts and never skips rows
with OFFSET: pages are cut with a keyset cursor on (deadline_at nulls last, id), and each
query is a single range of one of the queue indexes —

    case_queue          (shop, is_open, deadline_at, id)
    case_shop_status_dl (shop, status,  deadline_at, id)

— so a page costs about `limit` index entries however deep the page is. Asking for several
statuses (or for open and closed cases together) runs one such range per status and merges
the sorted pieces here, instead of letting the database sort every matching row. Within a
range, cases with a deadline come first (soonest first) and those without after, by id;
a closed case never has a deadline (the database checks it), so every dated case is open.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from shouhou.core.errors import ShouhouError
from shouhou.orders.models import Order, Shipment

from . import lifecycle as lc
from .actors import Actor
from .models import (
    Case,
    CaseLine,
    CaseRating,
    Evidence,
    RefundInstruction,
    TimelineEvent,
    Visibility,
)
from .services import LineRequest

R = lc.ActorRole
STAFF_EXTRA_ACTIONS = ("note", "assign", "set_priority")
EXTRA_ACTION_LABELS = {
    "note": "内部备注",
    "reply": "回复",
    "statement": "陈述",
    "assign": "分配",
    "set_priority": "设置优先级",
    "tag": "标签",
    "evidence": "上传凭证",
    "finance_approval_requested": "提交财务审批",
    "refund_issued": "退款指令已发出",
    "rule_fired": "规则执行",
    "parcel_delivered": "包裹已签收",
}

# Exactly what a queue row shows; nothing else is read.
SUMMARY_FIELDS = (
    "id",
    "number",
    "order_id",
    "order__external_id",
    "type",
    "reason",
    "status",
    "channel",
    "priority",
    "assignee_id",
    "requested_refund_fen",
    "refund_fen",
    "deadline_at",
    "deadline_action",
    "version",
    "is_open",
    "flags",
    "opened_at",
    "updated_at",
)


# --- scope --------------------------------------------------------------------------------
def case_scope(actor: Actor, order_id: int | None = None) -> QuerySet[Case]:
    """The cases this actor may see: its shop's; a buyer only its own order's."""
    qs = Case.objects.filter(shop_id=actor.shop_id)
    if actor.role == R.BUYER:
        qs = qs.filter(customer_id=actor.customer_id)
        if order_id is not None:
            qs = qs.filter(order_id=order_id)
    return qs


def require_case(actor: Actor, case_id: int, order_id: int | None = None) -> None:
    """404 unless the actor may see the case (another shop's case is simply not there)."""
    if not case_scope(actor, order_id).filter(pk=case_id).exists():
        raise ShouhouError("not_found", what="售后单")


def order_for_request(
    actor: Actor,
    *,
    order_id: int | None,
    order_external_id: str | None,
    buyer_order_id: int | None = None,
) -> Order:
    qs = Order.objects.filter(shop_id=actor.shop_id)
    if actor.role == R.BUYER:
        qs = qs.filter(customer_id=actor.customer_id, pk=buyer_order_id)
    order = (
        qs.filter(pk=order_id).first()
        if order_id is not None
        else qs.filter(external_id=order_external_id).first()
    )
    if order is None:
        raise ShouhouError("not_found", what="订单")
    return order


def line_requests(order: Order, lines: Iterable[Any]) -> list[LineRequest]:
    """Turn API lines (by id or by the shop's line number) into service requests."""
    lines = list(lines)
    wanted = {ln.order_line_external_id for ln in lines if ln.order_line_external_id is not None}
    by_external = dict(
        order.lines.filter(external_id__in=wanted).values_list("external_id", "id")
        if wanted
        else []
    )
    out = []
    for ln in lines:
        line_id = ln.order_line_id
        if line_id is None:
            line_id = by_external.get(ln.order_line_external_id)
            if line_id is None:
                raise ShouhouError("unknown_order_line", line=ln.order_line_external_id)
        out.append(LineRequest(line_id, ln.quantity, ln.refund_fen))
    return out


# --- the queue ----------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueFilters:
    status: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    reason: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    priority: tuple[int, ...] = ()
    assignee: tuple[str, ...] = ()  # staff ids, "me", "none"
    deadline_before: datetime | None = None
    scope: str = "open"  # open | closed | all; ignored when statuses are given
    order_id: int | None = None


@dataclass(frozen=True)
class Cursor:
    deadline_at: datetime | None
    id: int

    def encode(self) -> str:
        raw = json.dumps(
            {"d": self.deadline_at.isoformat() if self.deadline_at else None, "i": self.id}
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            case_id = data["i"]
            when = parse_datetime(data["d"]) if data["d"] is not None else None
            if not isinstance(case_id, int) or isinstance(case_id, bool) or case_id < 0:
                raise ValueError
            if data["d"] is not None and (when is None or when.tzinfo is None):
                raise ValueError
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
            raise ShouhouError(
                "validation_error", detail="cursor: 无效的游标 / bad cursor"
            ) from None
        return cls(when, case_id)


@dataclass
class QueuePage:
    items: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


def _partitions(filters: QueueFilters) -> list[Q]:
    """One index range each: a status (case_shop_status_dl) or openness (case_queue)."""
    if filters.status:
        return [Q(status=s) for s in sorted(set(filters.status))]
    return {
        "open": [Q(is_open=True)],
        "closed": [Q(is_open=False)],
        "all": [Q(is_open=True), Q(is_open=False)],
    }[filters.scope]


def _filtered(actor: Actor, filters: QueueFilters) -> QuerySet[Case]:
    qs = case_scope(actor, filters.order_id)
    if filters.type:
        qs = qs.filter(type__in=filters.type)
    if filters.reason:
        qs = qs.filter(reason__in=filters.reason)
    if filters.channel:
        qs = qs.filter(channel__in=filters.channel)
    if filters.priority:
        qs = qs.filter(priority__in=filters.priority)
    if filters.assignee:
        ids = set()
        cond = Q()
        for value in filters.assignee:
            if value == "none":
                cond |= Q(assignee__isnull=True)
            elif value == "me":
                ids.add(actor.staff_id or 0)
            elif value.isdigit() and len(value) <= 18:
                ids.add(int(value))
            else:
                raise ShouhouError(
                    "validation_error", detail="assignee: 员工 id、me 或 none / id, me or none"
                )
        if ids:
            cond |= Q(assignee_id__in=ids)
        qs = qs.filter(cond)
    if filters.deadline_before is not None:
        qs = qs.filter(deadline_at__lt=filters.deadline_before)
    return qs


_NO_DEADLINE = datetime.min.replace(tzinfo=UTC)


def _sort_key(row: dict[str, Any]) -> tuple:
    d = row["deadline_at"]
    return (d is None, d or _NO_DEADLINE, row["id"])


def queue(
    actor: Actor, filters: QueueFilters, *, limit: int = 50, cursor: str | None = None
) -> QueuePage:
    """A page of the queue: soonest deadline first, cases without one last, then by id."""
    after = Cursor.decode(cursor) if cursor else None
    base = _filtered(actor, filters)
    want = limit + 1  # one extra row says whether there is a next page; no COUNT(*)
    rows: list[dict[str, Any]] = []
    for part in _partitions(filters):
        rows.extend(
            _range(base.filter(part), after, want, dated_only=bool(filters.deadline_before))
        )
    rows.sort(key=_sort_key)
    page = QueuePage(items=[_summary(r) for r in rows[:limit]])
    if actor.role == R.BUYER:
        for item in page.items:  # internal triage marks are not the buyer's business
            item["flags"], item["assignee_id"] = [], None
    if len(rows) > limit:
        last = rows[limit - 1]
        page.next_cursor = Cursor(last["deadline_at"], last["id"]).encode()
    return page


def _range(
    qs: QuerySet[Case], after: Cursor | None, want: int, *, dated_only: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if after is None or after.deadline_at is not None:
        dated = qs.filter(deadline_at__isnull=False)
        if after is not None:
            # The plain >= bound is what the index range starts from; the OR only trims ties.
            dated = dated.filter(deadline_at__gte=after.deadline_at).filter(
                Q(deadline_at__gt=after.deadline_at) | Q(id__gt=after.id)
            )
        rows = list(dated.order_by("deadline_at", "id").values(*SUMMARY_FIELDS)[:want])
    if len(rows) < want and not dated_only:
        undated = qs.filter(deadline_at__isnull=True)
        if after is not None and after.deadline_at is None:
            undated = undated.filter(id__gt=after.id)
        rows += list(undated.order_by("id").values(*SUMMARY_FIELDS)[: want - len(rows)])
    return rows


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["order_external_id"] = out.pop("order__external_id")
    out.update(_labels(out["type"], out["reason"], out["status"]))
    return out


def _labels(case_type: str, reason: str, status: str) -> dict[str, str]:
    return {
        "type_label": lc.CASE_TYPE_LABELS.get(case_type, case_type),
        "reason_label": lc.REASON_LABELS.get(reason, reason),
        "status_label": lc.STATUS_LABELS.get(status, status),
    }


# --- the detail ---------------------------------------------------------------------------
def allowed_actions(case: Case, actor: Actor, *, rated: bool) -> list[str]:
    """What this actor may do now, as the action endpoints name it."""
    actions = [
        a.value
        for a in lc.allowed_actions(lc.Status(case.status), case.path, actor.role)
        if not (
            (a == lc.Action.ACCEPT_PROPOSAL and not case.proposal_kind)
            or (a == lc.Action.RATE and rated)
            or (a == lc.Action.REOPEN and case.reopen_count >= 1)
        )
    ]
    if actor.role == R.BUYER:
        actions.append("note")
    elif actor.role != R.SYSTEM:
        actions.extend(STAFF_EXTRA_ACTIONS if case.is_open else ("note",))
    return actions


def case_detail(
    actor: Actor,
    case_id: int,
    order_id: int | None = None,
    *,
    just_opened: Case | None = None,
) -> dict[str, Any]:
    """Everything a case page shows, with personal data masked and internal parts hidden
    from the buyer.

    `just_opened`: the case a service created in this very request, for this actor. It is
    used as loaded (no second read of the row), and what a brand-new case cannot have yet
    (a rating, evidence, shipments) is not queried: that halves the cost of answering an
    open, the busiest write of a big-promotion peak.
    """
    if just_opened is not None:
        case = just_opened
    else:
        case = (
            case_scope(actor, order_id)
            .select_related("order", "customer", "assignee__user", "return_address")
            .filter(pk=case_id)[:1]
        )
        case = next(iter(case), None)
    if case is None:
        raise ShouhouError("not_found", what="售后单")
    buyer = actor.role == R.BUYER
    fresh = just_opened is not None
    rating = None if fresh else _one(CaseRating.objects.filter(case=case))
    refund = _one(RefundInstruction.objects.filter(case=case))
    timeline = TimelineEvent.objects.filter(case=case).order_by("at", "id")
    if buyer:
        timeline = timeline.filter(visibility=Visibility.PUBLIC)
    out: dict[str, Any] = {
        **_summary({f: _field(case, f) for f in SUMMARY_FIELDS}),
        "path": case.path,
        "description": case.description,
        "external_id": case.external_id,
        "deadline_label": _deadline_label(case),
        "tags": [] if buyer else list(case.tags),
        "awaiting_finance": case.awaiting_finance,
        "auto_agreed_by_timeout": case.auto_agreed_by_timeout,
        "reopen_count": case.reopen_count,
        "rejection_reason": case.rejection_reason,
        "ruling": case.ruling,
        "ruling_reason": case.ruling_reason,
        "closed_at": case.closed_at,
        "customer": {
            "id": case.customer_id,
            "nickname": case.customer.nickname,
            "tier": case.customer.tier,
            "phone_masked": case.customer.phone_masked,
            "address_masked": case.customer.address_masked,
        },
        "assignee": None,
        "proposal": None,
        "return_address": None,
        "lines": [
            {
                "id": cl.id,
                "order_line_id": cl.order_line_id,
                "order_line_external_id": cl.order_line.external_id,
                "title": cl.order_line.title,
                "quantity": cl.quantity,
                "refund_fen": cl.refund_fen,
            }
            for cl in CaseLine.objects.filter(case=case).select_related("order_line").order_by("id")
        ],
        "evidence": [
            evidence_summary(ev)
            for ev in ([] if fresh else Evidence.objects.filter(case=case).order_by("id"))
        ],
        "timeline": [_event(ev, buyer) for ev in timeline],
        "shipments": []
        if fresh
        else list(
            Shipment.objects.filter(case=case)
            .order_by("id")
            .values("direction", "carrier", "tracking_no", "shipped_at", "delivered_at")
        ),
        "rating": (
            {
                "speed": rating.speed,
                "satisfaction": rating.satisfaction,
                "comment": rating.comment,
                "at": rating.at,
            }
            if rating
            else None
        ),
        "refund": (
            {
                "reference": refund.reference,
                "amount_fen": refund.amount_fen,
                "status": refund.status,
                "issued_at": refund.issued_at,
                "confirmed_at": refund.confirmed_at,
            }
            if refund
            else None
        ),
        "allowed_actions": allowed_actions(case, actor, rated=rating is not None),
    }
    if buyer:
        out["flags"] = []
        out["assignee_id"] = None
    elif case.assignee is not None:
        out["assignee"] = {
            "id": case.assignee.id,
            "display_name": case.assignee.display_name or case.assignee.user.get_username(),
            "role": case.assignee.role,
        }
    if case.proposal_kind:
        kind = lc.ProposalKind(case.proposal_kind)
        out["proposal"] = {
            "kind": kind.value,
            "kind_label": lc.PROPOSAL_LABELS[kind],
            "refund_fen": case.proposal_refund_fen,
            "note": case.proposal_note,
        }
    if case.return_address is not None:
        # The shop's own warehouse, which the buyer needs in full to send the parcel; staff
        # and integrations see it masked like any phone and address (the settings page
        # shows the shop admin the full one).
        ra = case.return_address
        out["return_address"] = {
            "id": ra.id,
            "label": ra.label,
            "contact_name": ra.contact_name,
            "phone": ra.phone if buyer else ra.phone_masked,
            "address": ra.address if buyer else ra.address_masked,
        }
    return out


def evidence_summary(ev: Evidence) -> dict[str, Any]:
    return {
        "id": ev.id,
        "original_name": ev.original_name,
        "content_type": ev.content_type,
        "size": ev.size,
        "sha256": ev.sha256,
        "note": ev.note,
        "uploaded_by": ev.uploaded_by,
        "created_at": ev.created_at,
    }


def _one(qs: QuerySet) -> Any:
    """The single row or None, without the ORDER BY that .first() adds (it costs compile time)."""
    return next(iter(qs[:1]), None)


def _field(case: Case, name: str) -> Any:
    if name == "order__external_id":
        return case.order.external_id
    return getattr(case, name)


def _deadline_label(case: Case) -> str:
    if case.deadline_at is None:
        return ""
    key = lc.deadline_key(
        lc.Status(case.status), path=case.path, order_shipped=case.order.is_shipped
    )
    rule = lc.DEADLINES.get(key) if key else None
    return rule.label if rule else ""


def _event(ev: TimelineEvent, buyer: bool) -> dict[str, Any]:
    label = ev.actor_label
    if buyer and ev.actor_role not in {R.BUYER, R.SYSTEM}:
        # Buyers see who acted by role (客服, 仓库), not the staff member's name.
        label = lc.ROLE_LABELS.get(lc.ActorRole(ev.actor_role), ev.actor_role)
    try:
        action_label = lc.ACTION_LABELS[lc.Action(ev.action)]
    except ValueError:
        action_label = EXTRA_ACTION_LABELS.get(ev.action, ev.action)
    return {
        "id": ev.id,
        "at": ev.at,
        "actor_role": ev.actor_role,
        "actor_label": label,
        "action": ev.action,
        "action_label": action_label,
        "from_status": ev.from_status,
        "to_status": ev.to_status,
        "by_deadline": ev.by_deadline,
        "rule_id": None if buyer else ev.rule_id,
        "visibility": ev.visibility,
        "message": ev.message,
        "data": ev.data if isinstance(ev.data, dict) else {},
    }
