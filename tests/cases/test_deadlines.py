"""The deadline sweep (cases/deadlines.py): every status's timeout action, cases people got
to first, a case that cannot move, and a worker killed in the middle of a batch."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shouhou.cases import deadlines, services
from shouhou.cases import lifecycle as lc
from shouhou.cases.models import Case, RefundInstruction, ReturnAddress, TimelineEvent
from shouhou.cases.policies import update_policy
from shouhou.orders.models import OrderStatus
from shouhou.rules.services import save_rule
from tests.cases.support import check_invariants, open_case, snapshot
from tests.factories import buyer, make_order, make_shop

S = lc.Status
pytestmark = pytest.mark.django_db


def swept(case: Case) -> list[TimelineEvent]:
    return list(case.timeline.filter(by_deadline=True).order_by("at", "id"))


def reload(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def just_before_and_after(tick, case: Case):
    """Sweep a second before the deadline (nothing happens), then at it."""
    case = reload(case)
    tick.at = case.deadline_at - timedelta(seconds=1)
    before = snapshot(case.shop)
    result = deadlines.sweep()
    assert result.applied == 0 and snapshot(case.shop) == before
    tick.at = case.deadline_at
    deadlines.sweep()
    return reload(case)


@pytest.fixture
def tick(tick):
    # Let tests assign `tick.at` directly and have the frozen clock follow.
    from shouhou.core import clock

    class Settable:
        @property
        def at(self):
            return tick.at

        @at.setter
        def at(self, value):
            tick.at = value
            clock._override["frozen"] = value

        def advance(self, delta):
            return tick.advance(delta)

    return Settable()


# --- each status's timeout -----------------------------------------------------------------------
def test_submitted_passes_to_the_shop_after_48_hours(shop, tick):
    shop.review_new_cases = True
    shop.save()
    case = open_case(shop, make_order(shop), "return_refund")
    case = just_before_and_after(tick, case)
    assert case.status == S.AWAITING_MERCHANT
    [event] = swept(case)
    assert (event.action, event.actor_role, event.actor_label) == (
        "pass_review",
        "system",
        "系统（超时）",
    )
    check_invariants(shop)


@pytest.mark.parametrize(
    "case_type, shipped, hours, after",
    [
        ("refund_only", True, 72, S.REFUNDING),
        ("refund_only", False, 24, S.REFUNDING),
        ("return_refund", True, 72, S.AWAITING_BUYER_RETURN),
        ("exchange", True, 72, S.AWAITING_BUYER_RETURN),
        ("reship", True, 72, S.AWAITING_MERCHANT_SHIPMENT),
        ("price_protect", True, 72, S.REFUNDING),
    ],
)
def test_shop_silence_auto_agrees(shop, tick, case_type, shipped, hours, after):
    order = make_order(shop, status=OrderStatus.DELIVERED if shipped else OrderStatus.PAID)
    reason = None if shipped else "changed_mind_unshipped"
    case = open_case(shop, order, case_type, reason=reason)
    assert case.deadline_at == tick.at + timedelta(hours=hours)
    case = just_before_and_after(tick, case)
    assert case.status == after
    assert case.auto_agreed_by_timeout
    assert [e.action for e in swept(case)][0] == "agree"
    assert RefundInstruction.objects.filter(case=case).exists() == (after == S.REFUNDING)
    check_invariants(shop)


def test_timeout_agree_skips_finance_approval(shop, staff, tick):
    update_policy(shop, finance_approval_limit_fen=1000)
    case = open_case(shop, make_order(shop), "refund_only")
    case = services.agree(case.id, staff.agent)
    assert case.awaiting_finance
    case = just_before_and_after(tick, case)
    assert case.status == S.REFUNDING and not case.awaiting_finance
    check_invariants(shop)


def test_buyer_who_never_ships_the_return_is_closed_after_7_days(shop, staff, tick):
    case = services.agree(open_case(shop, make_order(shop), "return_refund").id, staff.agent)
    assert case.deadline_at == tick.at + timedelta(days=7)
    case = just_before_and_after(tick, case)
    assert case.status == S.CLOSED and not case.is_open
    assert [e.action for e in swept(case)] == ["close_overdue"]
    check_invariants(shop)


@pytest.mark.parametrize(
    "case_type, after", [("return_refund", S.REFUNDING), ("exchange", S.AWAITING_MERCHANT_SHIPMENT)]
)
def test_unconfirmed_return_is_received_10_days_after_shipping(shop, staff, tick, case_type, after):
    order = make_order(shop)
    case = services.agree(open_case(shop, order, case_type).id, staff.agent)
    tick.advance(timedelta(days=3))
    case = services.ship_return(case.id, buyer(order), carrier="顺丰", tracking_no="SF55555555")
    assert case.deadline_at == tick.at + timedelta(days=10)
    case = just_before_and_after(tick, case)
    assert case.status == after
    assert case.shipments.get().delivered_at is not None
    check_invariants(shop)


def test_shop_slow_to_ship_is_escalated_and_alerted(shop, staff, tick):
    case = services.agree(open_case(shop, make_order(shop), "reship").id, staff.agent)
    case = just_before_and_after(tick, case)
    assert case.status == S.AWAITING_MERCHANT_SHIPMENT
    assert {"overdue", "escalated"} <= set(case.flags) and case.priority == 2
    assert case.deadline_at is None  # an alert fires once
    tick.advance(timedelta(days=30))
    assert deadlines.sweep().applied == 0
    # The shop can still ship.
    services.ship_replacement(case.id, staff.warehouse, carrier="顺丰", tracking_no="SF1234567")
    check_invariants(shop)


def test_buyer_who_never_confirms_delivery_completes_after_10_days(shop, staff, tick):
    order = make_order(shop)
    case = services.agree(open_case(shop, order, "reship").id, staff.agent)
    case = services.ship_replacement(case.id, staff.agent, carrier="顺丰", tracking_no="SF1234567")
    case = just_before_and_after(tick, case)
    assert case.status == S.COMPLETED
    check_invariants(shop)


def test_unanswered_proposal_goes_back_to_the_shop_flagged(shop, staff, tick):
    case = open_case(shop, make_order(shop), "return_refund")
    case = services.propose(case.id, staff.agent, kind="coupon")
    case = just_before_and_after(tick, case)
    assert case.status == S.AWAITING_MERCHANT
    assert "proposal_expired" in case.flags and case.proposal_kind == ""
    assert case.deadline_action == "agree"
    check_invariants(shop)


def test_rejected_case_the_buyer_leaves_closes_after_5_days(shop, staff, tick):
    case = open_case(shop, make_order(shop), "refund_only")
    case = services.reject(case.id, staff.agent, reason="不同意")
    case = just_before_and_after(tick, case)
    assert case.status == S.CLOSED
    check_invariants(shop)


def test_arbitration_and_refunding_only_alert(shop, staff, tick):
    order = make_order(shop, lines=[(1, 1000), (1, 1000)])
    l1, l2 = order.lines.order_by("id")
    arb = services.reject(
        open_case(shop, order, "refund_only", line=l1).id, staff.agent, reason="x"
    )
    arb = services.escalate(arb.id, buyer(order))
    ref = services.agree(open_case(shop, order, "refund_only", line=l2).id, staff.agent)
    assert ref.deadline_at == tick.at + timedelta(hours=24)
    ref = just_before_and_after(tick, ref)
    assert ref.status == S.REFUNDING and "overdue" in ref.flags and ref.deadline_at is None
    arb = just_before_and_after(tick, arb)
    assert arb.status == S.IN_ARBITRATION and "overdue" in arb.flags and arb.deadline_at is None
    check_invariants(shop)


def test_shop_deadline_hours_override(shop, tick):
    update_policy(shop, deadline_hours={"awaiting_merchant": 12})
    case = open_case(shop, make_order(shop), "refund_only")
    assert case.deadline_at == tick.at + timedelta(hours=12)
    case = just_before_and_after(tick, case)
    assert case.status == S.REFUNDING


# --- people first, failures, many cases ---------------------------------------------------------
def test_a_case_acted_on_before_the_sweep_is_not_touched(shop, staff, tick):
    order = make_order(shop, lines=[(1, 1000), (1, 1000)])
    l1, l2 = order.lines.order_by("id")
    handled = open_case(shop, order, "refund_only", line=l1)
    left = open_case(shop, order, "refund_only", line=l2)
    tick.advance(timedelta(hours=71))
    services.reject(handled.id, staff.agent, reason="缺少凭证")
    tick.advance(timedelta(hours=2))
    result = deadlines.sweep()
    assert result.applied == 1
    handled, left = reload(handled), reload(left)
    assert handled.status == S.REJECTED and swept(handled) == []
    assert left.status == S.REFUNDING
    check_invariants(shop)


def test_a_failing_case_is_parked_and_does_not_block_the_others(tick):
    broken = make_shop()
    ReturnAddress.objects.filter(shop=broken).delete()
    fine = make_shop()
    stuck = open_case(broken, make_order(broken), "return_refund")
    others = [open_case(fine, make_order(fine), "return_refund") for _ in range(4)]
    tick.advance(timedelta(hours=72))
    result = deadlines.sweep(batch_size=2)
    assert result.failed == 1 and result.applied == 4
    stuck = reload(stuck)
    assert stuck.status == S.AWAITING_MERCHANT and "deadline_failed" in stuck.flags
    assert stuck.deadline_at == tick.at + timedelta(hours=1)
    [note] = stuck.timeline.filter(action="rule_fired")
    assert "退货地址" in note.message and note.visibility == "internal"
    assert all(reload(c).status == S.AWAITING_BUYER_RETURN for c in others)
    # Not retried before its new time; retried (and parked again, once flagged) after.
    assert deadlines.sweep().failed == 0
    tick.advance(timedelta(hours=1))
    assert deadlines.sweep().failed == 1
    assert reload(stuck).flags.count("deadline_failed") == 1
    # Once the shop adds an address the next try goes through.
    ReturnAddress.objects.create(
        shop=broken,
        label="新仓",
        contact_name="李",
        phone="13800000000",
        address="x",
        is_default=True,
    )
    tick.advance(timedelta(hours=1))
    assert deadlines.sweep().applied == 1
    assert reload(stuck).status == S.AWAITING_BUYER_RETURN
    check_invariants(broken)
    check_invariants(fine)


def test_refunds_that_no_longer_fit_are_parked_not_overpaid(shop, staff, tick):
    order = make_order(shop, lines=[(1, 5000)])
    full = open_case(shop, order, "refund_only")
    diff = open_case(shop, order, "price_protect", refund_fen=800)
    services.agree(diff.id, staff.agent)
    tick.advance(timedelta(hours=72))
    result = deadlines.sweep()
    assert result.failed == 1
    full = reload(full)
    assert full.status == S.AWAITING_MERCHANT and "deadline_failed" in full.flags
    assert order.lines.get().refunded_fen == 800
    check_invariants(shop)


def test_a_big_backlog_is_applied_once_each_across_batches(shop, tick):
    orders = [make_order(shop) for _ in range(12)]
    cases = [open_case(shop, o, t) for o in orders for t in ("refund_only", "return_refund")]
    tick.advance(timedelta(hours=72))
    result = deadlines.sweep(batch_size=5)
    assert result.applied == len(cases) and result.batches >= 5
    for case in cases:
        assert [e.action for e in swept(reload(case)) if e.from_status != e.to_status][0] == "agree"
        assert len([e for e in swept(reload(case)) if e.action == "agree"]) == 1
    assert deadlines.sweep().applied == 0
    check_invariants(shop)


# --- a worker killed mid-batch -------------------------------------------------------------------
def _due_cases(shop, n: int) -> list[Case]:
    return [open_case(shop, make_order(shop), "refund_only") for _ in range(n)]


def _agreed_once_each(cases: list[Case]) -> None:
    for case in cases:
        agrees = TimelineEvent.objects.filter(case_id=case.id, action="agree", by_deadline=True)
        assert agrees.count() == 1, case.id
        assert RefundInstruction.objects.filter(case_id=case.id).count() == 1
        assert reload(case).status == S.REFUNDING


@pytest.mark.django_db(transaction=True)
def test_killed_mid_batch_in_the_per_case_path_rolls_back_and_the_next_sweep_finishes(
    monkeypatch, tick
):
    shop = make_shop()
    # A status_changed rule makes the sweep take each case through the services (apply_due).
    save_rule(
        shop,
        name="超时同意后打标",
        event="status_changed",
        conditions=[],
        actions=[{"type": "tag", "value": "已处理"}],
    )
    cases = _due_cases(shop, 6)
    tick.advance(timedelta(hours=72))
    before = snapshot(shop)
    real, calls = deadlines.apply_due, []

    def dies_on_the_fourth(case_id, now):
        calls.append(case_id)
        if len(calls) == 4:
            raise KeyboardInterrupt("worker killed")
        return real(case_id, now)

    monkeypatch.setattr(deadlines, "apply_due", dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        deadlines.sweep(batch_size=10)
    assert len(calls) == 4
    assert snapshot(shop) == before  # three cases were done in the batch: all undone
    monkeypatch.setattr(deadlines, "apply_due", real)
    result = deadlines.sweep(batch_size=10)
    assert result.applied == 6
    _agreed_once_each(cases)
    check_invariants(shop)


@pytest.mark.django_db(transaction=True)
def test_killed_after_the_batch_wrote_rolls_back_and_the_next_sweep_finishes(monkeypatch, tick):
    shop = make_shop()
    cases = _due_cases(shop, 6)
    tick.advance(timedelta(hours=72))
    before = snapshot(shop)
    write = deadlines._write

    def writes_then_dies(*args, **kwargs):
        write(*args, **kwargs)
        raise KeyboardInterrupt("worker killed after writing")

    monkeypatch.setattr(deadlines, "_write", writes_then_dies)
    with pytest.raises(KeyboardInterrupt):
        deadlines.sweep(batch_size=4)
    assert snapshot(shop) == before
    monkeypatch.setattr(deadlines, "_write", write)
    assert deadlines.sweep(batch_size=4).applied == 6
    _agreed_once_each(cases)
    check_invariants(shop)


@pytest.mark.django_db(transaction=True)
def test_killed_in_a_later_batch_keeps_the_batches_already_committed(monkeypatch, tick):
    shop = make_shop()
    cases = _due_cases(shop, 6)
    tick.advance(timedelta(hours=72))
    write, calls = deadlines._write, []

    def dies_in_the_second_batch(*args, **kwargs):
        calls.append(1)
        write(*args, **kwargs)
        if len(calls) == 2:
            raise KeyboardInterrupt("worker killed")

    monkeypatch.setattr(deadlines, "_write", dies_in_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        deadlines.sweep(batch_size=3)
    done = [c for c in cases if reload(c).status == S.REFUNDING]
    assert len(done) == 3  # the first batch committed, the second rolled back
    monkeypatch.setattr(deadlines, "_write", write)
    assert deadlines.sweep(batch_size=3).applied == 3
    _agreed_once_each(cases)
    check_invariants(shop)
