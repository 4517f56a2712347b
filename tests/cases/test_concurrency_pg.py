"""PRODUCT.md §2's invariants under real concurrency, on PostgreSQL.

Each race starts its contenders on separate threads — separate database connections — held
at a barrier so they really collide on the same rows; each thread closes its own connection.
Every race is run several rounds, and every round ends with the full invariant check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest
from django.db import connection

from shouhou.cases import deadlines, services
from shouhou.cases import lifecycle as lc
from shouhou.cases.models import Case, CaseLine, RefundInstruction, RefundStatus, TimelineEvent
from shouhou.cases.policies import update_policy
from shouhou.core.errors import ShouhouError
from shouhou.orders.models import OrderLine
from shouhou.rules.services import save_rule
from tests.cases.support import Staff, check_invariants, open_case
from tests.factories import buyer, make_order, make_shop

S = lc.Status
ROUNDS = 5
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*contenders: Callable[[], object]) -> list[object]:
    """Run the callables at once; each result is its return value or the exception raised."""
    barrier = threading.Barrier(len(contenders))
    results: list[object] = [None] * len(contenders)

    def run(i: int, fn: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 — reported to the test thread
            results[i] = exc
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a contender hung (deadlock?)"
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, ShouhouError):
            raise r
    return results


def codes(results: list[object]) -> list[str]:
    return sorted(r.code if isinstance(r, ShouhouError) else "ok" for r in results)


@pytest.fixture(autouse=True)
def hold_locks_a_little(monkeypatch):
    """Widen the race: right after a service has locked its rows (the case, or the order
    lines when opening) it pauses, so the other contender is sure to be blocked on the lock
    rather than arriving after the winner committed."""

    def slowed(fn):
        def wrapper(*args, **kwargs):
            out = fn(*args, **kwargs)
            time.sleep(0.03)
            return out

        return wrapper

    monkeypatch.setattr(services, "_check_version", slowed(services._check_version))
    monkeypatch.setattr(services, "_price_lines", slowed(services._price_lines))


@pytest.fixture
def shop():
    return make_shop()


@pytest.fixture
def staff(shop):
    return Staff.of(shop)


def test_two_agents_agree_with_the_same_version(shop, staff):
    for _ in range(ROUNDS):
        order = make_order(shop, lines=[(1, 5000)])
        case = open_case(shop, order, "refund_only")
        v = case.version
        results = race(
            partial(services.agree, case.id, staff.agent, expected_version=v),
            partial(services.agree, case.id, staff.admin, expected_version=v),
        )
        assert codes(results) == ["case_conflict", "ok"]
        assert RefundInstruction.objects.filter(case=case).count() == 1
        assert OrderLine.objects.get(order=order).refunded_fen == 5000
        assert TimelineEvent.objects.filter(case=case, action="agree").count() == 1
    check_invariants(shop)


def test_agree_against_reject(shop, staff):
    winners = set()
    for i in range(ROUNDS * 2):
        order = make_order(shop, lines=[(1, 5000)])
        case = open_case(shop, order, "refund_only")
        # Half the rounds with the version both saw, half without any.
        v = case.version if i % 2 == 0 else None
        results = race(
            partial(services.agree, case.id, staff.agent, expected_version=v),
            partial(services.reject, case.id, staff.admin, reason="不同意", expected_version=v),
        )
        loser = "case_conflict" if v is not None else "action_not_allowed"
        assert codes(results) == [loser, "ok"]
        case.refresh_from_db()
        assert case.status in {S.REFUNDING, S.REJECTED}
        winners.add(case.status)
        assert RefundInstruction.objects.filter(case=case).exists() == (case.status == S.REFUNDING)
        check_invariants(shop)


def test_two_finance_approvals_issue_one_refund(shop, staff):
    update_policy(shop, finance_approval_limit_fen=1000)
    for _ in range(ROUNDS):
        order = make_order(shop, lines=[(1, 5000)])
        case = services.agree(open_case(shop, order, "refund_only").id, staff.agent)
        assert case.awaiting_finance
        finance2 = Staff.of(shop).finance
        results = race(
            partial(services.agree, case.id, staff.finance),
            partial(services.agree, case.id, finance2),
        )
        assert codes(results) == ["action_not_allowed", "ok"]
        assert RefundInstruction.objects.filter(case=case).count() == 1
        assert OrderLine.objects.get(order=order).refunded_fen == 5000
    check_invariants(shop)


def test_two_system_agrees_issue_one_refund(shop, staff):
    for _ in range(ROUNDS):
        order = make_order(shop, lines=[(1, 5000)])
        case = open_case(shop, order, "refund_only")
        results = race(
            partial(services.agree, case.id, staff.system),
            partial(services.agree, case.id, staff.system),
            partial(services.agree, case.id, staff.integration),
        )
        assert codes(results) == ["action_not_allowed", "action_not_allowed", "ok"]
        assert RefundInstruction.objects.filter(case=case).count() == 1
        assert OrderLine.objects.get(order=order).refunded_fen == 5000
    check_invariants(shop)


def test_two_receipt_confirmations_issue_one_refund(shop, staff):
    for _ in range(ROUNDS):
        order = make_order(shop, lines=[(1, 7000)])
        case = services.agree(open_case(shop, order, "return_refund").id, staff.agent)
        services.ship_return(case.id, buyer(order), carrier="顺丰", tracking_no="SF12345678")
        results = race(
            partial(services.confirm_receipt, case.id, staff.warehouse),
            partial(services.confirm_receipt, case.id, staff.integration),
        )
        assert codes(results) == ["action_not_allowed", "ok"]
        assert RefundInstruction.objects.filter(case=case).count() == 1
        assert OrderLine.objects.get(order=order).refunded_fen == 7000
    check_invariants(shop)


def test_duplicate_payment_webhooks_confirm_once(shop, staff):
    for _ in range(ROUNDS):
        order = make_order(shop, lines=[(1, 7000)])
        case = services.agree(open_case(shop, order, "refund_only").id, staff.agent)
        results = race(
            partial(services.confirm_refund, case.id, staff.integration),
            partial(services.confirm_refund, case.id, staff.integration),
        )
        assert codes(results) == ["action_not_allowed", "ok"]
        refund = RefundInstruction.objects.get(case=case)
        assert refund.status == RefundStatus.CONFIRMED
        assert TimelineEvent.objects.filter(case=case, action="confirm_refund").count() == 1
    check_invariants(shop)


def test_two_applications_on_the_same_line_and_type(shop):
    for _ in range(ROUNDS):
        order = make_order(shop, lines=[(2, 5000)])
        results = race(
            partial(open_case, shop, order, "return_refund"),
            partial(open_case, shop, order, "return_refund"),
            partial(
                open_case,
                shop,
                order,
                "return_refund",
                actor=Staff.of(shop).integration,
                quantity=2,
            ),
        )
        assert codes(results) == ["case_already_open", "case_already_open", "ok"]
        assert Case.objects.filter(order=order, is_open=True).count() == 1
        assert CaseLine.objects.filter(order_line__order=order, is_open=True).count() == 1
    check_invariants(shop)


def test_two_cases_refunding_one_line_never_exceed_what_was_paid(shop, staff):
    for i in range(ROUNDS):
        order = make_order(shop, lines=[(1, 5000)])
        full = open_case(shop, order, "refund_only")  # 5000
        diff = open_case(shop, order, "price_protect", refund_fen=800)
        both = (  # alternate which thread starts first
            partial(services.agree, full.id, staff.agent),
            partial(services.agree, diff.id, staff.admin),
        )
        results = race(*(both if i % 2 else reversed(both)))
        assert codes(results) == ["ok", "refund_exceeds_paid"]
        line = OrderLine.objects.get(order=order)
        assert line.refunded_fen in {5000, 800}
        assert RefundInstruction.objects.filter(case__order=order).count() == 1
    check_invariants(shop)


def test_two_multi_line_cases_refunding_crossed_lines(shop, staff):
    for _ in range(ROUNDS):
        order = make_order(shop, lines=[(1, 3000), (1, 3000)])
        l1, l2 = order.lines.order_by("id")
        a = services.open_case(
            shop,
            buyer(order),
            order=order,
            type="refund_only",
            reason="quality",
            lines=[services.LineRequest(l2.id, 1), services.LineRequest(l1.id, 1)],
            refund_fen=4000,
        )
        b = services.open_case(
            shop,
            buyer(order),
            order=order,
            type="price_protect",
            reason="price_change",
            lines=[services.LineRequest(l1.id, 1), services.LineRequest(l2.id, 1)],
            refund_fen=3000,
        )
        results = race(
            partial(services.agree, a.id, staff.agent),
            partial(services.agree, b.id, staff.admin),
        )
        assert codes(results) == ["ok", "refund_exceeds_paid"]
        paid = {ol.id: (ol.paid_fen, ol.refunded_fen) for ol in order.lines.all()}
        assert all(refunded <= p for p, refunded in paid.values())
        assert sum(r for _, r in paid.values()) <= 6000
        check_invariants(shop)


def test_two_sweeps_act_on_each_due_case_once(tick):
    shops = [make_shop(), make_shop()]
    # The second shop has a status_changed rule, so its cases take the per-case path.
    save_rule(
        shops[1],
        name="打标",
        event="status_changed",
        conditions=[],
        actions=[{"type": "tag", "value": "超时"}],
    )
    cases = []
    for s in shops:
        for _ in range(12):
            order = make_order(s, lines=[(1, 5000), (1, 2000)])
            l1, l2 = order.lines.order_by("id")
            cases.append(open_case(s, order, "refund_only", line=l1))
            cases.append(open_case(s, order, "return_refund", line=l2))
    tick.advance(timedelta(hours=72))
    results = race(
        partial(deadlines.sweep, batch_size=5),
        partial(deadlines.sweep, batch_size=5),
        partial(deadlines.sweep, batch_size=7),
    )
    assert sum(r.applied for r in results) == len(cases)
    assert sum(r.failed for r in results) == 0
    for case in cases:
        agrees = TimelineEvent.objects.filter(case_id=case.id, action="agree", by_deadline=True)
        assert agrees.count() == 1, case.id
    assert RefundInstruction.objects.count() == len(cases) // 2
    assert deadlines.sweep().applied == 0
    for s in shops:
        check_invariants(s)


def test_a_person_and_the_sweep_at_once(shop, staff, tick):
    for _ in range(ROUNDS):
        case = open_case(shop, make_order(shop), "refund_only")
        tick.advance(timedelta(hours=72))  # due, and the agent may still agree (same action)
        agent, sweep = race(
            partial(services.agree, case.id, staff.agent),
            partial(deadlines.sweep, batch_size=5),
        )
        # Whoever locked the case first agreed; the other found nothing left to do.
        if isinstance(agent, ShouhouError):
            assert agent.code == "action_not_allowed" and sweep.by_action.get("agree") == 1
        else:
            assert "agree" not in sweep.by_action  # (earlier rounds' refunds may alert)
        assert TimelineEvent.objects.filter(case_id=case.id, action="agree").count() == 1
        assert RefundInstruction.objects.filter(case_id=case.id).count() == 1
    check_invariants(shop)


def test_reopen_against_a_new_application_on_the_same_line(shop):
    for _ in range(ROUNDS):
        order = make_order(shop, lines=[(1, 5000)])
        closed = open_case(shop, order, "refund_only")
        services.cancel(closed.id, buyer(order))
        results = race(
            partial(services.reopen, closed.id, buyer(order)),
            partial(open_case, shop, order, "refund_only"),
        )
        assert codes(results) == ["case_already_open", "ok"]
        assert Case.objects.filter(order=order, is_open=True).count() == 1
    check_invariants(shop)


def test_double_rating(shop, staff):
    order = make_order(shop)
    case = services.cancel(open_case(shop, order, "refund_only").id, buyer(order))
    results = race(
        partial(services.rate, case.id, buyer(order), speed=5, satisfaction=5),
        partial(services.rate, case.id, buyer(order), speed=1, satisfaction=1),
    )
    assert codes(results) == ["already_rated", "ok"]
    check_invariants(shop)


def test_duplicate_carrier_pushes_and_the_warehouse_refund_once(shop, staff):
    from shouhou.rules.services import set_template_enabled

    set_template_enabled(shop, "auto_refund_on_return_delivered", True)
    for i in range(ROUNDS):
        order = make_order(shop, lines=[(1, 6600)])
        case = services.agree(open_case(shop, order, "return_refund").id, staff.agent)
        tracking = f"SF{9000000 + i}"
        services.ship_return(case.id, buyer(order), carrier="顺丰", tracking_no=tracking)
        push = partial(
            services.record_parcel_delivered,
            shop,
            staff.integration,
            carrier="顺丰",
            tracking_no=tracking,
        )
        results = race(push, push, partial(services.confirm_receipt, case.id, staff.warehouse))
        assert all(
            not isinstance(r, ShouhouError) or r.code == "action_not_allowed" for r in results
        )
        case.refresh_from_db()
        assert case.status == S.REFUNDING
        assert RefundInstruction.objects.filter(case=case).count() == 1
        assert OrderLine.objects.get(order=order).refunded_fen == 6600
        assert TimelineEvent.objects.filter(case=case, action="confirm_receipt").count() == 1
        assert TimelineEvent.objects.filter(case=case, action="parcel_delivered").count() <= 1
    check_invariants(shop)
