"""A hypothesis state machine over the whole case engine.

Buyers, agents, warehouse, finance, admin, arbiter, integrations and the system take random
actions — legal ones, illegal ones, repeats, wrong roles, stale versions — on several cases
sharing a few order lines, while the clock jumps and the deadline sweep runs. After every
step PRODUCT.md §2's invariants must hold (tests/cases/support.check_invariants), and an
action that was refused must have changed nothing at all.

Each example runs inside its own savepoint that is rolled back at teardown, so examples
never see each other's shops, cases or due deadlines.
"""

from __future__ import annotations

import itertools
import os
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Max
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from shouhou.cases import deadlines, services
from shouhou.cases import lifecycle as lc
from shouhou.cases.actors import Actor
from shouhou.cases.models import Case, TimelineEvent
from shouhou.cases.policies import update_policy
from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.core.models import RefundGateway
from shouhou.orders.models import OrderStatus, Shipment, ShipmentDirection
from shouhou.rules.services import save_rule, set_template_enabled
from tests.cases.conftest import START
from tests.cases.support import REASON_FOR, Staff, check_invariants, snapshot, status_events
from tests.factories import buyer, make_customer, make_order, make_shop

A, R = lc.Action, lc.ActorRole
ROLES = [
    "buyer",
    "stranger",
    "agent",
    "admin",
    "warehouse",
    "finance",
    "arbiter",
    "system",
    "integration",
]
ACTIONS = [
    A.AGREE,
    A.REJECT,
    A.PROPOSE,
    A.ACCEPT_PROPOSAL,
    A.DECLINE_PROPOSAL,
    A.SHIP_RETURN,
    A.CONFIRM_RECEIPT,
    A.FAIL_INSPECTION,
    A.SHIP_REPLACEMENT,
    A.CONFIRM_DELIVERY,
    A.CONFIRM_REFUND,
    A.MODIFY,
    A.ESCALATE,
    A.RULE_FOR_BUYER,
    A.RULE_FOR_SHOP,
    A.CANCEL,
    A.REOPEN,
    A.PASS_REVIEW,
    A.DISMISS,
    A.RATE,
    A.ALERT,
    A.EXPIRE_PROPOSAL,
    A.CLOSE_OVERDUE,
]
# The codes a refusal may carry; anything else (or a non-ShouhouError) is a bug.
KNOWN_CODES = {
    "action_not_allowed",
    "role_not_allowed",
    "type_not_allowed",
    "case_conflict",
    "not_found",
    "refund_exceeds_paid",
    "quantity_exceeds_ordered",
    "unknown_order_line",
    "duplicate_line",
    "case_already_open",
    "order_not_paid",
    "outside_after_sales_window",
    "reason_not_allowed",
    "reason_requires_unshipped",
    "deadline_expired",
    "already_rated",
    "rating_window_closed",
    "reopen_not_allowed",
    "refund_already_issued",
    "invalid_tracking",
    "no_return_address",
    "proposal_invalid",
    "validation_error",
    "permission_denied",
    "finance_approval_required",
}
# Refusals a service raises before it reads the case (so before the version check).
BEFORE_LOAD = {"validation_error", "invalid_tracking"}
TEMPLATES = [
    "fast_refund",
    "seven_day_no_reason",
    "auto_refund_on_return_delivered",
    "vip_priority",
]
HOURS = [1, 23, 25, 49, 73, 24 * 6, 24 * 8, 24 * 11]


class CaseEngine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Everything an example writes is undone at teardown (a savepoint in the test's
        # transaction), so the sweep only ever sees this example's cases.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._clock = clock.frozen(START)
        self._clock.__enter__()
        self.shop = None
        self.case_ids: list[int] = []
        self.tracking = itertools.count(100000)

    # --- setup -------------------------------------------------------------------------------
    @initialize(
        instant=st.booleans(),
        finance_limit=st.sampled_from([None, None, 3000]),
        templates=st.sets(st.sampled_from(TEMPLATES)),
        review=st.sampled_from([False, False, False, True]),
        vip=st.booleans(),
        status_rule=st.booleans(),
    )
    def setup(self, instant, finance_limit, templates, review, vip, status_rule):
        self.shop = make_shop(
            review_new_cases=review,
            refund_gateway=RefundGateway.INSTANT if instant else RefundGateway.MANUAL,
        )
        if finance_limit is not None:
            update_policy(self.shop, finance_approval_limit_fen=finance_limit)
        for code in templates:
            set_template_enabled(self.shop, code, True)
        if status_rule:
            # Rules on status_changed also send the sweep down its per-case path.
            save_rule(
                self.shop,
                name="状态变化打标",
                event="status_changed",
                conditions=[{"field": "case.status", "op": "ne", "value": "submitted"}],
                actions=[{"type": "tag", "value": "变更"}],
            )
        self.staff = Staff.of(self.shop)
        c1 = make_customer(self.shop, tier="vip" if vip else "regular")
        c2 = make_customer(self.shop, blocklisted=not vip)
        # A delivered order with two lines and an unshipped one: cases share these lines.
        self.orders = [
            make_order(self.shop, c1, lines=[(2, 5000), (1, 3000)], delivered_days_ago=1),
            make_order(self.shop, c2, lines=[(1, 4000)], status=OrderStatus.PAID),
        ]
        self.lines = {o.id: list(o.lines.order_by("id")) for o in self.orders}
        self.stranger = buyer(make_order(self.shop, make_customer(self.shop)))

    def teardown(self) -> None:
        self._clock.__exit__(None, None, None)
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers -----------------------------------------------------------------------------
    def actor(self, role: str, order) -> Actor:
        if role == "buyer":
            return buyer(order)
        if role == "stranger":
            return self.stranger
        return getattr(self.staff, role)

    def refused_cleanly(self, exc: ShouhouError, before: dict) -> None:
        assert exc.code in KNOWN_CODES, exc.as_dict()
        exc.message("zh-hans")  # the catalog renders with the params given
        assert snapshot(self.shop) == before, f"refused with {exc.code} but wrote something"

    # --- opening -----------------------------------------------------------------------------
    @precondition(lambda self: self.shop is not None and len(self.case_ids) < 8)
    @rule(
        data=st.data(),
        wild=st.integers(0, 3),
        order_idx=st.integers(0, 1),
        case_type=st.sampled_from([t.value for t in lc.CaseType]),
    )
    def open_case(self, data, wild, order_idx, case_type):
        # Three in four applications are sane (so cases exist to act on); the rest draw
        # anything: foreign or repeated lines, odd quantities and amounts, any reason, role.
        wild = wild == 0
        order = self.orders[order_idx]
        own = [ol.id for ol in self.lines[order.id]]
        other = [ol.id for o in self.orders if o.id != order.id for ol in self.lines[o.id]]
        if wild:
            picks = data.draw(st.lists(st.sampled_from(own + other[:1]), min_size=0, max_size=2))
            requests = [
                services.LineRequest(
                    line_id,
                    data.draw(st.integers(0, 3), label="qty"),
                    data.draw(st.one_of(st.none(), st.integers(-1, 6000)), label="line_refund"),
                )
                for line_id in picks
            ]
            reason = data.draw(st.sampled_from([r.value for r in lc.Reason]), label="reason")
            role = data.draw(st.sampled_from(ROLES), label="role")
            case_refund = data.draw(st.one_of(st.none(), st.integers(-1, 9000)), label="refund")
        else:
            picks = data.draw(st.lists(st.sampled_from(own), min_size=1, max_size=2, unique=True))
            quantity = {ol.id: ol.quantity for ol in self.lines[order.id]}
            requests = [
                services.LineRequest(line_id, data.draw(st.integers(1, quantity[line_id])))
                for line_id in picks
            ]
            reason = REASON_FOR[case_type]
            role = data.draw(st.sampled_from(["buyer", "integration", "agent"]), label="role")
            case_refund = None
            if case_type == "price_protect":
                case_refund = data.draw(st.integers(1, 3000), label="difference")
        before = snapshot(self.shop)
        try:
            case = services.open_case(
                self.shop,
                self.actor(role, order),
                order=order,
                type=case_type,
                reason=reason,
                lines=requests,
                refund_fen=case_refund,
            )
        except ShouhouError as exc:
            event(f"open refused: {exc.code}")
            self.refused_cleanly(exc, before)
            return
        event(f"opened: {case.status}")
        assert role in {"buyer", "integration", "agent", "admin"}
        self.case_ids.append(case.id)

    # --- acting on a case --------------------------------------------------------------------
    @precondition(lambda self: bool(self.case_ids))
    @rule(
        data=st.data(),
        wild=st.integers(0, 3),
        version=st.sampled_from(["none", "current", "current", "current", "stale"]),
    )
    def act(self, data, wild, version):
        self._act(data, data.draw(st.sampled_from(self.case_ids), label="case"), wild, version)

    @precondition(lambda self: bool(self.case_ids))
    @rule(data=st.data(), version=st.sampled_from(["none", "current"]))
    def act_on_newest(self, data, version):
        # Only steps the table allows, with a fresh version: keeps one case moving deep into
        # its flow (returns, arbitration, refunds) rather than many shallow ones.
        self._act(data, self.case_ids[-1], 1, version)

    def _act(self, data, case_id: int, wild: int, version: str) -> None:
        case = Case.objects.select_related("order").get(pk=case_id)
        # Three in four actions are ones the table allows someone to take now (they may still
        # be refused: amounts, deadlines, versions); the rest are any action by any role.
        allowed: dict[lc.Action, list[str]] = {}
        for r in R:
            for action in lc.allowed_actions(lc.Status(case.status), case.path, r):
                if action in ACTIONS:
                    allowed.setdefault(action, []).append("buyer" if r == R.BUYER else r.value)
        if wild == 0 or not allowed:
            action = data.draw(st.sampled_from(ACTIONS), label="action")
            role = data.draw(st.sampled_from(ROLES), label="role")
        else:
            action = data.draw(st.sampled_from(sorted(allowed)), label="allowed action")
            role = data.draw(st.sampled_from(allowed[action]), label="allowed role")
        actor = self.actor(role, case.order)
        kwargs = self.params(data, action, case)
        service = services.rate if action == A.RATE else services.ACTION_SERVICES[action]
        takes_version = action not in {A.RATE, A.ALERT, A.EXPIRE_PROPOSAL, A.CLOSE_OVERDUE}
        if takes_version and version != "none":
            kwargs["expected_version"] = case.version - (1 if version == "stale" else 0)
        before = snapshot(self.shop)
        last_event = TimelineEvent.objects.filter(case_id=case_id).aggregate(m=Max("id"))["m"]
        try:
            service(case_id, actor, **kwargs)
        except ShouhouError as exc:
            event(f"refused: {exc.code}")
            self.refused_cleanly(exc, before)
            if version == "stale" and takes_version and role != "stranger":
                assert exc.code == "case_conflict" or exc.code in BEFORE_LOAD, exc.code
            return
        assert role != "stranger", "a buyer acted on someone else's case"
        assert version != "stale" or not takes_version, "a stale version was accepted"
        after = Case.objects.get(pk=case_id)
        event(f"{action.value}: {case.status} → {after.status}")
        if action == A.AGREE and case.awaiting_finance and after.awaiting_finance:
            # Agreeing again while finance has not decided is an idempotent no-op.
            assert snapshot(self.shop) == before
            return
        assert after.version > case.version
        # The first status change this action made is the lifecycle table's own step.
        new = [e for e in status_events(case_id) if e.id > last_event]
        if new:
            proposal_path = lc.PROPOSAL_PATH.get(case.proposal_kind) if case.proposal_kind else None
            step = lc.plan(
                lc.Status(case.status),
                action,
                actor.role,
                path=case.path,
                proposal_path=proposal_path,
            )
            assert (new[0].action, new[0].from_status, new[0].to_status) == (
                action.value,
                case.status,
                step.to_status.value,
            )

    def params(self, data, action: lc.Action, case: Case) -> dict:
        money = st.one_of(st.none(), st.integers(0, 11000))
        if action == A.AGREE:
            return {"refund_fen": data.draw(money, label="agree_refund")}
        if action in {A.REJECT, A.FAIL_INSPECTION, A.RULE_FOR_BUYER, A.RULE_FOR_SHOP, A.DISMISS}:
            return {"reason": "理由"}
        if action == A.PROPOSE:
            kind = data.draw(st.sampled_from([k.value for k in lc.ProposalKind]), label="kind")
            amount = data.draw(st.integers(0, 11000), label="proposal_refund")
            return {"kind": kind, "refund_fen": amount if kind == "partial_refund" else 0}
        if action in {A.SHIP_RETURN, A.SHIP_REPLACEMENT}:
            good = data.draw(st.integers(0, 9), label="tracking_kind") > 0
            return {
                "carrier": "顺丰",
                "tracking_no": f"SF{next(self.tracking)}" if good else "bad no",
            }
        if action == A.MODIFY:
            return {"refund_fen": data.draw(money, label="modify_refund")}
        if action == A.RATE:
            return {"speed": data.draw(st.integers(0, 5)), "satisfaction": 5}
        return {}

    @precondition(lambda self: bool(self.case_ids))
    @rule(data=st.data(), version=st.sampled_from(["none", "current", "stale"]))
    def add_note(self, data, version):
        case = Case.objects.get(pk=data.draw(st.sampled_from(self.case_ids), label="case"))
        kwargs = {}
        if version != "none":
            kwargs["expected_version"] = case.version - (1 if version == "stale" else 0)
        before = snapshot(self.shop)
        try:
            services.add_note(case.id, self.staff.agent, text="跟进", **kwargs)
        except ShouhouError as exc:
            self.refused_cleanly(exc, before)
            assert version == "stale" and exc.code == "case_conflict"
            return
        assert version != "stale"

    def undelivered_returns(self) -> list[str]:
        return list(
            Shipment.objects.filter(
                shop=self.shop, direction=ShipmentDirection.RETURN, delivered_at__isnull=True
            ).values_list("tracking_no", flat=True)
        )

    @precondition(lambda self: self.shop is not None and self.undelivered_returns())
    @rule(data=st.data())
    def parcel_delivered(self, data):
        returns = self.undelivered_returns()
        tracking = data.draw(st.sampled_from([*returns, "SF0"]), label="tracking")
        before = snapshot(self.shop)
        try:
            services.record_parcel_delivered(
                self.shop, self.staff.integration, carrier="顺丰", tracking_no=tracking
            )
        except ShouhouError as exc:
            self.refused_cleanly(exc, before)
            assert tracking == "SF0"

    # --- time ----------------------------------------------------------------------------------
    @precondition(lambda self: self.shop is not None)
    @rule(hours=st.sampled_from([0, *HOURS]), then_sweep=st.integers(0, 2))
    def time_passes(self, hours, then_sweep):
        self._clock.advance(timedelta(hours=hours))
        if then_sweep:
            self.sweep()

    def sweep(self) -> None:
        now = clock.now()
        result = deadlines.sweep(batch_size=3)
        for action in result.by_action:
            event(f"swept: {action}")
        if result.failed:
            event("swept: parked")
        # Nothing this shop holds is left due, except what the sweep parked for later.
        for case in Case.objects.filter(shop=self.shop, deadline_at__lte=now):
            raise AssertionError(f"case {case.id} still due after the sweep: {case.status}")
        for case in Case.objects.filter(shop=self.shop):
            if "deadline_failed" in case.flags:
                assert case.timeline.filter(action="rule_fired").exists()

    # --- the invariants ------------------------------------------------------------------------
    @invariant()
    def invariants_hold(self):
        if self.shop is not None:
            check_invariants(self.shop)


@pytest.mark.django_db
def test_case_engine_state_machine():
    # About 45 s per backend at the CI default; raise the env vars for a longer hunt.
    run_state_machine_as_test(
        CaseEngine,
        settings=settings(
            max_examples=int(os.environ.get("SHOUHOU_STATEFUL_EXAMPLES", 50)),
            stateful_step_count=int(os.environ.get("SHOUHOU_STATEFUL_STEPS", 30)),
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
