"""How cases are put into words on pages: labels in both languages, deadlines in plain words.

The Chinese labels live in lifecycle.py beside the codes; the English ones live here, with
the sentences that tell a buyer or an agent who the case waits for and what happens when
the time runs out ("商家将在 2天3小时 内处理，超时将自动同意").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shouhou.core.i18n import is_english

from . import lifecycle as lc

S = lc.Status

STATUS_EN = {
    S.SUBMITTED: "Under review",
    S.AWAITING_MERCHANT: "Awaiting shop",
    S.AWAITING_BUYER_RETURN: "Awaiting buyer's return",
    S.AWAITING_MERCHANT_RECEIPT: "Awaiting shop's receipt",
    S.AWAITING_MERCHANT_SHIPMENT: "Awaiting shop's shipment",
    S.AWAITING_BUYER_RECEIPT: "Awaiting buyer's receipt",
    S.PROPOSAL_PENDING: "Proposal awaiting buyer",
    S.REJECTED: "Rejected by shop",
    S.IN_ARBITRATION: "Platform intervening",
    S.REFUNDING: "Refunding",
    S.COMPLETED: "Completed",
    S.CLOSED: "Closed",
}
TYPE_EN = {
    lc.CaseType.REFUND_ONLY: "Refund only",
    lc.CaseType.RETURN_REFUND: "Return & refund",
    lc.CaseType.EXCHANGE: "Exchange",
    lc.CaseType.RESHIP: "Reship",
    lc.CaseType.REPAIR: "Repair",
    lc.CaseType.PRICE_PROTECT: "Price protection",
}
REASON_EN = {
    lc.Reason.NO_REASON_7D: "7-day no-reason return",
    lc.Reason.QUALITY: "Quality problem",
    lc.Reason.DAMAGED: "Damaged",
    lc.Reason.WRONG_SIZE: "Wrong size/spec",
    lc.Reason.WRONG_OR_MISSING: "Wrong or missing item",
    lc.Reason.NOT_AS_DESCRIBED: "Not as described",
    lc.Reason.NOT_RECEIVED: "Not received",
    lc.Reason.SLOW_DELIVERY: "Slow delivery",
    lc.Reason.CHANGED_MIND_UNSHIPPED: "Changed mind (unshipped)",
    lc.Reason.PRICE_CHANGE: "Price dropped",
    lc.Reason.OTHER: "Other",
}
ACTION_EN = {
    lc.Action.OPEN: "Submit request",
    lc.Action.PASS_REVIEW: "Pass review",
    lc.Action.DISMISS: "Dismiss",
    lc.Action.AGREE: "Agree",
    lc.Action.REJECT: "Reject",
    lc.Action.PROPOSE: "Propose a solution",
    lc.Action.ACCEPT_PROPOSAL: "Accept proposal",
    lc.Action.DECLINE_PROPOSAL: "Decline proposal",
    lc.Action.EXPIRE_PROPOSAL: "Proposal expired",
    lc.Action.SHIP_RETURN: "Ship the return",
    lc.Action.CONFIRM_RECEIPT: "Confirm receipt (inspection ok)",
    lc.Action.FAIL_INSPECTION: "Inspection failed",
    lc.Action.SHIP_REPLACEMENT: "Ship to buyer",
    lc.Action.CONFIRM_DELIVERY: "Confirm delivery",
    lc.Action.CONFIRM_REFUND: "Refund received",
    lc.Action.MODIFY: "Modify request",
    lc.Action.ESCALATE: "Ask the platform to intervene",
    lc.Action.RULE_FOR_BUYER: "Rule for the buyer",
    lc.Action.RULE_FOR_SHOP: "Rule for the shop",
    lc.Action.CANCEL: "Cancel request",
    lc.Action.CLOSE_OVERDUE: "Closed as overdue",
    lc.Action.REOPEN: "Re-apply",
    lc.Action.ALERT: "Overdue alert",
    lc.Action.RATE: "Rate",
}
EXTRA_ACTION_EN = {
    "note": "Internal note",
    "reply": "Reply",
    "statement": "Statement",
    "assign": "Assign",
    "set_priority": "Set priority",
    "tag": "Tag",
    "evidence": "Evidence uploaded",
    "finance_approval_requested": "Sent for finance approval",
    "refund_issued": "Refund instruction issued",
    "rule_fired": "Rule fired",
    "parcel_delivered": "Parcel delivered",
}
ROLE_EN = {
    lc.ActorRole.BUYER: "Buyer",
    lc.ActorRole.AGENT: "Agent",
    lc.ActorRole.WAREHOUSE: "Warehouse",
    lc.ActorRole.FINANCE: "Finance",
    lc.ActorRole.ADMIN: "Shop admin",
    lc.ActorRole.ARBITER: "Arbiter",
    lc.ActorRole.SYSTEM: "System",
    lc.ActorRole.INTEGRATION: "Integration",
}
PROPOSAL_EN = {
    lc.ProposalKind.PARTIAL_REFUND: "Partial refund",
    lc.ProposalKind.RESHIP: "Reship",
    lc.ProposalKind.EXCHANGE: "Exchange",
    lc.ProposalKind.COUPON: "Compensation coupon",
}

_TABLES = {
    "status": (lc.STATUS_LABELS, STATUS_EN),
    "type": (lc.CASE_TYPE_LABELS, TYPE_EN),
    "reason": (lc.REASON_LABELS, REASON_EN),
    "action": (lc.ACTION_LABELS, ACTION_EN),
    "role": (lc.ROLE_LABELS, ROLE_EN),
    "proposal": (lc.PROPOSAL_LABELS, PROPOSAL_EN),
}


def label(kind: str, code: str, lang: str | None = None) -> str:
    """`label("status", "refunding")` → 退款中 / Refunding; unknown codes come back as is."""
    if kind == "action" and code not in lc.Action.__members__.values():
        from .selectors import EXTRA_ACTION_LABELS

        table = EXTRA_ACTION_EN if is_english(lang) else EXTRA_ACTION_LABELS
        return table.get(code, code)
    zh, en = _TABLES[kind]
    return (en if is_english(lang) else zh).get(code, code)


def duration_words(delta: timedelta, lang: str | None = None) -> str:
    """2天3小时 / 2 d 3 h; minutes only under an hour; never negative."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    en = is_english(lang)
    if days:
        return f"{days} d {hours} h" if en else f"{days}天{hours}小时"
    if hours:
        return f"{hours} h {minutes} min" if en else f"{hours}小时{minutes}分钟"
    return f"{max(minutes, 1)} min" if en else f"{max(minutes, 1)}分钟"


# status → (buyer sees, staff sees), each (zh, en) with {d} for the time left.
_WAITING = {
    S.SUBMITTED: (
        ("平台将在 {d} 内审核", "The platform will review it within {d}"),
        ("平台审核中，{d} 后自动转商家", "In platform review; passes to the shop in {d}"),
    ),
    S.AWAITING_MERCHANT: (
        ("商家将在 {d} 内处理", "The shop will respond within {d}"),
        ("请在 {d} 内处理", "Decide within {d}"),
    ),
    S.AWAITING_BUYER_RETURN: (
        (
            "请在 {d} 内寄回商品并填写单号",
            "Ship the goods back within {d} and enter the tracking no.",
        ),
        ("等待买家在 {d} 内寄回", "Buyer has {d} to ship the return"),
    ),
    S.AWAITING_MERCHANT_RECEIPT: (
        ("商家将在 {d} 内确认收货", "The shop will confirm receipt within {d}"),
        ("请在 {d} 内确认收货验货", "Confirm receipt within {d}"),
    ),
    S.AWAITING_MERCHANT_SHIPMENT: (
        ("商家将在 {d} 内发货", "The shop will ship within {d}"),
        ("请在 {d} 内发货", "Ship within {d}"),
    ),
    S.AWAITING_BUYER_RECEIPT: (
        ("请在 {d} 内确认收货", "Confirm delivery within {d}"),
        ("等待买家在 {d} 内确认收货", "Buyer has {d} to confirm delivery"),
    ),
    S.PROPOSAL_PENDING: (
        ("请在 {d} 内确认商家的方案", "Answer the shop's proposal within {d}"),
        ("等待买家在 {d} 内确认方案", "Buyer has {d} to answer the proposal"),
    ),
    S.REJECTED: (
        (
            "您可在 {d} 内修改申请或申请平台介入",
            "Modify the request or ask the platform to intervene within {d}",
        ),
        ("等待买家在 {d} 内修改或申请介入", "Buyer has {d} to modify or escalate"),
    ),
    S.IN_ARBITRATION: (
        ("平台将在 {d} 内裁定", "The platform will rule within {d}"),
        ("平台将在 {d} 内裁定", "The platform rules within {d}"),
    ),
    S.REFUNDING: (
        ("退款处理中，预计 {d} 内到账", "Refund on its way, expected within {d}"),
        ("退款处理中，{d} 后提醒财务", "Refunding; finance is alerted in {d}"),
    ),
}

_OUTCOME_EN = {
    "超时自动转商家处理": "if not, it passes to the shop",
    "超时将自动同意": "if not, the request is agreed automatically",
    "买家超时未退货将关闭": "if not, the request closes",
    "超时将自动确认收货": "if not, receipt is confirmed automatically",
    "超时将升级并提醒": "if not, it is escalated",
    "超时将退回商家处理": "if not, it goes back to the shop",
    "买家超时未处理将关闭": "if not, the request closes",
    "超时将提醒平台小二": "if not, arbiters are alerted",
    "超时将提醒财务": "if not, finance is alerted",
}


def outcome(deadline_label: str, lang: str | None = None) -> str:
    """What happens when the time runs out, e.g. 超时将自动同意 / if not, … agreed automatically."""
    if not is_english(lang):
        return deadline_label
    return _OUTCOME_EN.get(deadline_label, deadline_label)


def next_step(
    status: str,
    deadline_at: datetime | None,
    deadline_label: str,
    now: datetime,
    *,
    buyer: bool,
    lang: str | None = None,
) -> str:
    """The next step and its deadline in plain words, or "" when nothing is waiting."""
    en = is_english(lang)
    if status == S.COMPLETED:
        return "Completed" if en else "售后已完成"
    if status == S.CLOSED:
        return "Closed" if en else "售后已关闭"
    pair = _WAITING.get(S(status)) if status in S.__members__.values() else None
    if pair is None or deadline_at is None:
        return ""
    zh_text, en_text = pair[0] if buyer else pair[1]
    left = deadline_at - now
    if left.total_seconds() <= 0:
        late = duration_words(-left, lang)
        return f"Overdue by {late}" if en else f"已超时 {late}"
    words = (en_text if en else zh_text).format(d=duration_words(left, lang))
    then = outcome(deadline_label, lang)
    if then:
        words += f"; {then}" if en else f"，{then}"
    return words
