"""The after-sales case lifecycle as one pure table (PRODUCT.md §2). No ORM here.

This is the one place that says which action moves which status, for which flow, who may
do it, and which deadline (and automatic action) the new status carries. Services ask
`plan(...)` for a `Step` and apply it; tests check the table directly.

A case follows a *path*: its type, unless the buyer accepted a proposal for another
remedy (partial refund → the refund_only path, reship, exchange, or a coupon).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class CaseType(StrEnum):
    REFUND_ONLY = "refund_only"
    RETURN_REFUND = "return_refund"
    EXCHANGE = "exchange"
    RESHIP = "reship"
    REPAIR = "repair"
    PRICE_PROTECT = "price_protect"


CASE_TYPE_LABELS = {
    CaseType.REFUND_ONLY: "仅退款",
    CaseType.RETURN_REFUND: "退货退款",
    CaseType.EXCHANGE: "换货",
    CaseType.RESHIP: "补寄",
    CaseType.REPAIR: "维修",
    CaseType.PRICE_PROTECT: "退差价/价保",
}


class Reason(StrEnum):
    NO_REASON_7D = "no_reason_7d"
    QUALITY = "quality"
    DAMAGED = "damaged"
    WRONG_SIZE = "wrong_size"
    WRONG_OR_MISSING = "wrong_or_missing"
    NOT_AS_DESCRIBED = "not_as_described"
    NOT_RECEIVED = "not_received"
    SLOW_DELIVERY = "slow_delivery"
    CHANGED_MIND_UNSHIPPED = "changed_mind_unshipped"
    PRICE_CHANGE = "price_change"
    OTHER = "other"


REASON_LABELS = {
    Reason.NO_REASON_7D: "七天无理由",
    Reason.QUALITY: "质量问题",
    Reason.DAMAGED: "商品破损",
    Reason.WRONG_SIZE: "尺寸/规格不符",
    Reason.WRONG_OR_MISSING: "错发/漏发",
    Reason.NOT_AS_DESCRIBED: "与描述不符",
    Reason.NOT_RECEIVED: "未收到货",
    Reason.SLOW_DELIVERY: "物流太慢",
    Reason.CHANGED_MIND_UNSHIPPED: "不想要了(未发货)",
    Reason.PRICE_CHANGE: "价格变化(价保)",
    Reason.OTHER: "其他",
}

_ALL_TYPES = frozenset(CaseType)
# Default policy: which reasons allow which types (a shop may override per reason).
DEFAULT_REASON_TYPES: dict[Reason, frozenset[CaseType]] = {
    Reason.NO_REASON_7D: frozenset({CaseType.RETURN_REFUND, CaseType.EXCHANGE}),
    Reason.QUALITY: _ALL_TYPES - {CaseType.PRICE_PROTECT},
    Reason.DAMAGED: _ALL_TYPES - {CaseType.PRICE_PROTECT},
    Reason.WRONG_SIZE: frozenset({CaseType.RETURN_REFUND, CaseType.EXCHANGE}),
    Reason.WRONG_OR_MISSING: frozenset(
        {CaseType.REFUND_ONLY, CaseType.RETURN_REFUND, CaseType.EXCHANGE, CaseType.RESHIP}
    ),
    Reason.NOT_AS_DESCRIBED: frozenset(
        {CaseType.REFUND_ONLY, CaseType.RETURN_REFUND, CaseType.EXCHANGE}
    ),
    Reason.NOT_RECEIVED: frozenset({CaseType.REFUND_ONLY, CaseType.RESHIP}),
    Reason.SLOW_DELIVERY: frozenset({CaseType.REFUND_ONLY, CaseType.RETURN_REFUND}),
    Reason.CHANGED_MIND_UNSHIPPED: frozenset({CaseType.REFUND_ONLY}),
    Reason.PRICE_CHANGE: frozenset({CaseType.PRICE_PROTECT}),
    Reason.OTHER: _ALL_TYPES,
}


class Status(StrEnum):
    SUBMITTED = "submitted"
    AWAITING_MERCHANT = "awaiting_merchant"
    AWAITING_BUYER_RETURN = "awaiting_buyer_return"
    AWAITING_MERCHANT_RECEIPT = "awaiting_merchant_receipt"
    AWAITING_MERCHANT_SHIPMENT = "awaiting_merchant_shipment"
    AWAITING_BUYER_RECEIPT = "awaiting_buyer_receipt"
    PROPOSAL_PENDING = "proposal_pending"
    REJECTED = "rejected"
    IN_ARBITRATION = "in_arbitration"
    REFUNDING = "refunding"
    COMPLETED = "completed"
    CLOSED = "closed"


STATUS_LABELS = {
    Status.SUBMITTED: "待审核",
    Status.AWAITING_MERCHANT: "待商家处理",
    Status.AWAITING_BUYER_RETURN: "待买家退货",
    Status.AWAITING_MERCHANT_RECEIPT: "待商家收货",
    Status.AWAITING_MERCHANT_SHIPMENT: "待商家发货",
    Status.AWAITING_BUYER_RECEIPT: "待买家收货",
    Status.PROPOSAL_PENDING: "待买家确认方案",
    Status.REJECTED: "商家已拒绝",
    Status.IN_ARBITRATION: "平台介入中",
    Status.REFUNDING: "退款中",
    Status.COMPLETED: "已完成",
    Status.CLOSED: "已关闭",
}

TERMINAL = frozenset({Status.COMPLETED, Status.CLOSED})
OPEN_STATUSES = frozenset(Status) - TERMINAL


class ActorRole(StrEnum):
    BUYER = "buyer"
    AGENT = "agent"
    WAREHOUSE = "warehouse"
    FINANCE = "finance"
    ADMIN = "admin"
    ARBITER = "arbiter"
    SYSTEM = "system"  # deadlines and automation rules
    INTEGRATION = "integration"  # a shop's API key: ERP, marketplace connector


ROLE_LABELS = {
    ActorRole.BUYER: "买家",
    ActorRole.AGENT: "客服",
    ActorRole.WAREHOUSE: "仓库",
    ActorRole.FINANCE: "财务",
    ActorRole.ADMIN: "店长",
    ActorRole.ARBITER: "平台小二",
    ActorRole.SYSTEM: "系统",
    ActorRole.INTEGRATION: "系统对接",
}


class Action(StrEnum):
    OPEN = "open"
    PASS_REVIEW = "pass_review"
    DISMISS = "dismiss"
    AGREE = "agree"
    REJECT = "reject"
    PROPOSE = "propose"
    ACCEPT_PROPOSAL = "accept_proposal"
    DECLINE_PROPOSAL = "decline_proposal"
    EXPIRE_PROPOSAL = "expire_proposal"
    SHIP_RETURN = "ship_return"
    CONFIRM_RECEIPT = "confirm_receipt"
    FAIL_INSPECTION = "fail_inspection"
    SHIP_REPLACEMENT = "ship_replacement"
    CONFIRM_DELIVERY = "confirm_delivery"
    CONFIRM_REFUND = "confirm_refund"
    MODIFY = "modify"
    ESCALATE = "escalate"
    RULE_FOR_BUYER = "rule_for_buyer"
    RULE_FOR_SHOP = "rule_for_shop"
    CANCEL = "cancel"
    CLOSE_OVERDUE = "close_overdue"
    REOPEN = "reopen"
    ALERT = "alert"
    RATE = "rate"


ACTION_LABELS = {
    Action.OPEN: "提交申请",
    Action.PASS_REVIEW: "审核通过",
    Action.DISMISS: "审核驳回",
    Action.AGREE: "同意",
    Action.REJECT: "拒绝",
    Action.PROPOSE: "提出协商方案",
    Action.ACCEPT_PROPOSAL: "接受方案",
    Action.DECLINE_PROPOSAL: "拒绝方案",
    Action.EXPIRE_PROPOSAL: "方案超时未确认",
    Action.SHIP_RETURN: "寄回商品",
    Action.CONFIRM_RECEIPT: "确认收货(验货通过)",
    Action.FAIL_INSPECTION: "验货不通过",
    Action.SHIP_REPLACEMENT: "商家发货",
    Action.CONFIRM_DELIVERY: "确认收货",
    Action.CONFIRM_REFUND: "退款到账",
    Action.MODIFY: "修改申请",
    Action.ESCALATE: "申请平台介入",
    Action.RULE_FOR_BUYER: "裁定支持买家",
    Action.RULE_FOR_SHOP: "裁定支持商家",
    Action.CANCEL: "撤销申请",
    Action.CLOSE_OVERDUE: "超时关闭",
    Action.REOPEN: "重新申请",
    Action.ALERT: "超时提醒",
    Action.RATE: "评价",
}


class ProposalKind(StrEnum):
    PARTIAL_REFUND = "partial_refund"
    RESHIP = "reship"
    EXCHANGE = "exchange"
    COUPON = "coupon"


PROPOSAL_LABELS = {
    ProposalKind.PARTIAL_REFUND: "部分退款",
    ProposalKind.RESHIP: "补寄",
    ProposalKind.EXCHANGE: "换货",
    ProposalKind.COUPON: "补偿优惠券",
}

# The path the case follows once the buyer accepts a proposal of that kind.
PROPOSAL_PATH = {
    ProposalKind.PARTIAL_REFUND: "refund_only",
    ProposalKind.RESHIP: "reship",
    ProposalKind.EXCHANGE: "exchange",
    ProposalKind.COUPON: "coupon",
}

PATHS = frozenset([*CaseType, "coupon"])
MONEY_PATHS = frozenset({"refund_only", "return_refund", "price_protect"})


# --- who may act --------------------------------------------------------------------------
R = ActorRole
BUYER_SIDE = frozenset({R.BUYER, R.INTEGRATION})
MERCHANT_DECIDES = frozenset({R.AGENT, R.ADMIN, R.INTEGRATION})
MERCHANT_AGREES = MERCHANT_DECIDES | {R.FINANCE, R.SYSTEM}
WAREHOUSE_SIDE = frozenset({R.WAREHOUSE, R.AGENT, R.ADMIN, R.INTEGRATION})
S = Status

# After the shop agrees (or the arbiter rules for the buyer), where each path goes next.
_AGREED = {
    "refund_only": S.REFUNDING,
    "price_protect": S.REFUNDING,
    "return_refund": S.AWAITING_BUYER_RETURN,
    "exchange": S.AWAITING_BUYER_RETURN,
    "repair": S.AWAITING_BUYER_RETURN,
    "reship": S.AWAITING_MERCHANT_SHIPMENT,
}
_RETURNED = {
    "return_refund": S.REFUNDING,
    "exchange": S.AWAITING_MERCHANT_SHIPMENT,
    "repair": S.AWAITING_MERCHANT_SHIPMENT,
}
_ACCEPTED = {
    "refund_only": S.REFUNDING,
    "reship": S.AWAITING_MERCHANT_SHIPMENT,
    "exchange": S.AWAITING_BUYER_RETURN,
    "coupon": S.COMPLETED,
}
_CANCELLABLE = (
    S.SUBMITTED,
    S.AWAITING_MERCHANT,
    S.PROPOSAL_PENDING,
    S.REJECTED,
    S.IN_ARBITRATION,
    S.AWAITING_BUYER_RETURN,
    S.AWAITING_MERCHANT_RECEIPT,
)


def _same(*paths: str) -> dict[str, None]:
    """Target None = the status does not change (alerts, ratings)."""
    return dict.fromkeys(paths or PATHS)


def _to(status: Status, *paths: str) -> dict[str, Status]:
    return dict.fromkeys(paths or PATHS, status)


# (from status, action) → (roles allowed, {path: next status})
TRANSITIONS: dict[tuple[Status | None, Action], tuple[frozenset[ActorRole], dict]] = {
    (None, Action.OPEN): (BUYER_SIDE | {R.AGENT, R.ADMIN}, _to(S.AWAITING_MERCHANT)),
    (S.SUBMITTED, Action.PASS_REVIEW): (frozenset({R.ARBITER, R.SYSTEM}), _to(S.AWAITING_MERCHANT)),
    (S.SUBMITTED, Action.DISMISS): (frozenset({R.ARBITER}), _to(S.CLOSED)),
    (S.AWAITING_MERCHANT, Action.AGREE): (MERCHANT_AGREES, _AGREED),
    (S.AWAITING_MERCHANT, Action.REJECT): (MERCHANT_DECIDES, _to(S.REJECTED)),
    (S.AWAITING_MERCHANT, Action.PROPOSE): (MERCHANT_DECIDES, _to(S.PROPOSAL_PENDING)),
    (S.PROPOSAL_PENDING, Action.ACCEPT_PROPOSAL): (BUYER_SIDE, _ACCEPTED),
    (S.PROPOSAL_PENDING, Action.DECLINE_PROPOSAL): (BUYER_SIDE, _to(S.AWAITING_MERCHANT)),
    (S.PROPOSAL_PENDING, Action.EXPIRE_PROPOSAL): (frozenset({R.SYSTEM}), _to(S.AWAITING_MERCHANT)),
    (S.AWAITING_BUYER_RETURN, Action.SHIP_RETURN): (
        BUYER_SIDE,
        _to(S.AWAITING_MERCHANT_RECEIPT, "return_refund", "exchange", "repair"),
    ),
    (S.AWAITING_BUYER_RETURN, Action.CLOSE_OVERDUE): (frozenset({R.SYSTEM}), _to(S.CLOSED)),
    (S.AWAITING_MERCHANT_RECEIPT, Action.CONFIRM_RECEIPT): (WAREHOUSE_SIDE | {R.SYSTEM}, _RETURNED),
    (S.AWAITING_MERCHANT_RECEIPT, Action.FAIL_INSPECTION): (
        WAREHOUSE_SIDE,
        _to(S.REJECTED, "return_refund", "exchange", "repair"),
    ),
    (S.AWAITING_MERCHANT_SHIPMENT, Action.SHIP_REPLACEMENT): (
        WAREHOUSE_SIDE,
        _to(S.AWAITING_BUYER_RECEIPT, "exchange", "repair", "reship"),
    ),
    (S.AWAITING_MERCHANT_SHIPMENT, Action.ALERT): (frozenset({R.SYSTEM}), _same()),
    (S.AWAITING_BUYER_RECEIPT, Action.CONFIRM_DELIVERY): (
        BUYER_SIDE | {R.SYSTEM},
        _to(S.COMPLETED),
    ),
    (S.REFUNDING, Action.CONFIRM_REFUND): (
        frozenset({R.FINANCE, R.ADMIN, R.INTEGRATION, R.SYSTEM}),
        _to(S.COMPLETED),
    ),
    (S.REFUNDING, Action.ALERT): (frozenset({R.SYSTEM}), _same()),
    (S.REJECTED, Action.MODIFY): (BUYER_SIDE, _to(S.AWAITING_MERCHANT)),
    (S.REJECTED, Action.ESCALATE): (BUYER_SIDE, _to(S.IN_ARBITRATION)),
    (S.REJECTED, Action.CLOSE_OVERDUE): (frozenset({R.SYSTEM}), _to(S.CLOSED)),
    (S.IN_ARBITRATION, Action.RULE_FOR_BUYER): (frozenset({R.ARBITER}), _AGREED),
    (S.IN_ARBITRATION, Action.RULE_FOR_SHOP): (frozenset({R.ARBITER}), _to(S.CLOSED)),
    (S.IN_ARBITRATION, Action.ALERT): (frozenset({R.SYSTEM}), _same()),
    (S.CLOSED, Action.REOPEN): (BUYER_SIDE, _to(S.AWAITING_MERCHANT)),
    (S.COMPLETED, Action.RATE): (BUYER_SIDE, _same()),
    (S.CLOSED, Action.RATE): (BUYER_SIDE, _same()),
    **{(s, Action.CANCEL): (BUYER_SIDE, _to(S.CLOSED)) for s in _CANCELLABLE},
}


# --- deadlines ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DeadlineRule:
    hours: float
    action: Action
    label: str  # what happens, in plain words, for pages and the timeline


DEADLINES: dict[str, DeadlineRule] = {
    S.SUBMITTED: DeadlineRule(48, Action.PASS_REVIEW, "超时自动转商家处理"),
    S.AWAITING_MERCHANT: DeadlineRule(72, Action.AGREE, "超时将自动同意"),
    # An unshipped refund only waits 24 hours (PRODUCT.md §2).
    "awaiting_merchant_unshipped": DeadlineRule(24, Action.AGREE, "超时将自动同意"),
    S.AWAITING_BUYER_RETURN: DeadlineRule(7 * 24, Action.CLOSE_OVERDUE, "买家超时未退货将关闭"),
    S.AWAITING_MERCHANT_RECEIPT: DeadlineRule(
        10 * 24, Action.CONFIRM_RECEIPT, "超时将自动确认收货"
    ),
    S.AWAITING_MERCHANT_SHIPMENT: DeadlineRule(48, Action.ALERT, "超时将升级并提醒"),
    S.AWAITING_BUYER_RECEIPT: DeadlineRule(10 * 24, Action.CONFIRM_DELIVERY, "超时将自动确认收货"),
    S.PROPOSAL_PENDING: DeadlineRule(3 * 24, Action.EXPIRE_PROPOSAL, "超时将退回商家处理"),
    S.REJECTED: DeadlineRule(5 * 24, Action.CLOSE_OVERDUE, "买家超时未处理将关闭"),
    S.IN_ARBITRATION: DeadlineRule(5 * 24, Action.ALERT, "超时将提醒平台小二"),
    S.REFUNDING: DeadlineRule(24, Action.ALERT, "超时将提醒财务"),
}

RATING_WINDOW = timedelta(days=15)


def deadline_key(status: Status, *, path: str, order_shipped: bool) -> str | None:
    if status == S.AWAITING_MERCHANT and path == "refund_only" and not order_shipped:
        return "awaiting_merchant_unshipped"
    return status if status in DEADLINES else None


def deadline_for(
    status: Status, *, path: str, order_shipped: bool, overrides: dict[str, float] | None = None
) -> tuple[timedelta, Action] | None:
    """The deadline a case gets on entering `status`; a shop's policy may override hours."""
    key = deadline_key(status, path=path, order_shipped=order_shipped)
    if key is None:
        return None
    rule = DEADLINES[key]
    hours = (overrides or {}).get(key, rule.hours)
    return timedelta(hours=float(hours)), rule.action


# --- planning a step ----------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    action: Action
    from_status: Status | None
    to_status: Status
    path: str

    @property
    def changes_status(self) -> bool:
        return self.from_status != self.to_status

    @property
    def issues_refund(self) -> bool:
        return self.to_status == S.REFUNDING and self.from_status != S.REFUNDING

    @property
    def closes(self) -> bool:
        return self.to_status in TERMINAL


class NotAllowed(Exception):
    """Raised by plan(); `code` is one of the stable API error codes."""

    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        self.params = params
        super().__init__(code)


def allowed_actions(status: Status | None, path: str, role: ActorRole) -> list[Action]:
    """Actions this role may take on a case in `status` following `path` (for pages)."""
    out = []
    for (frm, action), (roles, targets) in TRANSITIONS.items():
        if frm == status and role in roles and path_applies(action, path, targets):
            out.append(action)
    return out


def path_applies(action: Action, path: str, targets: dict) -> bool:
    # Accepting a proposal follows the proposal's path, not the case's, so any path applies.
    return action == Action.ACCEPT_PROPOSAL or path in targets


def plan(
    status: Status | None,
    action: Action,
    role: ActorRole,
    *,
    path: str,
    proposal_path: str | None = None,
    review_new_cases: bool = False,
) -> Step:
    """Decide the step for `action` by `role`, or raise NotAllowed with a stable code."""
    entry = TRANSITIONS.get((status, action))
    if entry is None:
        raise NotAllowed("action_not_allowed", status=status, action=action)
    roles, targets = entry
    if role not in roles:
        raise NotAllowed("role_not_allowed", role=role, action=action)
    effective_path = path
    if action == Action.ACCEPT_PROPOSAL:
        if proposal_path is None:
            raise NotAllowed("action_not_allowed", status=status, action=action)
        effective_path = proposal_path
    if effective_path not in targets:
        raise NotAllowed("type_not_allowed", type=path, action=action)
    target = targets[effective_path]
    if action == Action.OPEN and review_new_cases:
        target = S.SUBMITTED
    return Step(
        action=action,
        from_status=status,
        to_status=status if target is None else target,
        path=effective_path,
    )
