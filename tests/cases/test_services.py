"""Every case service (cases/services.py), as a buyer and a shop would live it.

Happy paths for all six types, proposals, rejection and arbitration, cancel, reopen,
rating, finance approval, the instant refund gateway, and every refusal with its stable
code and nothing half-written.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shouhou.cases import lifecycle as lc
from shouhou.cases import services
from shouhou.cases.actors import Actor
from shouhou.cases.models import (
    Case,
    CaseLine,
    CaseRating,
    RefundInstruction,
    RefundStatus,
    ReturnAddress,
    TimelineEvent,
)
from shouhou.cases.policies import update_policy
from shouhou.core.errors import ShouhouError
from shouhou.core.models import RefundGateway
from shouhou.orders.models import OrderLine, OrderStatus, Shipment, ShipmentDirection
from tests.cases.support import check_invariants, open_case, snapshot, status_events
from tests.factories import buyer, make_customer, make_order

S = lc.Status
pytestmark = pytest.mark.django_db


def refused(code: str, shop, fn, *args, **kwargs) -> ShouhouError:
    """Call fn, expect ShouhouError(code), and prove nothing was written."""
    before = snapshot(shop)
    with pytest.raises(ShouhouError) as exc:
        fn(*args, **kwargs)
    assert exc.value.code == code, exc.value.as_dict()
    assert snapshot(shop) == before
    return exc.value


def actions(case: Case) -> list[str]:
    return list(case.timeline.order_by("at", "id").values_list("action", flat=True))


def refunded(order) -> int:
    return sum(order.lines.values_list("refunded_fen", flat=True))


# --- happy paths, one per type ------------------------------------------------------------------
def test_refund_only(shop, staff, tick):
    order = make_order(shop, lines=[(2, 5000)])
    case = open_case(shop, order, "refund_only")
    assert case.status == S.AWAITING_MERCHANT
    assert case.requested_refund_fen == case.refund_fen == 5000  # the paid share of 1 of 2
    assert case.deadline_at == tick.at + timedelta(hours=72)  # shipped: 72 h
    assert case.deadline_action == "agree"

    case = services.agree(case.id, staff.agent, expected_version=case.version)
    assert case.status == S.REFUNDING
    refund = RefundInstruction.objects.get(case=case)
    assert refund.amount_fen == 5000 and refund.status == RefundStatus.ISSUED
    assert refund.allocation == {str(order.lines.get().id): 5000}
    assert refunded(order) == 5000

    case = services.confirm_refund(case.id, staff.finance)
    assert case.status == S.COMPLETED and not case.is_open and case.deadline_at is None
    refund.refresh_from_db()
    assert refund.status == RefundStatus.CONFIRMED and refund.confirmed_at == tick.at
    assert actions(case) == ["open", "agree", "refund_issued", "confirm_refund"]
    check_invariants(shop)


def test_unshipped_refund_only_gets_24_hours(shop, tick):
    order = make_order(shop, status=OrderStatus.PAID)
    case = open_case(shop, order, "refund_only", reason="changed_mind_unshipped")
    assert case.deadline_at == tick.at + timedelta(hours=24)


def test_return_refund(shop, staff, tick):
    order = make_order(shop, lines=[(1, 8800)])
    case = open_case(shop, order, "return_refund")
    case = services.agree(case.id, staff.agent)
    assert case.status == S.AWAITING_BUYER_RETURN
    assert case.return_address == ReturnAddress.objects.get(shop=shop, is_default=True)
    assert case.deadline_at == tick.at + timedelta(days=7)
    assert not RefundInstruction.objects.filter(case=case).exists()

    tick.advance(timedelta(days=2))
    case = services.ship_return(case.id, buyer(order), carrier="顺丰", tracking_no="sf1234567890")
    assert case.status == S.AWAITING_MERCHANT_RECEIPT
    assert case.deadline_at == tick.at + timedelta(days=10)  # counted from the buyer's shipping
    shipment = Shipment.objects.get(case=case)
    assert shipment.direction == ShipmentDirection.RETURN
    assert shipment.tracking_no == "SF1234567890"

    case = services.confirm_receipt(case.id, staff.warehouse, note="完好")
    assert case.status == S.REFUNDING
    shipment.refresh_from_db()
    assert shipment.delivered_at == tick.at
    case = services.confirm_refund(case.id, staff.integration)
    assert case.status == S.COMPLETED
    assert refunded(order) == 8800
    check_invariants(shop)


@pytest.mark.parametrize("case_type", ["exchange", "repair"])
def test_exchange_and_repair(shop, staff, case_type):
    order = make_order(shop)
    case = open_case(shop, order, case_type)
    assert case.refund_fen == 0
    case = services.agree(case.id, staff.agent)
    assert case.status == S.AWAITING_BUYER_RETURN
    case = services.ship_return(case.id, buyer(order), carrier="中通", tracking_no="ZT0000001")
    case = services.confirm_receipt(case.id, staff.warehouse)
    assert case.status == S.AWAITING_MERCHANT_SHIPMENT
    assert case.deadline_action == "alert"
    case = services.ship_replacement(case.id, staff.warehouse, carrier="中通", tracking_no="ZT0002")
    assert case.status == S.AWAITING_BUYER_RECEIPT
    case = services.confirm_delivery(case.id, buyer(order))
    assert case.status == S.COMPLETED
    assert not RefundInstruction.objects.filter(case=case).exists()
    assert refunded(order) == 0
    assert sorted(Shipment.objects.filter(case=case).values_list("direction", flat=True)) == [
        "replacement",
        "return",
    ]
    check_invariants(shop)


def test_reship(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "reship")
    case = services.agree(case.id, staff.agent)
    assert case.status == S.AWAITING_MERCHANT_SHIPMENT
    assert case.return_address is None
    case = services.ship_replacement(case.id, staff.agent, carrier="韵达", tracking_no="YD123456")
    case = services.confirm_delivery(case.id, buyer(order))
    assert case.status == S.COMPLETED
    check_invariants(shop)


def test_price_protect_refunds_the_difference_only(shop, staff):
    order = make_order(shop, lines=[(2, 5000)])
    case = open_case(shop, order, "price_protect", quantity=2, refund_fen=1200)
    assert case.refund_fen == 1200
    case = services.agree(case.id, staff.agent)
    assert case.status == S.REFUNDING
    assert RefundInstruction.objects.get(case=case).amount_fen == 1200
    services.confirm_refund(case.id, staff.finance)
    assert refunded(order) == 1200
    check_invariants(shop)


def test_price_protect_needs_an_amount(shop):
    order = make_order(shop)
    line = order.lines.get()
    refused(
        "validation_error",
        shop,
        services.open_case,
        shop,
        buyer(order),
        order=order,
        type="price_protect",
        reason="price_change",
        lines=[services.LineRequest(line.id, 1)],
    )


def test_agree_for_less_than_requested(shop, staff):
    order = make_order(shop, lines=[(1, 9900)])
    case = open_case(shop, order, "refund_only")
    refused("refund_exceeds_paid", shop, services.agree, case.id, staff.agent, refund_fen=9901)
    refused("refund_exceeds_paid", shop, services.agree, case.id, staff.agent, refund_fen=0)
    case = services.agree(case.id, staff.agent, refund_fen=6000)
    assert RefundInstruction.objects.get(case=case).amount_fen == 6000
    assert refunded(order) == 6000
    check_invariants(shop)


def test_multi_line_refund_only_allocates_per_line(shop, staff):
    order = make_order(shop, lines=[(1, 3000), (2, 2000)])
    l1, l2 = order.lines.order_by("id")
    case = services.open_case(
        shop,
        buyer(order),
        order=order,
        type="refund_only",
        reason="quality",
        lines=[services.LineRequest(l1.id, 1), services.LineRequest(l2.id, 2)],
    )
    assert case.refund_fen == 7000
    services.agree(case.id, staff.agent)
    l1.refresh_from_db()
    l2.refresh_from_db()
    assert (l1.refunded_fen, l2.refunded_fen) == (3000, 4000)
    check_invariants(shop)


def test_review_then_pass_or_dismiss(shop, staff):
    shop.review_new_cases = True
    shop.save()
    order = make_order(shop, lines=[(2, 1000)])
    case = open_case(shop, order, "refund_only")
    assert case.status == S.SUBMITTED and case.deadline_action == "pass_review"
    case = services.pass_review(case.id, staff.arbiter)
    assert case.status == S.AWAITING_MERCHANT
    other = open_case(shop, order, "return_refund")
    refused("validation_error", shop, services.dismiss, other.id, staff.arbiter, reason=" ")
    other = services.dismiss(other.id, staff.arbiter, reason="材料不全")
    assert other.status == S.CLOSED
    check_invariants(shop)


# --- proposals ------------------------------------------------------------------------------------
def test_partial_refund_proposal_accepted(shop, staff):
    order = make_order(shop, lines=[(1, 10000)])
    case = open_case(shop, order, "return_refund")
    case = services.propose(
        case.id, staff.agent, kind="partial_refund", refund_fen=3000, note="不用退货"
    )
    assert case.status == S.PROPOSAL_PENDING and case.deadline_action == "expire_proposal"
    case = services.accept_proposal(case.id, buyer(order), expected_version=case.version)
    assert case.status == S.REFUNDING and case.path == "refund_only"
    assert RefundInstruction.objects.get(case=case).amount_fen == 3000
    services.confirm_refund(case.id, staff.finance)
    assert refunded(order) == 3000
    check_invariants(shop)


def test_partial_refund_on_a_multi_line_exchange_spreads_over_the_lines(shop, staff):
    # An exchange asks for no money, so its lines carry no amounts; a partial refund the buyer
    # accepts must still be allocated within what each line was paid.
    order = make_order(shop, lines=[(1, 5000), (1, 5000)])
    l1, l2 = order.lines.order_by("id")
    case = services.open_case(
        shop,
        buyer(order),
        order=order,
        type="exchange",
        reason="quality",
        lines=[services.LineRequest(l1.id, 1), services.LineRequest(l2.id, 1)],
    )
    case = services.propose(case.id, staff.agent, kind="partial_refund", refund_fen=8000)
    case = services.accept_proposal(case.id, buyer(order))
    assert case.status == S.REFUNDING
    l1.refresh_from_db()
    l2.refresh_from_db()
    assert l1.refunded_fen + l2.refunded_fen == 8000
    assert max(l1.refunded_fen, l2.refunded_fen) <= 5000
    check_invariants(shop)


def test_reship_proposal_accepted(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    case = services.propose(case.id, staff.agent, kind="reship")
    case = services.accept_proposal(case.id, buyer(order))
    assert case.status == S.AWAITING_MERCHANT_SHIPMENT and case.path == "reship"
    assert case.refund_fen == 0
    case = services.ship_replacement(case.id, staff.warehouse, carrier="顺丰", tracking_no="SF0001")
    case = services.confirm_delivery(case.id, buyer(order))
    assert case.status == S.COMPLETED
    assert not RefundInstruction.objects.exists()
    check_invariants(shop)


def test_exchange_proposal_accepted(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    case = services.propose(case.id, staff.agent, kind="exchange", note="换个颜色")
    case = services.accept_proposal(case.id, buyer(order))
    assert case.status == S.AWAITING_BUYER_RETURN and case.path == "exchange"
    assert case.return_address is not None
    case = services.ship_return(case.id, buyer(order), carrier="顺丰", tracking_no="SF7777777")
    case = services.confirm_receipt(case.id, staff.warehouse)
    assert case.status == S.AWAITING_MERCHANT_SHIPMENT
    assert not RefundInstruction.objects.exists()
    check_invariants(shop)


def test_coupon_proposal_accepted_completes(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    case = services.propose(case.id, staff.agent, kind="coupon", note="10 元无门槛券")
    case = services.accept_proposal(case.id, buyer(order))
    assert case.status == S.COMPLETED and case.path == "coupon"
    assert not case.is_open and case.deadline_at is None
    assert not RefundInstruction.objects.exists()
    check_invariants(shop)


@pytest.mark.parametrize("kind", ["partial_refund", "reship", "exchange", "coupon"])
def test_proposal_declined_goes_back_to_the_shop(shop, staff, kind):
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    case = services.propose(
        case.id, staff.agent, kind=kind, refund_fen=1000 if kind == "partial_refund" else 0
    )
    case = services.decline_proposal(case.id, buyer(order), reason="不接受")
    assert case.status == S.AWAITING_MERCHANT and case.proposal_kind == ""
    assert case.path == "return_refund"
    assert case.deadline_action == "agree"
    refused("action_not_allowed", shop, services.accept_proposal, case.id, buyer(order))
    check_invariants(shop)


def test_bad_proposals_are_refused(shop, staff):
    order = make_order(shop, lines=[(1, 5000)])
    case = open_case(shop, order, "return_refund")
    refused("proposal_invalid", shop, services.propose, case.id, staff.agent, kind="partial_refund")
    refused(
        "refund_exceeds_paid",
        shop,
        services.propose,
        case.id,
        staff.agent,
        kind="partial_refund",
        refund_fen=5001,
    )
    refused(
        "proposal_invalid",
        shop,
        services.propose,
        case.id,
        staff.agent,
        kind="reship",
        refund_fen=1,
    )
    refused("validation_error", shop, services.propose, case.id, staff.agent, kind="cash")
    refused("role_not_allowed", shop, services.propose, case.id, buyer(order), kind="coupon")


# --- rejection, modification, arbitration --------------------------------------------------------
def test_rejection_then_modify(shop, staff):
    order = make_order(shop, lines=[(1, 6000)])
    case = open_case(shop, order, "refund_only")
    refused("validation_error", shop, services.reject, case.id, staff.agent, reason="  ")
    case = services.reject(case.id, staff.agent, reason="商品无质量问题")
    assert case.status == S.REJECTED and case.rejection_reason == "商品无质量问题"
    assert case.deadline_action == "close_overdue"
    refused(
        "reason_not_allowed",
        shop,
        services.modify,
        case.id,
        buyer(order),
        reason="price_change",
    )
    refused("refund_exceeds_paid", shop, services.modify, case.id, buyer(order), refund_fen=6001)
    case = services.modify(
        case.id, buyer(order), reason="not_as_described", description="颜色不对", refund_fen=3000
    )
    assert case.status == S.AWAITING_MERCHANT
    assert (case.reason, case.refund_fen, case.rejection_reason) == ("not_as_described", 3000, "")
    services.agree(case.id, staff.agent)
    assert refunded(order) == 3000
    check_invariants(shop)


def test_modify_up_to_a_larger_amount_on_a_multi_line_case(shop, staff):
    order = make_order(shop, lines=[(1, 5000), (1, 5000)])
    l1, l2 = order.lines.order_by("id")
    case = services.open_case(
        shop,
        buyer(order),
        order=order,
        type="refund_only",
        reason="quality",
        refund_fen=2000,
        lines=[services.LineRequest(l1.id, 1), services.LineRequest(l2.id, 1)],
    )
    case = services.reject(case.id, staff.agent, reason="金额有误")
    case = services.modify(case.id, buyer(order), refund_fen=9000)
    case = services.agree(case.id, staff.agent)
    assert case.status == S.REFUNDING
    l1.refresh_from_db()
    l2.refresh_from_db()
    assert l1.refunded_fen + l2.refunded_fen == 9000
    check_invariants(shop)


@pytest.mark.parametrize("case_type", ["refund_only", "return_refund", "exchange", "reship"])
def test_rejection_escalated_and_ruled_for_buyer(shop, staff, tick, case_type):
    order = make_order(shop)
    case = open_case(shop, order, case_type)
    case = services.reject(case.id, staff.agent, reason="不同意")
    case = services.escalate(case.id, buyer(order), statement="有照片为证")
    assert case.status == S.IN_ARBITRATION and case.priority >= 1
    refused("role_not_allowed", shop, services.rule_for_buyer, case.id, staff.agent, reason="x")
    refused("validation_error", shop, services.rule_for_buyer, case.id, staff.arbiter, reason="")
    tick.advance(timedelta(days=1))
    case = services.rule_for_buyer(case.id, staff.arbiter, reason="证据充分")
    expected = {
        "refund_only": S.REFUNDING,
        "return_refund": S.AWAITING_BUYER_RETURN,
        "exchange": S.AWAITING_BUYER_RETURN,
        "reship": S.AWAITING_MERCHANT_SHIPMENT,
    }[case_type]
    assert case.status == expected and case.ruling == "for_buyer"
    # The shop's deadlines restart from the ruling.
    hours = {"refunding": 24, "awaiting_buyer_return": 168, "awaiting_merchant_shipment": 48}
    assert case.deadline_at == tick.at + timedelta(hours=hours[case.status])
    if expected == S.AWAITING_BUYER_RETURN:
        assert case.return_address is not None
    check_invariants(shop)


def test_rejection_escalated_and_ruled_for_shop(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    case = services.reject(case.id, staff.agent, reason="不同意")
    case = services.escalate(case.id, buyer(order))
    case = services.rule_for_shop(case.id, staff.arbiter, reason="超出售后范围")
    assert case.status == S.CLOSED and case.ruling == "for_shop"
    assert not CaseLine.objects.filter(case=case, is_open=True).exists()
    check_invariants(shop)


def test_failed_inspection_rejects_with_the_evidence(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    case = services.agree(case.id, staff.agent)
    case = services.ship_return(case.id, buyer(order), carrier="顺丰", tracking_no="SF12345678")
    refused("validation_error", shop, services.fail_inspection, case.id, staff.warehouse, reason="")
    case = services.fail_inspection(case.id, staff.warehouse, reason="吊牌已剪")
    assert case.status == S.REJECTED and case.rejection_reason == "吊牌已剪"
    assert not RefundInstruction.objects.exists()
    case = services.escalate(case.id, buyer(order))
    assert case.status == S.IN_ARBITRATION
    check_invariants(shop)


# --- cancel ---------------------------------------------------------------------------------------
def _to_status(shop, staff, status: str):
    """A fresh return_refund case brought to `status` by the ordinary steps."""
    if status == S.SUBMITTED:
        shop.review_new_cases = True
        shop.save()
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    b = buyer(order)
    if status == S.PROPOSAL_PENDING:
        case = services.propose(case.id, staff.agent, kind="coupon")
    elif status in {S.REJECTED, S.IN_ARBITRATION}:
        case = services.reject(case.id, staff.agent, reason="不同意")
        if status == S.IN_ARBITRATION:
            case = services.escalate(case.id, b)
    elif status in {S.AWAITING_BUYER_RETURN, S.AWAITING_MERCHANT_RECEIPT}:
        case = services.agree(case.id, staff.agent)
        if status == S.AWAITING_MERCHANT_RECEIPT:
            case = services.ship_return(case.id, b, carrier="顺丰", tracking_no="SF99999999")
    assert case.status == status
    return order, case


@pytest.mark.parametrize(
    "status",
    [
        S.SUBMITTED,
        S.AWAITING_MERCHANT,
        S.PROPOSAL_PENDING,
        S.REJECTED,
        S.IN_ARBITRATION,
        S.AWAITING_BUYER_RETURN,
        S.AWAITING_MERCHANT_RECEIPT,
    ],
)
def test_cancel_from_each_cancellable_status(shop, staff, status):
    order, case = _to_status(shop, staff, status)
    case = services.cancel(case.id, buyer(order), reason="不想要了", expected_version=case.version)
    assert case.status == S.CLOSED and not case.is_open and case.deadline_at is None
    assert not CaseLine.objects.filter(case=case, is_open=True).exists()
    # The line is free again for a new request of the same type.
    again = open_case(shop, order, "return_refund")
    assert again.is_open
    check_invariants(shop)


def test_cancel_refused_once_refunding(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    case = services.agree(case.id, staff.agent)
    refused("action_not_allowed", shop, services.cancel, case.id, buyer(order))
    check_invariants(shop)


def test_only_the_buyer_side_cancels(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    refused("role_not_allowed", shop, services.cancel, case.id, staff.agent)
    services.cancel(case.id, staff.integration)
    check_invariants(shop)


# --- reopen ---------------------------------------------------------------------------------------
def test_reopen_once_and_not_twice(shop, staff, tick):
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    case = services.cancel(case.id, buyer(order))
    tick.advance(timedelta(days=1))
    case = services.reopen(case.id, buyer(order), description="还是要退")
    assert case.status == S.AWAITING_MERCHANT and case.is_open and case.reopen_count == 1
    assert case.deadline_at == tick.at + timedelta(hours=72) and case.closed_at is None
    assert CaseLine.objects.filter(case=case, is_open=True).count() == 1
    case = services.cancel(case.id, buyer(order))
    refused("reopen_not_allowed", shop, services.reopen, case.id, buyer(order))
    check_invariants(shop)


def test_reopen_outside_the_window_is_refused(shop, tick):
    order = make_order(shop, delivered_days_ago=10)
    case = open_case(shop, order, "return_refund")
    case = services.cancel(case.id, buyer(order))
    tick.advance(timedelta(days=5, hours=12))  # 15.5 days after delivery; the window is 15
    refused("reopen_not_allowed", shop, services.reopen, case.id, buyer(order))


def test_reopen_refused_while_another_case_is_open_on_the_line(shop):
    order = make_order(shop)
    first = open_case(shop, order, "refund_only")
    services.cancel(first.id, buyer(order))
    open_case(shop, order, "refund_only")
    refused("case_already_open", shop, services.reopen, first.id, buyer(order))
    check_invariants(shop)


def test_reopen_is_a_new_application_of_the_original_request(shop, staff):
    # The buyer accepted an exchange, then withdrew; re-opening applies for the refund again,
    # not for the exchange they gave up.
    order = make_order(shop, lines=[(1, 4000)])
    case = open_case(shop, order, "refund_only")
    case = services.propose(case.id, staff.agent, kind="exchange")
    case = services.accept_proposal(case.id, buyer(order))
    assert case.path == "exchange"
    case = services.cancel(case.id, buyer(order))
    case = services.reopen(case.id, buyer(order))
    assert case.path == "refund_only"
    case = services.agree(case.id, staff.agent)
    assert case.status == S.REFUNDING
    assert RefundInstruction.objects.get(case=case).amount_fen == 4000
    check_invariants(shop)


def test_completed_cases_do_not_reopen(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    services.agree(case.id, staff.agent)
    services.confirm_refund(case.id, staff.finance)
    refused("action_not_allowed", shop, services.reopen, case.id, buyer(order))


# --- rating ---------------------------------------------------------------------------------------
def test_rating_once_within_15_days(shop, staff, tick):
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    refused(
        "action_not_allowed", shop, services.rate, case.id, buyer(order), speed=5, satisfaction=5
    )
    services.agree(case.id, staff.agent)
    services.confirm_refund(case.id, staff.finance)
    for bad in (0, 6, True, "5"):
        refused(
            "validation_error",
            shop,
            services.rate,
            case.id,
            buyer(order),
            speed=bad,
            satisfaction=5,
        )
    refused("role_not_allowed", shop, services.rate, case.id, staff.agent, speed=5, satisfaction=5)
    tick.advance(timedelta(days=14))
    rating = services.rate(case.id, buyer(order), speed=4, satisfaction=5, comment=" 很快 ")
    assert (rating.speed, rating.satisfaction, rating.comment) == (4, 5, "很快")
    refused("already_rated", shop, services.rate, case.id, buyer(order), speed=1, satisfaction=1)
    assert CaseRating.objects.count() == 1
    check_invariants(shop)


def test_rating_window_closes_after_15_days(shop, tick):
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    services.cancel(case.id, buyer(order))
    tick.advance(timedelta(days=15, seconds=1))
    refused(
        "rating_window_closed", shop, services.rate, case.id, buyer(order), speed=3, satisfaction=3
    )


# --- finance approval and the refund gateway -----------------------------------------------------
def test_finance_approves_refunds_above_the_shop_limit(shop, staff):
    update_policy(shop, finance_approval_limit_fen=3000)
    order = make_order(shop, lines=[(1, 5000)])
    case = open_case(shop, order, "refund_only")
    v = case.version
    case = services.agree(case.id, staff.agent, expected_version=v)
    assert case.status == S.AWAITING_MERCHANT and case.awaiting_finance
    assert case.version == v + 1
    assert actions(case)[-1] == "finance_approval_requested"
    assert not RefundInstruction.objects.exists() and refunded(order) == 0
    # A second click by the agent records nothing new.
    events = TimelineEvent.objects.count()
    services.agree(case.id, staff.agent)
    assert TimelineEvent.objects.count() == events

    case = services.agree(case.id, staff.finance, expected_version=case.version)
    assert case.status == S.REFUNDING and not case.awaiting_finance
    assert refunded(order) == 5000
    check_invariants(shop)


def test_under_the_limit_and_admin_need_no_finance(shop, staff):
    update_policy(shop, finance_approval_limit_fen=3000)
    order = make_order(shop, lines=[(1, 3000), (1, 9000)])
    l1, l2 = order.lines.order_by("id")
    small = open_case(shop, order, "refund_only", line=l1)
    assert services.agree(small.id, staff.agent).status == S.REFUNDING
    big = open_case(shop, order, "refund_only", line=l2)
    assert services.agree(big.id, staff.admin).status == S.REFUNDING
    check_invariants(shop)


def test_finance_request_does_not_survive_the_case_leaving_the_shop(shop, staff):
    update_policy(shop, finance_approval_limit_fen=1000)
    order = make_order(shop, lines=[(1, 5000)])
    case = open_case(shop, order, "refund_only")
    case = services.agree(case.id, staff.agent)
    assert case.awaiting_finance
    case = services.cancel(case.id, buyer(order))
    assert not case.awaiting_finance
    case = services.reopen(case.id, buyer(order))
    # After re-opening the agent's agreement is a fresh request for approval.
    case = services.agree(case.id, staff.agent)
    assert case.awaiting_finance and actions(case)[-1] == "finance_approval_requested"
    check_invariants(shop)


def test_instant_gateway_confirms_at_once(shop, staff):
    shop.refund_gateway = RefundGateway.INSTANT
    shop.save()
    order = make_order(shop, lines=[(1, 2500)])
    case = open_case(shop, order, "refund_only")
    case = services.agree(case.id, staff.agent)
    assert case.status == S.COMPLETED
    refund = RefundInstruction.objects.get(case=case)
    assert refund.status == RefundStatus.CONFIRMED
    assert actions(case) == ["open", "agree", "refund_issued", "confirm_refund"]
    assert [e.to_status for e in status_events(case.id)] == [
        "awaiting_merchant",
        "refunding",
        "completed",
    ]
    check_invariants(shop)


def test_confirm_refund_twice_is_refused(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    services.agree(case.id, staff.agent)
    services.confirm_refund(case.id, staff.finance)
    refused("action_not_allowed", shop, services.confirm_refund, case.id, staff.finance)
    refused("action_not_allowed", shop, services.agree, case.id, staff.agent)
    assert RefundInstruction.objects.count() == 1
    check_invariants(shop)


# --- bad input: stable code, nothing half-written -----------------------------------------------
def _open(shop, order, **kw):
    kw.setdefault("type", "refund_only")
    kw.setdefault("reason", "quality")
    return services.open_case(shop, buyer(order), order=order, **kw)


def test_unknown_order_line(shop):
    order = make_order(shop)
    elsewhere = make_order(shop).lines.get()
    refused(
        "unknown_order_line",
        shop,
        _open,
        shop,
        order,
        lines=[services.LineRequest(elsewhere.id, 1)],
    )
    refused("unknown_order_line", shop, _open, shop, order, lines=[services.LineRequest(10**9, 1)])


def test_duplicate_line(shop):
    order = make_order(shop)
    line = order.lines.get()
    lines = [services.LineRequest(line.id, 1), services.LineRequest(line.id, 1)]
    refused("duplicate_line", shop, _open, shop, order, lines=lines)


def test_quantity_above_ordered(shop):
    order = make_order(shop, lines=[(2, 1000)])
    line = order.lines.get()
    refused(
        "quantity_exceeds_ordered",
        shop,
        _open,
        shop,
        order,
        lines=[services.LineRequest(line.id, 3)],
    )
    refused(
        "quantity_exceeds_ordered",
        shop,
        _open,
        shop,
        order,
        lines=[services.LineRequest(line.id, 0)],
    )


def test_no_lines(shop):
    order = make_order(shop)
    refused("validation_error", shop, _open, shop, order, lines=[])


def test_refund_above_paid(shop):
    order = make_order(shop, lines=[(2, 1000)])
    line = order.lines.get()
    refused(
        "refund_exceeds_paid",
        shop,
        _open,
        shop,
        order,
        lines=[services.LineRequest(line.id, 1, refund_fen=2001)],
    )
    refused(
        "refund_exceeds_paid",
        shop,
        _open,
        shop,
        order,
        refund_fen=2001,
        lines=[services.LineRequest(line.id, 2)],
    )


def test_negative_line_refund_is_a_validation_error(shop):
    order = make_order(shop, lines=[(1, 1000), (1, 1000)])
    l1, l2 = order.lines.order_by("id")
    refused(
        "validation_error",
        shop,
        _open,
        shop,
        order,
        lines=[
            services.LineRequest(l1.id, 1, refund_fen=1000),
            services.LineRequest(l2.id, 1, refund_fen=-500),
        ],
    )


def test_refund_above_paid_across_two_cases_on_the_same_line(shop, staff):
    order = make_order(shop, lines=[(1, 5000)])
    line = order.lines.get()
    first = open_case(shop, order, "refund_only", refund_fen=4000)
    services.agree(first.id, staff.agent)
    # Only 1000 is left on the line.
    refused(
        "refund_exceeds_paid",
        shop,
        _open,
        shop,
        order,
        type="price_protect",
        reason="price_change",
        refund_fen=1001,
        lines=[services.LineRequest(line.id, 1)],
    )
    second = open_case(shop, order, "price_protect", refund_fen=1000)
    services.agree(second.id, staff.agent)
    line.refresh_from_db()
    assert line.refunded_fen == 5000
    check_invariants(shop)


def test_two_open_cases_whose_sum_exceeds_paid_refund_only_what_was_paid(shop, staff):
    order = make_order(shop, lines=[(1, 5000)])
    line = order.lines.get()
    refund_case = open_case(shop, order, "refund_only")  # 5000
    price_case = open_case(shop, order, "price_protect", refund_fen=800)
    services.agree(price_case.id, staff.agent)
    err = refused("refund_exceeds_paid", shop, services.agree, refund_case.id, staff.agent)
    assert err.params["refundable"] == 4200
    line.refresh_from_db()
    assert line.refunded_fen == 800
    # The shop may still agree to what is left.
    services.agree(refund_case.id, staff.agent, refund_fen=4200)
    line.refresh_from_db()
    assert line.refunded_fen == 5000
    check_invariants(shop)


def test_one_open_case_per_line_and_type(shop):
    order = make_order(shop)
    first = open_case(shop, order, "return_refund")
    err = refused("case_already_open", shop, open_case, shop, order, "return_refund")
    assert err.params["case"] == first.number
    open_case(shop, order, "exchange")  # another type is fine
    check_invariants(shop)


def test_reason_not_allowed_for_type(shop):
    order = make_order(shop)
    refused(
        "reason_not_allowed", shop, open_case, shop, order, "refund_only", reason="price_change"
    )
    refused("reason_not_allowed", shop, open_case, shop, order, "price_protect", reason="quality")
    refused("validation_error", shop, open_case, shop, order, "refund_only", reason="no_such")
    refused("validation_error", shop, open_case, shop, order, "no_such_type", reason="quality")


def test_shop_policy_may_widen_reasons(shop):
    update_policy(shop, reason_types={"price_change": ["price_protect", "refund_only"]})
    order = make_order(shop)
    assert open_case(shop, order, "refund_only", reason="price_change").is_open


def test_outside_the_after_sales_window(shop):
    order = make_order(shop, delivered_days_ago=16)
    refused("outside_after_sales_window", shop, open_case, shop, order, "return_refund")
    # 七天无理由 counts 7 days, not 15.
    order = make_order(shop, delivered_days_ago=8)
    refused(
        "outside_after_sales_window",
        shop,
        open_case,
        shop,
        order,
        "return_refund",
        reason="no_reason_7d",
    )
    assert open_case(shop, order, "return_refund", reason="quality").is_open


@pytest.mark.parametrize("status", [OrderStatus.UNPAID, OrderStatus.CANCELLED])
def test_unpaid_order(shop, status):
    order = make_order(shop, status=status)
    refused("order_not_paid", shop, open_case, shop, order, "refund_only")


def test_buyer_cannot_open_or_act_on_someone_elses_order(shop, staff):
    order = make_order(shop)
    stranger = buyer(make_order(shop, customer=make_customer(shop)))
    refused("not_found", shop, open_case, shop, order, "refund_only", actor=stranger)
    case = open_case(shop, order, "refund_only")
    refused("not_found", shop, services.cancel, case.id, stranger)


def test_no_cross_shop_access(shop, other_shop):
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    outsider = Actor(role=lc.ActorRole.AGENT, shop_id=other_shop.id)
    refused("not_found", shop, services.agree, case.id, outsider)
    refused("not_found", shop, open_case, shop, order, "return_refund", actor=outsider)


def test_invalid_tracking_number(shop, staff):
    order = make_order(shop)
    case = services.agree(open_case(shop, order, "return_refund").id, staff.agent)
    b = buyer(order)
    for bad in ("", "12345", "SF 123456", "顺丰123456", "X" * 31):
        refused(
            "invalid_tracking",
            shop,
            services.ship_return,
            case.id,
            b,
            carrier="顺丰",
            tracking_no=bad,
        )
    refused(
        "validation_error",
        shop,
        services.ship_return,
        case.id,
        b,
        carrier="",
        tracking_no="SF123456",
    )


def test_expired_deadline(shop, staff, tick):
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    tick.advance(timedelta(hours=73))
    # The shop's 72 h are up: only the timeout's own action (agree) may still happen.
    refused("deadline_expired", shop, services.reject, case.id, staff.agent, reason="晚了")
    refused("deadline_expired", shop, services.propose, case.id, staff.agent, kind="coupon")
    case = services.agree(case.id, staff.agent)
    assert case.status == S.AWAITING_BUYER_RETURN
    tick.advance(timedelta(days=7, seconds=1))
    refused(
        "deadline_expired",
        shop,
        services.ship_return,
        case.id,
        buyer(order),
        carrier="顺丰",
        tracking_no="SF12345678",
    )
    # Withdrawing is always possible before refunding.
    assert services.cancel(case.id, buyer(order)).status == S.CLOSED
    check_invariants(shop)


def test_stale_version_is_a_conflict(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    stale = case.version
    services.add_note(case.id, staff.agent, text="买家来电")
    err = refused(
        "case_conflict", shop, services.agree, case.id, staff.agent, expected_version=stale
    )
    assert err.params == {"expected": stale, "actual": stale + 1}
    refused("case_conflict", shop, services.cancel, case.id, buyer(order), expected_version=stale)
    assert services.agree(case.id, staff.agent, expected_version=stale + 1).version == stale + 2


def test_unknown_case(shop, staff):
    refused("not_found", shop, services.agree, 10**9, staff.agent)


def test_no_return_address(shop, staff):
    ReturnAddress.objects.filter(shop=shop).delete()
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    refused("no_return_address", shop, services.agree, case.id, staff.agent)


# --- work that does not change the status --------------------------------------------------------
def test_assign_priority_tag_note(shop, staff):
    from tests.factories import make_staff

    member = make_staff(shop, "agent")
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    case = services.assign(case.id, staff.admin, staff_id=member.id)
    assert case.assignee == member
    refused("not_found", shop, services.assign, case.id, staff.admin, staff_id=10**9)
    case = services.set_priority(case.id, staff.agent, priority=2)
    refused("validation_error", shop, services.set_priority, case.id, staff.agent, priority=7)
    case = services.add_tag(case.id, staff.agent, tag="加急")
    v = case.version
    assert services.add_tag(case.id, staff.agent, tag="加急").version == v  # already tagged
    refused("permission_denied", shop, services.add_tag, case.id, buyer(order), tag="x")
    note = services.add_note(case.id, staff.agent, text="内部备注")
    assert note.visibility == "internal" and note.action == "note"
    said = services.add_note(case.id, buyer(order), text="请尽快", internal=True)
    assert said.visibility == "public" and said.action == "statement"
    case.refresh_from_db()
    assert case.status == S.AWAITING_MERCHANT
    check_invariants(shop)


def test_every_status_change_writes_its_event_with_the_actor(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    services.agree(case.id, staff.agent)
    events = status_events(case.id)
    assert [(e.actor_role, e.actor_label) for e in events] == [
        ("buyer", "买家"),
        ("agent", "客服小王"),
    ]
    assert all(e.rule_id is None and not e.by_deadline for e in events)
    with pytest.raises(RuntimeError):
        events[0].delete()
    case = Case.objects.get(pk=case.id)
    assert events[-1].to_status == case.status


def test_line_openness_follows_the_case(shop, staff):
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    services.reject(case.id, staff.agent, reason="no")
    assert CaseLine.objects.get(case=case).is_open
    services.cancel(case.id, buyer(order))
    assert not CaseLine.objects.get(case=case).is_open
    assert OrderLine.objects.get(pk=order.lines.get().pk).refunded_fen == 0


def test_a_role_that_may_not_open_gets_role_not_allowed(shop, staff):
    order = make_order(shop)
    for actor in (staff.warehouse, staff.finance, staff.arbiter, staff.system):
        err = refused("role_not_allowed", shop, open_case, shop, order, "refund_only", actor=actor)
        assert err.params["role"] == actor.role.value
        err.message("zh-hans")


def test_a_partial_refund_proposal_cannot_bypass_finance_approval(shop, staff):
    update_policy(shop, finance_approval_limit_fen=3000)
    order = make_order(shop, lines=[(1, 10000)])
    case = open_case(shop, order, "return_refund")
    err = refused(
        "finance_approval_required",
        shop,
        services.propose,
        case.id,
        staff.agent,
        kind="partial_refund",
        refund_fen=5000,
    )
    assert err.params["limit"] == 3000
    # Within the limit the agent may propose; above it the shop admin may.
    services.propose(case.id, staff.agent, kind="partial_refund", refund_fen=3000)
    services.decline_proposal(case.id, buyer(order))
    case = services.propose(case.id, staff.admin, kind="partial_refund", refund_fen=5000)
    case = services.accept_proposal(case.id, buyer(order))
    assert RefundInstruction.objects.get(case=case).amount_fen == 5000
    check_invariants(shop)


def test_the_database_refuses_a_case_whose_openness_contradicts_its_status(shop):
    from django.db import IntegrityError, transaction

    case = open_case(shop, make_order(shop), "refund_only")
    for status, is_open in (("closed", True), ("completed", True), ("awaiting_merchant", False)):
        with pytest.raises(IntegrityError), transaction.atomic():
            Case.objects.filter(pk=case.pk).update(status=status, is_open=is_open, deadline_at=None)


# --- amounts follow the quantity claimed; reasons follow the order's state ----------------------
def test_a_buyer_claiming_one_of_two_items_cannot_ask_for_both(shop):
    order = make_order(shop, lines=[(2, 5000)])  # paid 10000 for two
    line = order.lines.get()
    err = refused(
        "refund_exceeds_paid",
        shop,
        services.open_case,
        shop,
        buyer(order),
        order=order,
        type="refund_only",
        reason="quality",
        lines=[services.LineRequest(line.id, 1, refund_fen=10000)],
    )
    assert err.params["refundable"] == 5000
    refused(
        "refund_exceeds_paid",
        shop,
        services.open_case,
        shop,
        buyer(order),
        order=order,
        type="refund_only",
        reason="quality",
        lines=[services.LineRequest(line.id, 1)],
        refund_fen=5001,
    )
    case = services.open_case(
        shop,
        buyer(order),
        order=order,
        type="refund_only",
        reason="quality",
        lines=[services.LineRequest(line.id, 1, refund_fen=5000)],
    )
    assert case.requested_refund_fen == 5000


def test_an_odd_amount_rounds_the_share_up_for_the_buyer(shop):
    order = make_order(shop, lines=[(3, 3333)])
    line = order.lines.get()
    line.paid_fen = 10000  # a discount spread unevenly: 3 items for 100.00
    line.save()
    case = services.open_case(
        shop,
        buyer(order),
        order=order,
        type="refund_only",
        reason="quality",
        lines=[services.LineRequest(line.id, 1, refund_fen=3334)],
    )
    assert case.refund_fen == 3334


def test_changed_mind_unshipped_only_before_shipping(shop):
    shipped = make_order(shop, status=OrderStatus.SHIPPED)
    refused(
        "reason_requires_unshipped",
        shop,
        open_case,
        shop,
        shipped,
        "refund_only",
        reason="changed_mind_unshipped",
    )
    unshipped = make_order(shop, status=OrderStatus.PAID)
    case = open_case(shop, unshipped, "refund_only", reason="changed_mind_unshipped")
    assert case.status == S.AWAITING_MERCHANT
