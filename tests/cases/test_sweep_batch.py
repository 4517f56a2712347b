"""The batched deadline sweep does exactly what the per-case services do.

Every deadline action (pass review, agree on each path, close overdue, confirm receipt,
alert, confirm delivery, expire proposal) is set up across shops that differ in what the
batch must mirror: instant vs. manual refunds, a policy with its own deadline hours, a shop
whose automation rules must see every step, a shop with no return address, and two cases
whose refunds together exceed what the line was paid. The same starting state is swept
once through the per-case services and once through the batch, and every trace compared.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from shouhou.cases import deadlines
from shouhou.cases import services as sv
from shouhou.cases.models import Case, CaseLine, RefundInstruction, ReturnAddress, TimelineEvent
from shouhou.cases.policies import update_policy
from shouhou.core import clock
from shouhou.core.models import Shop
from shouhou.orders.models import OrderLine, Shipment
from shouhou.rules.services import save_rule
from tests.cases.support import check_invariants
from tests.factories import buyer, make_order, make_shop, staff_actor

T0 = timezone.make_aware(datetime(2025, 3, 1, 9, 0))
REF = re.compile(r"RF[0-9A-F]{20}")


def _open(shop, order, type_, reason="quality", *, qty=1, refund_fen=None, line=0):
    ol = list(order.lines.order_by("id"))[line]
    return sv.open_case(
        shop,
        buyer(order),
        order=order,
        type=type_,
        reason=reason,
        lines=[sv.LineRequest(ol.id, qty)],
        refund_fen=refund_fen,
    )


def _cases_of_every_deadline(shop) -> tuple[list[int], int]:
    """One case waiting on each deadline, walked there through the services at T0; and
    one more that the first sweep must leave alone."""
    agent = staff_actor(shop, "agent")
    wh = staff_actor(shop, "warehouse")
    ids = []

    def add(case):
        ids.append(case.id)
        return case

    # awaiting_merchant → agree, on every path (unshipped refund_only waits 24 h).
    add(_open(shop, make_order(shop), "refund_only"))
    add(_open(shop, make_order(shop, status="paid"), "refund_only", "changed_mind_unshipped"))
    add(_open(shop, make_order(shop), "return_refund", "no_reason_7d"))
    add(_open(shop, make_order(shop), "exchange", "wrong_size"))
    add(_open(shop, make_order(shop), "reship", "wrong_or_missing"))
    add(_open(shop, make_order(shop), "repair"))
    two = make_order(shop, lines=[(1, 3000), (2, 2500)])
    add(
        sv.open_case(
            shop,
            buyer(two),
            order=two,
            type="refund_only",
            reason="damaged",
            lines=[sv.LineRequest(ol.id, ol.quantity) for ol in two.lines.order_by("id")],
            refund_fen=6000,
        )
    )
    # A raised amount (modify) is spread over both lines, not pushed onto the first.
    two = make_order(shop, lines=[(1, 3000), (2, 2500)])
    c = add(
        sv.open_case(
            shop,
            buyer(two),
            order=two,
            type="refund_only",
            reason="damaged",
            lines=[sv.LineRequest(ol.id, ol.quantity) for ol in two.lines.order_by("id")],
            refund_fen=3000,
        )
    )
    sv.reject(c.id, agent, reason="金额有误")
    sv.modify(c.id, buyer(two), refund_fen=7000)
    # awaiting_buyer_return → close_overdue
    c = add(_open(shop, make_order(shop), "return_refund"))
    sv.agree(c.id, agent)
    # awaiting_merchant_receipt → confirm_receipt (refund, and exchange → shipment)
    for type_ in ("return_refund", "exchange"):
        o = make_order(shop)
        c = add(_open(shop, o, type_))
        sv.agree(c.id, agent)
        sv.ship_return(c.id, buyer(o), carrier="顺丰", tracking_no="SF1234567890")
    # awaiting_merchant_shipment → alert (escalates)
    c = add(_open(shop, make_order(shop), "reship", "not_received"))
    sv.agree(c.id, agent)
    # awaiting_buyer_receipt → confirm_delivery
    c = add(_open(shop, make_order(shop), "reship", "not_received"))
    sv.agree(c.id, agent)
    sv.ship_replacement(c.id, wh, carrier="中通", tracking_no="ZT99887766")
    # proposal_pending → expire_proposal
    c = add(_open(shop, make_order(shop), "return_refund"))
    sv.propose(c.id, agent, kind="partial_refund", refund_fen=1500, note="补偿")
    # On a refund_only case the next deadline depends on whether the order shipped.
    for status in ("paid", "delivered"):
        o = make_order(shop, status=status)
        c = add(
            _open(
                shop, o, "refund_only", "quality" if status != "paid" else "changed_mind_unshipped"
            )
        )
        sv.propose(c.id, agent, kind="partial_refund", refund_fen=2000)
    # rejected → close_overdue; in_arbitration → alert
    c = add(_open(shop, make_order(shop), "refund_only"))
    sv.reject(c.id, agent, reason="已超过售后期")
    o = make_order(shop)
    c = add(_open(shop, o, "refund_only"))
    sv.reject(c.id, agent, reason="不符合条件")
    sv.escalate(c.id, buyer(o), statement="商品确有破损")
    # Two refunds on one line that together exceed what it was paid: the second is parked.
    o = make_order(shop, lines=[(1, 10000)])
    add(_open(shop, o, "refund_only", "quality"))
    add(_open(shop, o, "price_protect", "price_change", refund_fen=6000))
    late = _open(shop, make_order(shop), "return_refund")
    return ids, late.id


def _scenario() -> list[int]:
    with clock.frozen(T0):
        manual = make_shop(code="manual")
        instant = make_shop(code="instant", refund_gateway="instant")
        policy = make_shop(code="policy")
        update_policy(policy, deadline_hours={"awaiting_merchant": 12, "awaiting_buyer_return": 30})
        ruled = make_shop(code="ruled", refund_gateway="instant")
        save_rule(
            ruled,
            name="超时后打标",
            event="status_changed",
            conditions=[],
            actions=[{"type": "tag", "value": "自动"}],
        )
        no_address = make_shop(code="noaddr")
        ReturnAddress.objects.filter(shop=no_address).delete()
        review = make_shop(code="review", review_new_cases=True)
        ids, late = [], []
        for shop in (manual, instant, policy, ruled):
            some, one = _cases_of_every_deadline(shop)
            ids += some
            late.append(one)
        ids.append(_open(no_address, make_order(no_address), "return_refund").id)
        ids.append(_open(no_address, make_order(no_address), "refund_only").id)
        ids.append(_open(review, make_order(review), "return_refund").id)
        # A refund the manual shop has not confirmed yet: refunding → alert.
        c = _open(manual, make_order(manual), "refund_only")
        sv.agree(c.id, staff_actor(manual, "finance"))
        ids.append(c.id)
    # Spread the deadlines so "due order" is one order for both sweeps, and put the late
    # ones out of reach of the first sweep.
    for i, case_id in enumerate(ids):
        Case.objects.filter(pk=case_id, deadline_at__isnull=False).update(
            deadline_at=T0 + timedelta(hours=1, seconds=i)
        )
    Case.objects.filter(pk__in=late).update(deadline_at=T0 + timedelta(days=20))
    return ids + late


def _norm(value):
    if isinstance(value, str):
        return REF.sub("RF…", value)
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def _snapshot(ids: list[int]) -> dict:
    cases = {
        c["id"]: c
        for c in Case.objects.filter(pk__in=ids).values(
            "id",
            "status",
            "path",
            "deadline_at",
            "deadline_action",
            "is_open",
            "closed_at",
            "version",
            "flags",
            "tags",
            "priority",
            "proposal_kind",
            "proposal_refund_fen",
            "refund_fen",
            "return_address_id",
            "awaiting_finance",
            "auto_agreed_by_timeout",
            "updated_at",
        )
    }
    timeline: dict[int, list] = {}
    for e in TimelineEvent.objects.filter(case_id__in=ids).order_by("case_id", "at", "id"):
        timeline.setdefault(e.case_id, []).append(
            (
                e.at,
                e.actor_role,
                e.actor_label,
                e.action,
                e.from_status,
                e.to_status,
                e.rule_id,
                e.by_deadline,
                e.visibility,
                _norm(e.message),
                _norm(e.data),
            )
        )
    refunds = {
        r["case_id"]: r
        for r in RefundInstruction.objects.filter(case_id__in=ids).values(
            "case_id", "amount_fen", "status", "issued_at", "confirmed_at", "allocation"
        )
    }
    lines = dict(
        OrderLine.objects.filter(case_lines__case_id__in=ids).values_list("id", "refunded_fen")
    )
    case_lines = sorted(
        CaseLine.objects.filter(case_id__in=ids).values_list("case_id", "order_line_id", "is_open")
    )
    shipments = sorted(
        Shipment.objects.filter(case_id__in=ids).values_list("case_id", "direction", "delivered_at")
    )
    return {
        "cases": cases,
        "timeline": timeline,
        "refunds": refunds,
        "lines": lines,
        "case_lines": case_lines,
        "shipments": shipments,
    }


def _run(sweep, at: datetime, **kw) -> deadlines.SweepResult:
    with clock.frozen(at):
        return sweep(**kw)


def _both(ids, moments, **kw):
    """Sweep at each moment with the per-case services, snapshot, roll back; then again
    with the batch. Returns (per-case snapshots and results, batched ones)."""
    out = []
    for sweep in (deadlines.sweep_per_case, deadlines.sweep):
        snaps = []
        with transaction.atomic():
            for at in moments:
                result = _run(sweep, at, **kw)
                for shop in Shop.objects.all():
                    check_invariants(shop)
                snaps.append((_snapshot(ids), result.applied, result.failed, result.by_action))
            transaction.set_rollback(True)
        out.append(snaps)
    return out


def _assert_same(reference, batched):
    for (ref, r_applied, r_failed, r_by), (got, applied, failed, by) in zip(
        reference, batched, strict=True
    ):
        for key in ref:
            if key == "timeline" or key == "cases":
                for case_id in ref[key]:
                    assert got[key].get(case_id) == ref[key][case_id], (key, case_id)
            assert got[key] == ref[key], key
        assert (applied, failed, by) == (r_applied, r_failed, r_by)


@pytest.mark.django_db
def test_batched_sweep_matches_the_per_case_services():
    ids = _scenario()
    first, second = T0 + timedelta(days=11), T0 + timedelta(days=40)
    reference, batched = _both(ids, [first, second], batch_size=7)
    _assert_same(reference, batched)
    ref_first = reference[0]
    # The scenario reaches what it is meant to reach (so the comparison is not vacuous).
    _, applied, failed, by_action = ref_first
    assert set(by_action) == {
        "pass_review",
        "agree",
        "close_overdue",
        "confirm_receipt",
        "alert",
        "confirm_delivery",
        "expire_proposal",
    }
    assert failed == 5  # no return address (1) and a refund over what was paid (×4 shops)
    snap = ref_first[0]
    statuses = {c["status"] for c in snap["cases"].values()}
    assert {"refunding", "completed", "closed", "awaiting_buyer_return"} <= statuses
    assert any(r["status"] == "confirmed" for r in snap["refunds"].values())
    assert any(r["status"] == "issued" for r in snap["refunds"].values())
    assert any("自动" in c["tags"] for c in snap["cases"].values())
    assert any("deadline_failed" in c["flags"] for c in snap["cases"].values())
    assert any(d is not None for _, _, d in snap["shipments"])
    assert any(len(r["allocation"]) == 2 for r in snap["refunds"].values())
    second_snap = reference[1]
    assert second_snap[1] > 0  # the second sweep finds the deadlines the first one set


@pytest.mark.django_db
def test_batch_takes_the_cases_without_rules_itself():
    _scenario()
    with transaction.atomic():
        result = _run(deadlines.sweep, T0 + timedelta(days=11), batch_size=500)
        transaction.set_rollback(True)
    # Per case: the ruled shop's status changes and the refused ones; everything else
    # was written in bulk.
    assert result.batches == 1
    assert 0 < result.per_case < result.applied + result.failed
    assert result.per_case >= result.failed


@pytest.mark.django_db
def test_a_batch_that_fails_half_way_leaves_nothing_behind(monkeypatch):
    ids = _scenario()
    before = _snapshot(ids)
    calls = []

    def crash(*args, **kwargs):
        # By now the batch has written its cases and timeline events.
        calls.append(1)
        raise KeyboardInterrupt("worker killed")

    real = deadlines._increment_refunded
    monkeypatch.setattr(deadlines, "_increment_refunded", crash)
    with pytest.raises(KeyboardInterrupt):
        _run(deadlines.sweep, T0 + timedelta(days=11), batch_size=500)
    assert calls
    assert _snapshot(ids) == before
    monkeypatch.setattr(deadlines, "_increment_refunded", real)
    result = _run(deadlines.sweep, T0 + timedelta(days=11), batch_size=500)
    assert result.applied > 0
    assert Case.objects.filter(pk__in=ids, deadline_at__lte=T0 + timedelta(days=11)).count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_apply_each_case_once():
    with clock.frozen(T0):
        shops = [make_shop(code=f"race{i}") for i in range(2)]
        ids, pairs = [], []
        for shop in shops:
            for _ in range(60):
                ids.append(_open(shop, make_order(shop), "refund_only").id)
            # Two refunds competing for one line: only one may be paid.
            for _ in range(20):
                o = make_order(shop, lines=[(1, 10000)])
                a = _open(shop, o, "refund_only", refund_fen=6000)
                b = _open(shop, o, "price_protect", "price_change", refund_fen=6000)
                ids += [a.id, b.id]
                pairs.append(o.lines.get().id)
    at = T0 + timedelta(days=11)
    results: list[deadlines.SweepResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            results.append(deadlines.sweep(batch_size=15))
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    # Frozen for the whole process (both threads), not per thread.
    with clock.frozen(at):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert sum(r.applied + r.failed for r in results) == len(ids)
    deadline_events = TimelineEvent.objects.filter(case_id__in=ids, by_deadline=True)
    agrees = deadline_events.filter(action="agree")
    assert agrees.count() == agrees.values("case_id").distinct().count()
    assert agrees.count() == sum(r.applied for r in results)
    refunds = RefundInstruction.objects.filter(case_id__in=ids)
    assert refunds.count() == agrees.count()
    for line in OrderLine.objects.filter(id__in=pairs):
        assert line.refunded_fen == 6000  # one of the pair, never both
    assert sum(r.failed for r in results) == len(pairs)
    for shop in shops:
        check_invariants(shop)
    assert connection.vendor == "postgresql"
