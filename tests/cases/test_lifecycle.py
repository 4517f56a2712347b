"""The pure lifecycle table (cases/lifecycle.py) read as the spec: every arrow of PRODUCT.md §2
for every type, who may take it, the deadline each status carries, and what is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shouhou.cases import lifecycle as lc

S, A, R, T = lc.Status, lc.Action, lc.ActorRole, lc.CaseType
ALL_ROLES = frozenset(R)

# --- the happy path of every type, as PRODUCT.md §2 draws it --------------------------------
# (action, role that takes it, status after)
HAPPY_PATHS: dict[str, list[tuple[lc.Action, lc.ActorRole, lc.Status]]] = {
    "refund_only": [
        (A.OPEN, R.BUYER, S.AWAITING_MERCHANT),
        (A.AGREE, R.AGENT, S.REFUNDING),
        (A.CONFIRM_REFUND, R.FINANCE, S.COMPLETED),
    ],
    "return_refund": [
        (A.OPEN, R.BUYER, S.AWAITING_MERCHANT),
        (A.AGREE, R.AGENT, S.AWAITING_BUYER_RETURN),
        (A.SHIP_RETURN, R.BUYER, S.AWAITING_MERCHANT_RECEIPT),
        (A.CONFIRM_RECEIPT, R.WAREHOUSE, S.REFUNDING),
        (A.CONFIRM_REFUND, R.FINANCE, S.COMPLETED),
    ],
    "exchange": [
        (A.OPEN, R.BUYER, S.AWAITING_MERCHANT),
        (A.AGREE, R.AGENT, S.AWAITING_BUYER_RETURN),
        (A.SHIP_RETURN, R.BUYER, S.AWAITING_MERCHANT_RECEIPT),
        (A.CONFIRM_RECEIPT, R.WAREHOUSE, S.AWAITING_MERCHANT_SHIPMENT),
        (A.SHIP_REPLACEMENT, R.WAREHOUSE, S.AWAITING_BUYER_RECEIPT),
        (A.CONFIRM_DELIVERY, R.BUYER, S.COMPLETED),
    ],
    "repair": [
        (A.OPEN, R.BUYER, S.AWAITING_MERCHANT),
        (A.AGREE, R.AGENT, S.AWAITING_BUYER_RETURN),
        (A.SHIP_RETURN, R.BUYER, S.AWAITING_MERCHANT_RECEIPT),
        (A.CONFIRM_RECEIPT, R.WAREHOUSE, S.AWAITING_MERCHANT_SHIPMENT),
        (A.SHIP_REPLACEMENT, R.WAREHOUSE, S.AWAITING_BUYER_RECEIPT),
        (A.CONFIRM_DELIVERY, R.BUYER, S.COMPLETED),
    ],
    "reship": [
        (A.OPEN, R.BUYER, S.AWAITING_MERCHANT),
        (A.AGREE, R.AGENT, S.AWAITING_MERCHANT_SHIPMENT),
        (A.SHIP_REPLACEMENT, R.WAREHOUSE, S.AWAITING_BUYER_RECEIPT),
        (A.CONFIRM_DELIVERY, R.BUYER, S.COMPLETED),
    ],
    "price_protect": [
        (A.OPEN, R.BUYER, S.AWAITING_MERCHANT),
        (A.AGREE, R.AGENT, S.REFUNDING),
        (A.CONFIRM_REFUND, R.FINANCE, S.COMPLETED),
    ],
}


def test_every_type_has_a_happy_path():
    assert set(HAPPY_PATHS) == {t.value for t in T}


@pytest.mark.parametrize("case_type", sorted(HAPPY_PATHS))
def test_happy_path_walks_to_completed(case_type):
    status = None
    for action, role, expected in HAPPY_PATHS[case_type]:
        step = lc.plan(status, action, role, path=case_type)
        assert step.to_status == expected, (case_type, action)
        assert step.from_status == status
        assert step.path == case_type
        assert step.changes_status
        status = step.to_status
    assert status in lc.TERMINAL


@pytest.mark.parametrize("case_type", sorted(HAPPY_PATHS))
def test_only_money_paths_pass_through_refunding(case_type):
    statuses = [to for _, _, to in HAPPY_PATHS[case_type]]
    assert (S.REFUNDING in statuses) == (case_type in lc.MONEY_PATHS)


@pytest.mark.parametrize("case_type", [t.value for t in T])
def test_review_puts_new_cases_in_submitted(case_type):
    step = lc.plan(None, A.OPEN, R.BUYER, path=case_type, review_new_cases=True)
    assert step.to_status == S.SUBMITTED
    assert lc.plan(S.SUBMITTED, A.PASS_REVIEW, R.ARBITER, path=case_type).to_status == (
        S.AWAITING_MERCHANT
    )
    assert lc.plan(S.SUBMITTED, A.PASS_REVIEW, R.SYSTEM, path=case_type).to_status == (
        S.AWAITING_MERCHANT
    )
    assert lc.plan(S.SUBMITTED, A.DISMISS, R.ARBITER, path=case_type).to_status == S.CLOSED


# --- side arrows ------------------------------------------------------------------------------
@pytest.mark.parametrize("case_type", [t.value for t in T])
def test_reject_then_modify_goes_back_to_the_shop(case_type):
    assert lc.plan(S.AWAITING_MERCHANT, A.REJECT, R.AGENT, path=case_type).to_status == S.REJECTED
    assert lc.plan(S.REJECTED, A.MODIFY, R.BUYER, path=case_type).to_status == S.AWAITING_MERCHANT


AGREED = {
    "refund_only": S.REFUNDING,
    "price_protect": S.REFUNDING,
    "return_refund": S.AWAITING_BUYER_RETURN,
    "exchange": S.AWAITING_BUYER_RETURN,
    "repair": S.AWAITING_BUYER_RETURN,
    "reship": S.AWAITING_MERCHANT_SHIPMENT,
}


@pytest.mark.parametrize("case_type", [t.value for t in T])
def test_escalation_ruled_for_buyer_resumes_the_buyers_path(case_type):
    assert lc.plan(S.REJECTED, A.ESCALATE, R.BUYER, path=case_type).to_status == S.IN_ARBITRATION
    ruled = lc.plan(S.IN_ARBITRATION, A.RULE_FOR_BUYER, R.ARBITER, path=case_type)
    # Same place the shop's own agreement would have led.
    assert ruled.to_status == AGREED[case_type]
    assert (
        ruled.to_status == lc.plan(S.AWAITING_MERCHANT, A.AGREE, R.AGENT, path=case_type).to_status
    )


@pytest.mark.parametrize("case_type", [t.value for t in T])
def test_escalation_ruled_for_shop_closes(case_type):
    assert lc.plan(S.IN_ARBITRATION, A.RULE_FOR_SHOP, R.ARBITER, path=case_type).to_status == (
        S.CLOSED
    )


@pytest.mark.parametrize("case_type", ["return_refund", "exchange", "repair"])
def test_failed_inspection_rejects(case_type):
    step = lc.plan(S.AWAITING_MERCHANT_RECEIPT, A.FAIL_INSPECTION, R.WAREHOUSE, path=case_type)
    assert step.to_status == S.REJECTED


PROPOSALS = {
    lc.ProposalKind.PARTIAL_REFUND: S.REFUNDING,
    lc.ProposalKind.RESHIP: S.AWAITING_MERCHANT_SHIPMENT,
    lc.ProposalKind.EXCHANGE: S.AWAITING_BUYER_RETURN,
    lc.ProposalKind.COUPON: S.COMPLETED,
}


@pytest.mark.parametrize("case_type", [t.value for t in T])
@pytest.mark.parametrize("kind", list(lc.ProposalKind))
def test_proposal_accepted_follows_the_proposals_path(case_type, kind):
    assert (
        lc.plan(S.AWAITING_MERCHANT, A.PROPOSE, R.AGENT, path=case_type).to_status
        == S.PROPOSAL_PENDING
    )
    step = lc.plan(
        S.PROPOSAL_PENDING,
        A.ACCEPT_PROPOSAL,
        R.BUYER,
        path=case_type,
        proposal_path=lc.PROPOSAL_PATH[kind],
    )
    assert step.to_status == PROPOSALS[kind]
    assert step.path == lc.PROPOSAL_PATH[kind]


@pytest.mark.parametrize("case_type", [t.value for t in T])
def test_proposal_declined_or_expired_goes_back_to_the_shop(case_type):
    for action, role in ((A.DECLINE_PROPOSAL, R.BUYER), (A.EXPIRE_PROPOSAL, R.SYSTEM)):
        assert lc.plan(S.PROPOSAL_PENDING, action, role, path=case_type).to_status == (
            S.AWAITING_MERCHANT
        )


def test_accept_without_a_proposal_is_refused():
    with pytest.raises(lc.NotAllowed) as exc:
        lc.plan(S.PROPOSAL_PENDING, A.ACCEPT_PROPOSAL, R.BUYER, path="refund_only")
    assert exc.value.code == "action_not_allowed"


CANCELLABLE = {
    S.SUBMITTED,
    S.AWAITING_MERCHANT,
    S.PROPOSAL_PENDING,
    S.REJECTED,
    S.IN_ARBITRATION,
    S.AWAITING_BUYER_RETURN,
    S.AWAITING_MERCHANT_RECEIPT,
}


@pytest.mark.parametrize("status", list(S))
def test_buyer_may_cancel_before_refunding_only(status):
    if status in CANCELLABLE:
        assert lc.plan(status, A.CANCEL, R.BUYER, path="return_refund").to_status == S.CLOSED
    else:
        with pytest.raises(lc.NotAllowed) as exc:
            lc.plan(status, A.CANCEL, R.BUYER, path="return_refund")
        assert exc.value.code == "action_not_allowed"


def test_refunding_and_terminal_statuses_cannot_be_cancelled():
    for status in (S.REFUNDING, S.COMPLETED, S.CLOSED):
        assert A.CANCEL not in lc.allowed_actions(status, "refund_only", R.BUYER)


def test_only_closed_cases_reopen_and_terminal_cases_take_ratings():
    assert lc.plan(S.CLOSED, A.REOPEN, R.BUYER, path="refund_only").to_status == (
        S.AWAITING_MERCHANT
    )
    with pytest.raises(lc.NotAllowed):
        lc.plan(S.COMPLETED, A.REOPEN, R.BUYER, path="refund_only")
    for status in lc.TERMINAL:
        step = lc.plan(status, A.RATE, R.BUYER, path="refund_only")
        assert step.to_status == status and not step.changes_status
    for status in lc.OPEN_STATUSES:
        with pytest.raises(lc.NotAllowed):
            lc.plan(status, A.RATE, R.BUYER, path="refund_only")


# --- who may do what ----------------------------------------------------------------------------
WHO = {
    (None, A.OPEN): {R.BUYER, R.INTEGRATION, R.AGENT, R.ADMIN},
    (S.SUBMITTED, A.PASS_REVIEW): {R.ARBITER, R.SYSTEM},
    (S.SUBMITTED, A.DISMISS): {R.ARBITER},
    (S.AWAITING_MERCHANT, A.AGREE): {R.AGENT, R.ADMIN, R.INTEGRATION, R.FINANCE, R.SYSTEM},
    (S.AWAITING_MERCHANT, A.REJECT): {R.AGENT, R.ADMIN, R.INTEGRATION},
    (S.AWAITING_MERCHANT, A.PROPOSE): {R.AGENT, R.ADMIN, R.INTEGRATION},
    (S.PROPOSAL_PENDING, A.DECLINE_PROPOSAL): {R.BUYER, R.INTEGRATION},
    (S.PROPOSAL_PENDING, A.EXPIRE_PROPOSAL): {R.SYSTEM},
    (S.AWAITING_BUYER_RETURN, A.SHIP_RETURN): {R.BUYER, R.INTEGRATION},
    (S.AWAITING_BUYER_RETURN, A.CLOSE_OVERDUE): {R.SYSTEM},
    (S.AWAITING_MERCHANT_RECEIPT, A.CONFIRM_RECEIPT): {
        R.WAREHOUSE,
        R.AGENT,
        R.ADMIN,
        R.INTEGRATION,
        R.SYSTEM,
    },
    (S.AWAITING_MERCHANT_RECEIPT, A.FAIL_INSPECTION): {
        R.WAREHOUSE,
        R.AGENT,
        R.ADMIN,
        R.INTEGRATION,
    },
    (S.AWAITING_MERCHANT_SHIPMENT, A.SHIP_REPLACEMENT): {
        R.WAREHOUSE,
        R.AGENT,
        R.ADMIN,
        R.INTEGRATION,
    },
    (S.AWAITING_BUYER_RECEIPT, A.CONFIRM_DELIVERY): {R.BUYER, R.INTEGRATION, R.SYSTEM},
    (S.REFUNDING, A.CONFIRM_REFUND): {R.FINANCE, R.ADMIN, R.INTEGRATION, R.SYSTEM},
    (S.REJECTED, A.MODIFY): {R.BUYER, R.INTEGRATION},
    (S.REJECTED, A.ESCALATE): {R.BUYER, R.INTEGRATION},
    (S.REJECTED, A.CLOSE_OVERDUE): {R.SYSTEM},
    (S.IN_ARBITRATION, A.RULE_FOR_BUYER): {R.ARBITER},
    (S.IN_ARBITRATION, A.RULE_FOR_SHOP): {R.ARBITER},
    (S.CLOSED, A.REOPEN): {R.BUYER, R.INTEGRATION},
    (S.AWAITING_MERCHANT, A.CANCEL): {R.BUYER, R.INTEGRATION},
}
PATH_FOR = {
    A.SHIP_RETURN: "return_refund",
    A.CONFIRM_RECEIPT: "return_refund",
    A.FAIL_INSPECTION: "return_refund",
    A.SHIP_REPLACEMENT: "exchange",
}


@pytest.mark.parametrize("key", list(WHO), ids=lambda k: f"{k[0]}-{k[1]}")
def test_who_may_take_each_step(key):
    status, action = key
    path = PATH_FOR.get(action, "refund_only")
    for role in ALL_ROLES:
        if role in WHO[key]:
            lc.plan(status, action, role, path=path)
        else:
            with pytest.raises(lc.NotAllowed) as exc:
                lc.plan(status, action, role, path=path)
            assert exc.value.code == "role_not_allowed", (role, action)


def test_buyer_never_decides_for_the_shop_and_the_shop_never_acts_for_the_buyer():
    merchant_actions = {A.AGREE, A.REJECT, A.PROPOSE, A.CONFIRM_RECEIPT, A.SHIP_REPLACEMENT}
    buyer_actions = {A.ACCEPT_PROPOSAL, A.SHIP_RETURN, A.MODIFY, A.ESCALATE, A.CANCEL, A.REOPEN}
    for (_, action), (roles, _) in lc.TRANSITIONS.items():
        if action in merchant_actions:
            assert R.BUYER not in roles
        if action in buyer_actions:
            assert R.AGENT not in roles and R.WAREHOUSE not in roles and R.FINANCE not in roles
        if action in {A.RULE_FOR_BUYER, A.RULE_FOR_SHOP, A.DISMISS}:
            assert roles == {R.ARBITER}


def test_system_only_takes_timeout_and_automation_steps():
    system_actions = {
        action for (_, action), (roles, _) in lc.TRANSITIONS.items() if R.SYSTEM in roles
    }
    assert system_actions == {
        A.PASS_REVIEW,
        A.AGREE,
        A.EXPIRE_PROPOSAL,
        A.CLOSE_OVERDUE,
        A.CONFIRM_RECEIPT,
        A.ALERT,
        A.CONFIRM_DELIVERY,
        A.CONFIRM_REFUND,
    }


# --- what is refused, and with which code -------------------------------------------------------
@pytest.mark.parametrize(
    "status, action, role, path, code",
    [
        (S.REFUNDING, A.AGREE, R.AGENT, "refund_only", "action_not_allowed"),
        (S.COMPLETED, A.AGREE, R.AGENT, "refund_only", "action_not_allowed"),
        (S.CLOSED, A.CANCEL, R.BUYER, "refund_only", "action_not_allowed"),
        (S.AWAITING_MERCHANT, A.SHIP_RETURN, R.BUYER, "return_refund", "action_not_allowed"),
        (S.AWAITING_MERCHANT, A.CONFIRM_REFUND, R.FINANCE, "refund_only", "action_not_allowed"),
        (S.AWAITING_MERCHANT, A.AGREE, R.BUYER, "refund_only", "role_not_allowed"),
        (S.AWAITING_MERCHANT, A.AGREE, R.WAREHOUSE, "refund_only", "role_not_allowed"),
        (S.AWAITING_MERCHANT, A.REJECT, R.SYSTEM, "refund_only", "role_not_allowed"),
        (S.AWAITING_MERCHANT, A.REJECT, R.FINANCE, "refund_only", "role_not_allowed"),
        (S.IN_ARBITRATION, A.RULE_FOR_BUYER, R.AGENT, "refund_only", "role_not_allowed"),
        (S.REFUNDING, A.CONFIRM_REFUND, R.BUYER, "refund_only", "role_not_allowed"),
        (S.CLOSED, A.REOPEN, R.AGENT, "refund_only", "role_not_allowed"),
        # Steps that exist, but not for this type's path.
        (S.AWAITING_BUYER_RETURN, A.SHIP_RETURN, R.BUYER, "refund_only", "type_not_allowed"),
        (S.AWAITING_BUYER_RETURN, A.SHIP_RETURN, R.BUYER, "reship", "type_not_allowed"),
        (S.AWAITING_MERCHANT_RECEIPT, A.CONFIRM_RECEIPT, R.WAREHOUSE, "reship", "type_not_allowed"),
        (
            S.AWAITING_MERCHANT_RECEIPT,
            A.FAIL_INSPECTION,
            R.WAREHOUSE,
            "price_protect",
            "type_not_allowed",
        ),
        (
            S.AWAITING_MERCHANT_SHIPMENT,
            A.SHIP_REPLACEMENT,
            R.WAREHOUSE,
            "return_refund",
            "type_not_allowed",
        ),
        (
            S.AWAITING_MERCHANT_SHIPMENT,
            A.SHIP_REPLACEMENT,
            R.WAREHOUSE,
            "coupon",
            "type_not_allowed",
        ),
    ],
)
def test_illegal_steps_raise_not_allowed_with_a_stable_code(status, action, role, path, code):
    with pytest.raises(lc.NotAllowed) as exc:
        lc.plan(status, action, role, path=path)
    assert exc.value.code == code
    assert exc.value.params  # the API message needs them


def test_role_is_checked_before_path():
    with pytest.raises(lc.NotAllowed) as exc:
        lc.plan(S.AWAITING_BUYER_RETURN, A.SHIP_RETURN, R.AGENT, path="refund_only")
    assert exc.value.code == "role_not_allowed"


def test_every_pair_not_in_the_table_is_refused():
    for status in [None, *S]:
        for action in A:
            if (status, action) in lc.TRANSITIONS:
                continue
            with pytest.raises(lc.NotAllowed) as exc:
                lc.plan(status, action, R.ADMIN, path="return_refund")
            assert exc.value.code == "action_not_allowed"


def test_terminal_statuses_only_rate_or_reopen():
    for status in lc.TERMINAL:
        moves = {
            action
            for (frm, action), (_, targets) in lc.TRANSITIONS.items()
            if frm == status and any(t is not None for t in targets.values())
        }
        assert moves <= {A.REOPEN}
    assert lc.allowed_actions(S.COMPLETED, "refund_only", R.BUYER) == [A.RATE]


def test_allowed_actions_matches_plan():
    for status in [None, *S]:
        for path in lc.PATHS:
            for role in R:
                allowed = set(lc.allowed_actions(status, path, role))
                for action in A:
                    proposal_path = "reship" if action == A.ACCEPT_PROPOSAL else None
                    try:
                        lc.plan(status, action, role, path=path, proposal_path=proposal_path)
                    except lc.NotAllowed:
                        assert action not in allowed, (status, path, role, action)
                    else:
                        assert action in allowed, (status, path, role, action)


def test_every_status_is_reachable_and_every_open_status_can_end():
    reachable = {S.AWAITING_MERCHANT, S.SUBMITTED}
    changed = True
    while changed:
        changed = False
        for (frm, _), (_, targets) in lc.TRANSITIONS.items():
            if frm in reachable:
                for to in targets.values():
                    if to is not None and to not in reachable:
                        reachable.add(to)
                        changed = True
    assert reachable == set(S)
    # From every open status some sequence reaches a terminal one.
    can_end = set(lc.TERMINAL)
    changed = True
    while changed:
        changed = False
        for (frm, _), (_, targets) in lc.TRANSITIONS.items():
            if (
                frm is not None
                and frm not in can_end
                and any(t in can_end for t in targets.values())
            ):
                can_end.add(frm)
                changed = True
    assert can_end == set(S)


# --- deadlines ----------------------------------------------------------------------------------
EXPECTED_DEADLINES = {
    S.SUBMITTED: (48, A.PASS_REVIEW),
    S.AWAITING_MERCHANT: (72, A.AGREE),
    S.AWAITING_BUYER_RETURN: (7 * 24, A.CLOSE_OVERDUE),
    S.AWAITING_MERCHANT_RECEIPT: (10 * 24, A.CONFIRM_RECEIPT),
    S.AWAITING_MERCHANT_SHIPMENT: (48, A.ALERT),
    S.AWAITING_BUYER_RECEIPT: (10 * 24, A.CONFIRM_DELIVERY),
    S.PROPOSAL_PENDING: (3 * 24, A.EXPIRE_PROPOSAL),
    S.REJECTED: (5 * 24, A.CLOSE_OVERDUE),
    S.IN_ARBITRATION: (5 * 24, A.ALERT),
    S.REFUNDING: (24, A.ALERT),
}


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("shipped", [True, False])
def test_deadline_per_status(status, shipped):
    got = lc.deadline_for(status, path="return_refund", order_shipped=shipped)
    if status in lc.TERMINAL:
        assert got is None
    else:
        hours, action = EXPECTED_DEADLINES[status]
        assert got == (timedelta(hours=hours), action)


@pytest.mark.parametrize("case_type", [t.value for t in T])
@pytest.mark.parametrize("shipped", [True, False])
def test_unshipped_refund_only_waits_24_hours(case_type, shipped):
    delta, action = lc.deadline_for(S.AWAITING_MERCHANT, path=case_type, order_shipped=shipped)
    assert action == A.AGREE
    short = case_type == "refund_only" and not shipped
    assert delta == timedelta(hours=24 if short else 72)


def test_deadline_actions_are_steps_the_system_may_take():
    for key, rule in lc.DEADLINES.items():
        status = S.AWAITING_MERCHANT if key == "awaiting_merchant_unshipped" else S(key)
        path = {
            S.AWAITING_MERCHANT_RECEIPT: "return_refund",
            S.AWAITING_BUYER_RETURN: "return_refund",
        }.get(status, "reship" if status == S.AWAITING_MERCHANT_SHIPMENT else "refund_only")
        step = lc.plan(status, rule.action, R.SYSTEM, path=path)
        assert step.from_status == status


def test_shop_overrides_deadline_hours():
    delta, _ = lc.deadline_for(
        S.AWAITING_MERCHANT,
        path="refund_only",
        order_shipped=False,
        overrides={"awaiting_merchant_unshipped": 6, "awaiting_merchant": 12},
    )
    assert delta == timedelta(hours=6)
    delta, _ = lc.deadline_for(
        S.AWAITING_MERCHANT,
        path="refund_only",
        order_shipped=True,
        overrides={"awaiting_merchant_unshipped": 6, "awaiting_merchant": 12},
    )
    assert delta == timedelta(hours=12)


def test_rating_window_is_15_days():
    assert lc.RATING_WINDOW == timedelta(days=15)


def test_default_reason_types_cover_every_reason_and_price_change_only_price_protects():
    assert set(lc.DEFAULT_REASON_TYPES) == set(lc.Reason)
    assert lc.DEFAULT_REASON_TYPES[lc.Reason.PRICE_CHANGE] == {T.PRICE_PROTECT}
    assert lc.DEFAULT_REASON_TYPES[lc.Reason.CHANGED_MIND_UNSHIPPED] == {T.REFUND_ONLY}
    for reason, types in lc.DEFAULT_REASON_TYPES.items():
        if reason not in {lc.Reason.PRICE_CHANGE, lc.Reason.OTHER}:
            assert T.PRICE_PROTECT not in types


def test_step_properties():
    step = lc.plan(S.AWAITING_MERCHANT, A.AGREE, R.AGENT, path="refund_only")
    assert step.issues_refund and step.changes_status and not step.closes
    step = lc.plan(S.REFUNDING, A.CONFIRM_REFUND, R.FINANCE, path="refund_only")
    assert not step.issues_refund and step.closes
    step = lc.plan(S.REFUNDING, A.ALERT, R.SYSTEM, path="refund_only")
    assert not step.issues_refund and not step.changes_status


def test_labels_cover_every_code():
    assert set(lc.STATUS_LABELS) == set(S)
    assert set(lc.ACTION_LABELS) == set(A)
    assert set(lc.ROLE_LABELS) == set(R)
    assert set(lc.CASE_TYPE_LABELS) == set(T)
    assert set(lc.REASON_LABELS) == set(lc.Reason)
    assert set(lc.PROPOSAL_LABELS) == set(lc.ProposalKind)
