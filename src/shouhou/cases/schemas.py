"""API shapes for cases (and the shared error body).

Inputs are strict where JSON is loose: an integer field refuses `true`, `"5"` and `5.5`
(`5.0` is the integer 5, as JSON Schema counts it — the published contract says "integer");
every integer is bounded by the column that stores it, every string by its column length,
and no string may carry a NUL or a lone surrogate (PostgreSQL refuses both, which would
otherwise surface as a 500). What the services would refuse on shape alone (a blank reason,
a malformed tracking number, both or neither of two alternative references) is in the
published schema too, so a request the schema allows is never refused as malformed.
Money is integer fen everywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Schema
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shouhou.orders.models import Channel

from . import lifecycle as lc

MAX_BIGINT = 9_223_372_036_854_775_807  # PositiveBigIntegerField
MAX_INT32 = 2_147_483_647  # PositiveIntegerField
MAX_QUANTITY = 1_000_000
MAX_CASE_LINES = 200


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _aware(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2100:
        raise ValueError("year must be between 2000 and 2100")
    if timezone.is_naive(value):
        # Integrations in China send local times without an offset: read them as Shanghai time.
        value = timezone.make_aware(value)
    return value


# Published with every text field: no NUL (PostgreSQL cannot store one in text).
NO_NUL = r"^[^\x00]*$"
# What Python's str.strip() removes (every c with c.isspace()), written out: the services
# trim with strip(), and `\s` means a different set in each regex engine that reads these
# patterns (pydantic's Rust regex, Python's re in schemathesis, ECMAScript in clients).
WS = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Required text: besides, at least one character that is not white space (services strip);
# white space around it is fine.
NON_BLANK = rf"^[^\x00]*[^{WS}\x00][^\x00]*$"


def Text(max_length: int, min_length: int = 0) -> Any:  # noqa: N802 — reads like a type
    return Annotated[
        str,
        Field(min_length=min_length, max_length=max_length, pattern=NO_NUL),
        AfterValidator(_clean_text),
    ]


def NonBlank(max_length: int) -> Any:  # noqa: N802 — reads like a type
    return Annotated[
        str,
        Field(min_length=1, max_length=max_length, pattern=NON_BLANK),
        AfterValidator(_clean_text),
    ]


def _integral(value: Any) -> Any:
    """JSON Schema's "integer" includes 5.0: take it as 5 (5.5, true and "5" stay refused)."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def Int(ge: int, le: int) -> Any:  # noqa: N802 — reads like a type
    return Annotated[int, Field(strict=True, ge=ge, le=le), BeforeValidator(_integral)]


# The published tracking number shape, as services._check_tracking checks it: 6–30 letters
# and digits once stripped, so surrounding white space (ERP and CSV exports, a pasted
# newline) is part of the accepted shape. Published, not enforced by the parser: a number of
# the wrong shape is the service's documented 422 `invalid_tracking`, not a validation_error.
TRACKING_PATTERN = rf"^[{WS}]*[A-Za-z0-9]{{6,30}}[{WS}]*$"

Fen = Int(0, MAX_BIGINT)
Id = Int(1, MAX_BIGINT)
Quantity = Int(1, MAX_QUANTITY)
Version = Int(1, MAX_INT32)
Score = Int(1, 5)
StrictBool = Annotated[bool, Field(strict=True)]
# The year as written is 2000–2100 (_aware); the schema says so, next to format date-time.
When = Annotated[
    datetime, AfterValidator(_aware), Field(json_schema_extra={"pattern": r"^(20[0-9]{2}|2100)-"})
]
ChannelCode = Literal[tuple(Channel.values)]  # type: ignore[valid-type]


class In(BaseModel):
    """Request bodies: unknown fields are refused, so a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


# --- errors -------------------------------------------------------------------------------
class ErrorOut(Schema):
    code: str = Field(examples=["case_conflict"])
    message: str
    details: dict[str, Any] = {}


def error_responses(*statuses: int) -> dict[int, type[ErrorOut]]:
    return dict.fromkeys(statuses, ErrorOut)


# Request parsing alone can answer these for any operation with a JSON body.
BODY_ERRORS = (400, 401, 403, 404, 413, 422)
READ_ERRORS = (400, 401, 403, 404, 422)


# --- opening a case -----------------------------------------------------------------------
def exactly_one_of(first: str, second: str) -> dict[str, Any]:
    """JSON Schema for "exactly one of these two is given (and not null)": neither both nor
    none. One `not` beside the properties, so tools that read `properties` still can."""

    def given(name: str) -> dict[str, Any]:
        return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}

    return {
        "not": {
            "anyOf": [
                {"allOf": [given(first), given(second)]},
                {"allOf": [{"not": given(first)}, {"not": given(second)}]},
            ]
        }
    }


class CaseLineIn(In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra=exactly_one_of("order_line_id", "order_line_external_id")
    )

    order_line_id: Id | None = None
    order_line_external_id: Text(64) | None = None
    quantity: Quantity
    refund_fen: Fen | None = Field(None, description="默认：该数量的实付分摊 / paid share")

    @model_validator(mode="after")
    def _one_reference(self) -> CaseLineIn:
        if (self.order_line_id is None) == (self.order_line_external_id is None):
            raise ValueError("give exactly one of order_line_id / order_line_external_id")
        return self


class CaseOpenIn(In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra=exactly_one_of("order_id", "order_external_id")
    )

    order_id: Id | None = None
    order_external_id: Text(64) | None = None
    type: lc.CaseType
    reason: lc.Reason
    description: Text(5000) = ""
    channel: ChannelCode | None = None
    refund_fen: Fen | None = None
    external_id: Text(64) = Field("", description="平台售后单号 / marketplace case id")
    deadline_at: datetime | None = Field(
        None,
        description="平台店铺：平台自己的处理期限（如拼多多 expire_time）/ marketplace-mode "
        "shops: the marketplace's own deadline, which then is the case's clock",
    )
    lines: list[CaseLineIn] = Field(min_length=1, max_length=MAX_CASE_LINES)

    @model_validator(mode="after")
    def _one_order(self) -> CaseOpenIn:
        if (self.order_id is None) == (self.order_external_id is None):
            raise ValueError("give exactly one of order_id / order_external_id")
        return self


# --- actions ------------------------------------------------------------------------------
class ActionIn(In):
    version: Version | None = Field(
        None, description="售后单版本（来自详情）；不一致则 409 case_conflict"
    )


class AgreeIn(ActionIn):
    return_address_id: Id | None = None
    refund_fen: Fen | None = None
    note: Text(2000) = ""


class ReasonRequiredIn(ActionIn):
    reason: NonBlank(2000)


class ProposeIn(ActionIn):
    kind: lc.ProposalKind
    refund_fen: Fen = 0
    note: Text(2000) = ""


class OptionalReasonIn(ActionIn):
    reason: Text(2000) = ""


class ShipIn(ActionIn):
    carrier: NonBlank(40)
    tracking_no: Annotated[
        Text(64),
        Field(json_schema_extra={"pattern": TRACKING_PATTERN}, examples=["SF1234567890"]),
    ]


class NoteOptionalIn(ActionIn):
    note: Text(2000) = ""


class ModifyIn(ActionIn):
    reason: lc.Reason | None = None
    description: Text(5000) | None = None
    refund_fen: Fen | None = None


class EscalateIn(ActionIn):
    statement: Text(5000) = ""


class ReopenIn(ActionIn):
    description: Text(5000) = ""


class AssignIn(ActionIn):
    staff_id: Id | None = Field(description="员工 id；null 取消分配 / null unassigns")


class SetPriorityIn(ActionIn):
    priority: Int(0, 2) = Field(description="0 普通 normal · 1 高 high · 2 紧急 urgent")


class NoteIn(ActionIn):
    text: NonBlank(5000)
    internal: StrictBool = True


class RatingIn(In):
    speed: Score
    satisfaction: Score
    comment: Text(2000) = ""


# action → (body schema, the service's keyword for each body field other than version)
ACTION_BODIES: dict[str, type[ActionIn]] = {
    "agree": AgreeIn,
    "reject": ReasonRequiredIn,
    "propose": ProposeIn,
    "accept_proposal": ActionIn,
    "decline_proposal": OptionalReasonIn,
    "ship_return": ShipIn,
    "confirm_receipt": NoteOptionalIn,
    "fail_inspection": ReasonRequiredIn,
    "ship_replacement": ShipIn,
    "confirm_delivery": ActionIn,
    "confirm_refund": ActionIn,
    "modify": ModifyIn,
    "escalate": EscalateIn,
    "rule_for_buyer": ReasonRequiredIn,
    "rule_for_shop": ReasonRequiredIn,
    "pass_review": ActionIn,
    "dismiss": ReasonRequiredIn,
    "cancel": OptionalReasonIn,
    "reopen": ReopenIn,
    "assign": AssignIn,
    "set_priority": SetPriorityIn,
    "note": NoteIn,
}


# --- outputs ------------------------------------------------------------------------------
class CaseQueryIn(Schema):
    status: list[lc.Status] = Field(default_factory=list)
    type: list[lc.CaseType] = Field(default_factory=list)
    reason: list[lc.Reason] = Field(default_factory=list)
    channel: list[ChannelCode] = Field(default_factory=list)
    priority: list[Annotated[int, Field(ge=0, le=2)]] = Field(default_factory=list)
    assignee: list[Annotated[str, Field(max_length=20, pattern=r"^(\d{1,18}|me|none)$")]] = Field(
        default_factory=list, description="员工 id、me 或 none / staff id, me or none"
    )
    deadline_before: When | None = None
    scope: Literal["open", "closed", "all"] = "open"
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] | None = None


class CaseSummaryOut(Schema):
    id: int
    number: str
    order_id: int
    order_external_id: str
    type: str
    type_label: str
    reason: str
    reason_label: str
    status: str
    status_label: str
    channel: str
    priority: int
    assignee_id: int | None
    requested_refund_fen: int
    refund_fen: int
    deadline_at: datetime | None
    deadline_action: str
    version: int
    is_open: bool
    flags: list[str]
    opened_at: datetime
    updated_at: datetime


class CaseListOut(Schema):
    items: list[CaseSummaryOut]
    next_cursor: str | None = Field(description="下一页游标；null 表示没有更多 / last page")


class CustomerOut(Schema):
    id: int
    nickname: str
    tier: str
    phone_masked: str
    address_masked: str


class AssigneeOut(Schema):
    id: int
    display_name: str
    role: str


class CaseLineOut(Schema):
    id: int
    order_line_id: int
    order_line_external_id: str
    title: str
    quantity: int
    refund_fen: int


class EvidenceOut(Schema):
    id: int
    original_name: str
    content_type: str
    size: int
    sha256: str
    note: str
    uploaded_by: str
    created_at: datetime
    url: str


class TimelineEventOut(Schema):
    id: int
    at: datetime
    actor_role: str
    actor_label: str
    action: str
    action_label: str
    from_status: str
    to_status: str
    by_deadline: bool
    rule_id: int | None
    visibility: str
    message: str
    data: dict[str, Any]


class RatingOut(Schema):
    speed: int
    satisfaction: int
    comment: str
    at: datetime


class RefundOut(Schema):
    reference: str
    amount_fen: int
    status: str
    issued_at: datetime
    confirmed_at: datetime | None


class ShipmentOut(Schema):
    direction: str
    carrier: str
    tracking_no: str
    shipped_at: datetime
    delivered_at: datetime | None


class ProposalOut(Schema):
    kind: str
    kind_label: str
    refund_fen: int
    note: str


class ReturnAddressOut(Schema):
    id: int
    label: str
    contact_name: str
    phone: str
    address: str


class CaseDetailOut(CaseSummaryOut):
    path: str
    description: str
    external_id: str
    deadline_label: str
    tags: list[str]
    awaiting_finance: bool
    auto_agreed_by_timeout: bool
    reopen_count: int
    rejection_reason: str
    ruling: str
    ruling_reason: str
    closed_at: datetime | None
    customer: CustomerOut
    assignee: AssigneeOut | None
    proposal: ProposalOut | None
    return_address: ReturnAddressOut | None
    lines: list[CaseLineOut]
    evidence: list[EvidenceOut]
    timeline: list[TimelineEventOut]
    shipments: list[ShipmentOut]
    rating: RatingOut | None
    refund: RefundOut | None
    allowed_actions: list[str]


class LogisticsEventIn(In):
    carrier: Text(40) = ""
    tracking_no: NonBlank(40)
    event: Literal["delivered"]
    at: When | None = None


class LogisticsEventOut(Schema):
    case_ids: list[int]


class PortalSessionIn(In):
    shop: Text(40, min_length=1)
    order_external_id: Text(64, min_length=1)
    phone_last4: Annotated[str, Field(pattern=r"^[0-9]{4}$")]


class PortalSessionOut(Schema):
    token: str
    order_id: int
    expires_in: int = Field(description="秒 / seconds")
