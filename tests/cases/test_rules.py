"""Automation rules (rules/): the built-in templates a shop switches on, custom rules, and
the promise that every automatic decision is on the timeline with the rule that made it."""

from __future__ import annotations

import pytest

from shouhou.cases import lifecycle as lc
from shouhou.cases import services
from shouhou.cases.models import Case, RefundInstruction, ReturnAddress, TimelineEvent
from shouhou.cases.policies import update_policy
from shouhou.core.errors import ShouhouError
from shouhou.orders.models import OrderStatus
from shouhou.rules import engine
from shouhou.rules.models import AutomationRule
from shouhou.rules.services import install_templates, save_rule, set_template_enabled
from shouhou.rules.templates import TEMPLATES
from tests.cases.support import check_invariants, open_case
from tests.factories import buyer, make_customer, make_order, make_staff

S = lc.Status
pytestmark = pytest.mark.django_db


def rule_events(case: Case) -> list[TimelineEvent]:
    return list(case.timeline.filter(rule__isnull=False).order_by("at", "id"))


def assert_named_by(events: list[TimelineEvent], rule: AutomationRule) -> None:
    assert events
    for e in events:
        assert e.rule_id == rule.id
        assert e.actor_role == "system"
        assert e.actor_label == f"规则：{rule.name}"


def unshipped_refund(shop, customer=None, amount=9900, **kw) -> Case:
    order = make_order(shop, customer, lines=[(1, amount)], status=OrderStatus.PAID)
    return open_case(shop, order, "refund_only", reason="changed_mind_unshipped", **kw)


# --- templates ------------------------------------------------------------------------------------
def test_templates_install_switched_off(shop):
    rules = install_templates(shop)
    assert {r.template for r in rules} == set(TEMPLATES)
    assert not any(r.enabled for r in rules)
    install_templates(shop)  # idempotent
    assert AutomationRule.objects.filter(shop=shop).count() == len(TEMPLATES)
    with pytest.raises(ShouhouError) as exc:
        set_template_enabled(shop, "no_such_template", True)
    assert exc.value.code == "not_found"


def test_switched_off_templates_do_nothing(shop):
    install_templates(shop)
    case = unshipped_refund(shop)
    assert case.status == S.AWAITING_MERCHANT
    assert not rule_events(case)


def test_fast_refund_agrees_an_unshipped_refund_under_the_amount(shop):
    rule = set_template_enabled(shop, "fast_refund", True)
    case = unshipped_refund(shop, amount=20000)
    assert case.status == S.REFUNDING
    assert RefundInstruction.objects.get(case=case).amount_fen == 20000
    agree = case.timeline.get(action="agree")
    assert_named_by([agree], rule)
    assert agree.actor_label == "规则：极速退款 Fast refund"
    assert_named_by(list(case.timeline.filter(action="refund_issued")), rule)
    assert not case.auto_agreed_by_timeout
    check_invariants(shop)


@pytest.mark.parametrize(
    "why_not",
    ["blocklisted", "shipped", "over_amount", "other_type"],
)
def test_fast_refund_leaves_the_rest_to_the_shop(shop, why_not):
    set_template_enabled(shop, "fast_refund", True)
    customer = make_customer(shop, blocklisted=why_not == "blocklisted")
    if why_not == "shipped":
        order = make_order(shop, customer, lines=[(1, 5000)], status=OrderStatus.SHIPPED)
        case = open_case(shop, order, "refund_only", reason="not_received")
    elif why_not == "over_amount":
        case = unshipped_refund(shop, customer, amount=20001)
    elif why_not == "other_type":
        order = make_order(shop, customer, lines=[(1, 5000)], status=OrderStatus.PAID)
        case = open_case(shop, order, "return_refund", reason="quality")
    else:
        case = unshipped_refund(shop, customer)
    assert case.status == S.AWAITING_MERCHANT
    assert not rule_events(case)
    assert not RefundInstruction.objects.exists()


def test_fast_refund_above_the_finance_limit_asks_finance(shop):
    update_policy(shop, finance_approval_limit_fen=5000)
    rule = set_template_enabled(shop, "fast_refund", True)
    case = unshipped_refund(shop, amount=9000)
    assert case.status == S.AWAITING_MERCHANT and case.awaiting_finance
    assert_named_by(list(case.timeline.filter(action="finance_approval_requested")), rule)
    check_invariants(shop)


@pytest.mark.parametrize("case_type", ["return_refund", "exchange"])
def test_seven_day_no_reason_auto_agrees_within_the_window(shop, case_type):
    rule = set_template_enabled(shop, "seven_day_no_reason", True)
    order = make_order(shop, delivered_days_ago=6)
    case = open_case(shop, order, case_type, reason="no_reason_7d")
    assert case.status == S.AWAITING_BUYER_RETURN
    assert case.return_address == ReturnAddress.objects.get(shop=shop)
    assert_named_by(list(case.timeline.filter(action="agree")), rule)
    check_invariants(shop)


def test_seven_day_no_reason_needs_that_reason_and_a_clean_buyer(shop):
    set_template_enabled(shop, "seven_day_no_reason", True)
    quality = open_case(shop, make_order(shop), "return_refund", reason="quality")
    assert quality.status == S.AWAITING_MERCHANT
    bad = make_customer(shop, blocklisted=True)
    blocked = open_case(shop, make_order(shop, bad), "return_refund", reason="no_reason_7d")
    assert blocked.status == S.AWAITING_MERCHANT
    assert not rule_events(quality) and not rule_events(blocked)


def test_seven_day_rule_without_a_return_address_notes_why_and_keeps_the_case(shop):
    rule = set_template_enabled(shop, "seven_day_no_reason", True)
    ReturnAddress.objects.filter(shop=shop).delete()
    case = open_case(shop, make_order(shop), "return_refund", reason="no_reason_7d")
    # The refused action does not undo the buyer's application; the timeline says why.
    assert case.status == S.AWAITING_MERCHANT
    note = case.timeline.get(action="rule_fired")
    assert note.rule_id == rule.id and note.visibility == "internal"
    assert "退货地址" in note.message
    check_invariants(shop)


def _returned(shop, staff, case_type="return_refund", tracking="SF20250618"):
    order = make_order(shop, lines=[(1, 6600)])
    case = open_case(shop, order, case_type)
    services.agree(case.id, staff.agent)
    services.ship_return(case.id, buyer(order), carrier="顺丰", tracking_no=tracking)
    return order, Case.objects.get(pk=case.id)


def test_auto_refund_when_the_return_is_delivered(shop, staff):
    rule = set_template_enabled(shop, "auto_refund_on_return_delivered", True)
    order, case = _returned(shop, staff)
    assert case.status == S.AWAITING_MERCHANT_RECEIPT
    [case] = services.record_parcel_delivered(
        shop, staff.integration, carrier="顺丰", tracking_no="SF20250618"
    )
    case.refresh_from_db()
    assert case.status == S.REFUNDING
    assert RefundInstruction.objects.get(case=case).amount_fen == 6600
    assert_named_by(list(case.timeline.filter(action="confirm_receipt")), rule)
    # A repeated carrier push changes nothing.
    events = TimelineEvent.objects.filter(case=case).count()
    services.record_parcel_delivered(
        shop, staff.integration, carrier="顺丰", tracking_no="SF20250618"
    )
    assert TimelineEvent.objects.filter(case=case).count() == events
    assert RefundInstruction.objects.count() == 1
    check_invariants(shop)


def test_auto_refund_waits_for_the_shop_when_it_already_acted_or_no_money_is_due(shop, staff):
    set_template_enabled(shop, "auto_refund_on_return_delivered", True)
    _, acted = _returned(shop, staff, tracking="SF0000001")
    services.fail_inspection(acted.id, staff.warehouse, reason="已使用")
    services.record_parcel_delivered(
        shop, staff.integration, carrier="顺丰", tracking_no="SF0000001"
    )
    acted.refresh_from_db()
    assert acted.status == S.REJECTED
    _, exchange = _returned(shop, staff, case_type="exchange", tracking="SF0000002")
    services.record_parcel_delivered(
        shop, staff.integration, carrier="顺丰", tracking_no="SF0000002"
    )
    exchange.refresh_from_db()
    assert exchange.status == S.AWAITING_MERCHANT_RECEIPT
    assert not RefundInstruction.objects.exists()
    check_invariants(shop)


def test_vip_priority(shop):
    rule = set_template_enabled(shop, "vip_priority", True)
    vip = make_customer(shop, tier="vip")
    case = open_case(shop, make_order(shop, vip), "return_refund")
    assert case.priority == 2 and "VIP" in case.tags
    events = rule_events(case)
    assert [e.action for e in events] == ["set_priority", "tag"]
    assert_named_by(events, rule)
    regular = open_case(shop, make_order(shop), "return_refund")
    assert regular.priority == 0 and regular.tags == []


def test_templates_combine_in_their_order(shop):
    vip_rule = set_template_enabled(shop, "vip_priority", True)
    fast_rule = set_template_enabled(shop, "fast_refund", True)
    case = unshipped_refund(shop, make_customer(shop, tier="gold"))
    assert case.status == S.REFUNDING and case.priority == 2
    assert [e.rule_id for e in rule_events(case)] == [
        vip_rule.id,
        vip_rule.id,
        fast_rule.id,
        fast_rule.id,
    ]
    check_invariants(shop)


def test_switching_a_template_off_stops_it(shop):
    set_template_enabled(shop, "fast_refund", True)
    assert unshipped_refund(shop).status == S.REFUNDING
    set_template_enabled(shop, "fast_refund", False)
    assert unshipped_refund(shop).status == S.AWAITING_MERCHANT


def test_every_automatic_decision_names_its_rule(shop, staff):
    set_template_enabled(shop, "vip_priority", True)
    set_template_enabled(shop, "fast_refund", True)
    set_template_enabled(shop, "seven_day_no_reason", True)
    set_template_enabled(shop, "auto_refund_on_return_delivered", True)
    vip = make_customer(shop, tier="vip")
    unshipped_refund(shop, vip)
    order = make_order(shop, vip)
    case = open_case(shop, order, "return_refund", reason="no_reason_7d")
    services.ship_return(case.id, buyer(order), carrier="中通", tracking_no="ZT123456789")
    services.record_parcel_delivered(
        shop, staff.integration, carrier="中通", tracking_no="ZT123456789"
    )
    rules = {r.id: r for r in AutomationRule.objects.filter(shop=shop)}
    system_events = TimelineEvent.objects.filter(shop=shop, actor_role="system")
    assert system_events.count() >= 8
    for e in system_events:
        assert e.rule_id in rules, (e.action, e.actor_label)
        assert e.actor_label == f"规则：{rules[e.rule_id].name}"
    check_invariants(shop)


# --- custom rules ---------------------------------------------------------------------------------
def test_custom_rule(shop):
    member = make_staff(shop, "agent")
    rule = save_rule(
        shop,
        name="未收到货的小额单给老王",
        event="case_opened",
        conditions=[
            {"field": "case.reason", "op": "eq", "value": "not_received"},
            {"field": "order.total_paid_fen", "op": "lte", "value": 3000},
        ],
        actions=[
            {"type": "assign", "value": member.id},
            {"type": "reply", "value": "您好，已为您加急核实物流。"},
            {"type": "note", "value": "小额未收到，优先核实"},
        ],
    )
    small = make_order(shop, lines=[(1, 3000)], status=OrderStatus.SHIPPED)
    case = open_case(shop, small, "refund_only", reason="not_received")
    assert case.assignee_id == member.id
    events = rule_events(case)
    assert [(e.action, e.visibility) for e in events] == [
        ("assign", "internal"),
        ("reply", "public"),
        ("note", "internal"),
    ]
    assert_named_by(events, rule)
    big = make_order(shop, lines=[(1, 3001)], status=OrderStatus.SHIPPED)
    other = open_case(shop, big, "refund_only", reason="not_received")
    assert other.assignee_id is None and not rule_events(other)
    check_invariants(shop)


def test_custom_rule_edit_and_disable(shop):
    rule = save_rule(
        shop,
        name="质量问题打标",
        event="case_opened",
        conditions=[{"field": "case.reason", "op": "eq", "value": "quality"}],
        actions=[{"type": "tag", "value": "质量"}],
    )
    assert "质量" in open_case(shop, make_order(shop), "return_refund").tags
    save_rule(
        shop,
        rule_id=rule.id,
        name="质量问题打标",
        event="case_opened",
        conditions=rule.conditions,
        actions=rule.actions,
        enabled=False,
    )
    assert open_case(shop, make_order(shop), "return_refund").tags == []


def test_status_changed_rules_act_on_the_buyers_modification(shop, staff):
    # One rule agrees whatever comes back to awaiting_merchant, another tags every change;
    # the agreement a rule makes fires the next status_changed round (to the depth guard).
    save_rule(
        shop,
        name="自动同意",
        event="status_changed",
        conditions=[{"field": "case.status", "op": "eq", "value": "awaiting_merchant"}],
        actions=[{"type": "agree"}],
    )
    save_rule(
        shop,
        name="变更打标",
        event="status_changed",
        conditions=[],
        actions=[{"type": "tag", "value": "变更"}],
    )
    order = make_order(shop)
    case = open_case(shop, order, "refund_only")
    case = services.reject(case.id, staff.agent, reason="no")
    case = services.modify(case.id, buyer(order))
    case.refresh_from_db()
    assert case.status == S.REFUNDING
    assert "变更" in case.tags
    check_invariants(shop)


@pytest.mark.parametrize(
    "event, conditions, actions",
    [
        ("case_exploded", [], [{"type": "agree"}]),
        ("case_opened", [], []),
        ("case_opened", "case.type == refund_only", [{"type": "agree"}]),
        ("case_opened", [{"field": "case.secret", "op": "eq", "value": 1}], [{"type": "agree"}]),
        ("case_opened", [{"field": "case.type", "op": "like", "value": "r%"}], [{"type": "agree"}]),
        ("case_opened", [{"field": "case.type", "op": "eq"}], [{"type": "agree"}]),
        ("case_opened", ["case.type"], [{"type": "agree"}]),
        ("case_opened", [], [{"type": "refund_everything"}]),
        ("case_opened", [], [{"kind": "agree"}]),
        ("case_opened", [], {"type": "agree"}),
        # Values the engine could not use: caught here, not when a buyer opens a case.
        ("case_opened", [], [{"type": "set_priority", "value": "high"}]),
        ("case_opened", [], [{"type": "set_priority", "value": 9}]),
        ("case_opened", [], [{"type": "assign", "value": "老王"}]),
        ("case_opened", [], [{"type": "tag", "value": ""}]),
        ("case_opened", [], [{"type": "reply"}]),
        (
            "case_opened",
            [{"field": "case.requested_refund_fen", "op": "lte", "value": "20000"}],
            [{"type": "agree"}],
        ),
        ("case_opened", [{"field": "case.type", "op": "gt", "value": 3}], [{"type": "agree"}]),
        (
            "case_opened",
            [{"field": "case.type", "op": "in", "value": "refund_only"}],
            [{"type": "agree"}],
        ),
        (
            "case_opened",
            [{"field": "order.total_paid_fen", "op": "contains", "value": "1"}],
            [{"type": "agree"}],
        ),
    ],
)
def test_invalid_rules_are_rejected(shop, event, conditions, actions):
    before = AutomationRule.objects.count()
    with pytest.raises(ShouhouError) as exc:
        save_rule(shop, name="坏规则", event=event, conditions=conditions, actions=actions)
    assert exc.value.code == "rule_invalid"
    assert AutomationRule.objects.count() == before


def test_every_template_is_a_valid_rule():
    for spec in TEMPLATES.values():
        engine.validate(spec["conditions"], spec["actions"])
        assert set(c["field"] for c in spec["conditions"]) <= engine.FIELDS


def test_rules_of_another_shop_never_act(shop, other_shop):
    set_template_enabled(other_shop, "fast_refund", True)
    assert unshipped_refund(shop).status == S.AWAITING_MERCHANT


def test_a_rule_whose_action_cannot_run_never_breaks_the_buyers_application(shop):
    # Saved before validation was tightened (or written straight to the table): the engine
    # records why it did not act and the application goes through.
    rule = AutomationRule.objects.create(
        shop=shop,
        name="旧规则",
        event="case_opened",
        conditions=[{"field": "case.requested_refund_fen", "op": "lt", "value": "x"}],
        actions=[{"type": "agree"}],
        enabled=True,
    )
    other = AutomationRule.objects.create(
        shop=shop,
        name="旧规则 2",
        event="case_opened",
        conditions=[],
        actions=[{"type": "assign", "value": "老王"}, {"type": "tag", "value": "已读"}],
        enabled=True,
    )
    case = open_case(shop, make_order(shop), "refund_only")
    assert case.status == S.AWAITING_MERCHANT
    assert not case.timeline.filter(rule=rule).exists()  # its condition cannot hold
    assert case.timeline.filter(rule=other, action="rule_fired").exists()
    assert case.tags == ["已读"]
    check_invariants(shop)
