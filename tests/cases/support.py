"""Builders and the invariant checker shared by the case-engine tests.

`check_invariants(shop)` is PRODUCT.md §2's list of invariants written as queries; every
test that drives cases (services, rules, the stateful machine, the concurrency tests, the
sweep) ends by calling it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from shouhou.cases import lifecycle as lc
from shouhou.cases import services
from shouhou.cases.actors import Actor
from shouhou.cases.models import (
    Case,
    CaseLine,
    CaseRating,
    RefundInstruction,
    RefundStatus,
    TimelineEvent,
)
from shouhou.core.models import Shop
from shouhou.orders.models import Order, OrderLine, Shipment
from tests.factories import buyer

R = lc.ActorRole

# A reason each type accepts under the default policy.
REASON_FOR = {
    "refund_only": "quality",
    "return_refund": "quality",
    "exchange": "quality",
    "reship": "wrong_or_missing",
    "repair": "quality",
    "price_protect": "price_change",
}


@dataclass(frozen=True)
class Staff:
    """One actor per merchant-side role of a shop."""

    agent: Actor
    admin: Actor
    warehouse: Actor
    finance: Actor
    arbiter: Actor
    integration: Actor
    system: Actor

    @classmethod
    def of(cls, shop: Shop) -> Staff:
        def a(role: R, label: str) -> Actor:
            return Actor(role=role, shop_id=shop.id, label=label)

        return cls(
            agent=a(R.AGENT, "客服小王"),
            admin=a(R.ADMIN, "店长"),
            warehouse=a(R.WAREHOUSE, "仓库老李"),
            finance=a(R.FINANCE, "财务"),
            arbiter=a(R.ARBITER, "平台小二"),
            integration=a(R.INTEGRATION, "ERP"),
            system=Actor.system(shop.id),
        )


def open_case(
    shop: Shop,
    order: Order,
    case_type: str,
    *,
    quantity: int = 1,
    line: OrderLine | None = None,
    actor: Actor | None = None,
    reason: str | None = None,
    **kw,
) -> Case:
    line = line or order.lines.order_by("id").first()
    if case_type == "price_protect":
        kw.setdefault("refund_fen", 500)
    return services.open_case(
        shop,
        actor or buyer(order),
        order=order,
        type=case_type,
        reason=reason or REASON_FOR[case_type],
        lines=[services.LineRequest(line.id, quantity)],
        **kw,
    )


def snapshot(shop: Shop) -> dict:
    """Everything a refused action must leave untouched."""
    return {
        "cases": list(
            Case.objects.filter(shop=shop)
            .order_by("id")
            .values_list(
                "id", "status", "version", "path", "is_open", "deadline_at", "refund_fen", "flags"
            )
        ),
        "case_lines": list(
            CaseLine.objects.filter(shop=shop).order_by("id").values_list("id", "is_open")
        ),
        "events": TimelineEvent.objects.filter(shop=shop).count(),
        "refunds": list(
            RefundInstruction.objects.filter(shop=shop).order_by("id").values_list("id", "status")
        ),
        "refunded": list(
            OrderLine.objects.filter(shop=shop).order_by("id").values_list("id", "refunded_fen")
        ),
        "shipments": Shipment.objects.filter(shop=shop).count(),
        "ratings": CaseRating.objects.filter(shop=shop).count(),
    }


def status_events(case_id: int) -> list[TimelineEvent]:
    """The timeline events that changed the case's status, in order."""
    return [
        e
        for e in TimelineEvent.objects.filter(case_id=case_id).order_by("at", "id")
        if e.from_status != e.to_status
    ]


def check_invariants(shop: Shop) -> None:
    """PRODUCT.md §2's invariants, as queries over one shop's data (a fixed handful of
    queries whatever the number of cases: the stateful test runs this after every step)."""
    cases = list(Case.objects.filter(shop=shop).select_related("order").order_by("id"))
    refunds = {r.case_id: r for r in RefundInstruction.objects.filter(shop=shop)}
    timeline: dict[int, list[TimelineEvent]] = defaultdict(list)
    for e in TimelineEvent.objects.filter(shop=shop).order_by("at", "id"):
        timeline[e.case_id].append(e)
    case_lines: dict[int, list[CaseLine]] = defaultdict(list)
    for cl in CaseLine.objects.filter(shop=shop):
        case_lines[cl.case_id].append(cl)

    # Refunded per order line: never above paid, and exactly what the instructions allocated.
    allocated: dict[int, int] = defaultdict(int)
    for refund in refunds.values():
        assert refund.status in {RefundStatus.ISSUED, RefundStatus.CONFIRMED}
        assert sum(refund.allocation.values()) == refund.amount_fen, refund.allocation
        for line_id, fen in refund.allocation.items():
            assert fen > 0, refund.allocation
            allocated[int(line_id)] += fen
    total_refunded = 0
    for line in OrderLine.objects.filter(shop=shop):
        assert line.refunded_fen <= line.paid_fen, (line.id, line.refunded_fen, line.paid_fen)
        assert line.refunded_fen == allocated.get(line.id, 0), (
            line.id,
            line.refunded_fen,
            allocated.get(line.id, 0),
        )
        total_refunded += line.refunded_fen
    assert total_refunded == sum(r.amount_fen for r in refunds.values())

    open_keys: dict[tuple[int, str], int] = {}
    for case in cases:
        status = lc.Status(case.status)
        events = timeline[case.id]
        chain = [e for e in events if e.from_status != e.to_status]
        # Every status change has exactly one event, chained from "" to the current status.
        assert chain, f"case {case.id} has no timeline"
        assert chain[0].from_status == "" and chain[0].action == lc.Action.OPEN
        for prev, nxt in zip(chain, chain[1:], strict=False):
            assert nxt.from_status == prev.to_status, (
                case.id,
                [(e.action, e.from_status, e.to_status) for e in chain],
            )
        assert chain[-1].to_status == case.status, (case.id, case.status, chain[-1].to_status)

        # One instruction per case, and one exists iff the case ever entered refunding.
        entered_refunding = any(e.to_status == lc.Status.REFUNDING for e in chain)
        assert (case.id in refunds) == entered_refunding, (case.id, case.status)
        issued = sum(1 for e in events if e.action == "refund_issued")
        assert issued == (1 if case.id in refunds else 0), (case.id, issued)
        if case.id in refunds:
            assert refunds[case.id].amount_fen == case.refund_fen
            if status == lc.Status.COMPLETED:
                assert refunds[case.id].status == RefundStatus.CONFIRMED

        # Openness follows the status, for the case and its lines.
        assert case.is_open == (status not in lc.TERMINAL), (case.id, case.status)
        lines = case_lines[case.id]
        assert lines and all(cl.is_open == case.is_open for cl in lines), case.id
        assert all(cl.type == case.type for cl in lines)
        if case.is_open:
            for cl in lines:
                key = (cl.order_line_id, cl.type)
                assert key not in open_keys, (key, open_keys[key], case.id)
                open_keys[key] = case.id

        # Deadlines: none once ended; the status's own rule while open (an alert that has
        # fired stops the clock until the status changes).
        if status in lc.TERMINAL:
            assert case.deadline_at is None and case.deadline_action == ""
            assert case.closed_at is not None
        else:
            rule = lc.deadline_for(status, path=case.path, order_shipped=case.order.is_shipped)
            if rule is None:
                assert case.deadline_at is None
            else:
                alerted = any(
                    e.action == lc.Action.ALERT for e in events[events.index(chain[-1]) + 1 :]
                )
                if alerted:
                    assert case.deadline_at is None
                else:
                    assert case.deadline_at is not None, (case.id, case.status)
                    assert case.deadline_action == rule[1].value, (case.id, case.deadline_action)
        assert not case.awaiting_finance or status == lc.Status.AWAITING_MERCHANT, case.id
