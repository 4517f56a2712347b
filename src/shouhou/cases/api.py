"""Case endpoints (/api/v1/cases…), the buyer portal session and carrier events.

Handlers parse, call a service (cases/services.py, cases/evidence.py) or a selector, and
render. Who may do what is decided by the services and the lifecycle table; a case of
another shop — or, for a buyer token, of another order — is `not_found`, never data.
"""

from collections.abc import Callable
from enum import Enum
from functools import wraps
from typing import Annotated, Any

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from ninja import File, Form, Header, Path, Query, Router, Status
from ninja.decorators import decorate_view
from ninja.files import UploadedFile

from shouhou.core import idempotency
from shouhou.core.auth import (
    API_AUTH,
    buyer_order_id,
    buyer_token_max_age,
    current_actor,
    current_shop,
    open_buyer_session,
)
from shouhou.core.errors import ShouhouError
from shouhou.core.ratelimit import client_ip
from shouhou.openapi_links import from_case, from_evidence, on
from shouhou.orders.models import Channel

from . import evidence as evidence_service
from . import lifecycle as lc
from . import selectors, services
from .actors import Actor
from .models import Case, Evidence
from .schemas import (
    ACTION_BODIES,
    BODY_ERRORS,
    MAX_BIGINT,
    READ_ERRORS,
    ActionIn,
    CaseDetailOut,
    CaseListOut,
    CaseOpenIn,
    CaseQueryIn,
    EvidenceOut,
    LogisticsEventIn,
    LogisticsEventOut,
    PortalSessionIn,
    PortalSessionOut,
    RatingIn,
    RatingOut,
    error_responses,
)

router = Router(tags=["cases 售后单"], auth=API_AUTH)
portal_router = Router(tags=["portal 买家门户"])
logistics_router = Router(tags=["logistics 物流"], auth=API_AUTH)

CaseId = Path(..., ge=1, le=MAX_BIGINT, description="售后单 id")
# What an evidence file is served as: the type read from its content at upload (evidence.py).
EVIDENCE_TYPES = (
    *(media for media, _ in evidence_service.IMAGE_TYPES.values()),
    "application/pdf",
    "video/mp4",
)

# Where a case detail's id and version go next (OpenAPI links; see openapi_links.py).
CASE_LINKS = from_case(list(ACTION_BODIES))

SERVICES: dict[str, Callable[..., Any]] = {
    **{action.value: fn for action, fn in services.ACTION_SERVICES.items()},
    "assign": services.assign,
    "set_priority": services.set_priority,
    "note": services.add_note,
}


def detail_json(
    request: HttpRequest, actor: Actor, case_id: int, *, just_opened: Case | None = None
) -> dict[str, Any]:
    """The case as this actor sees it, JSON-ready (also what an idempotent replay returns)."""
    data = selectors.case_detail(actor, case_id, buyer_order_id(request), just_opened=just_opened)
    for ev in data["evidence"]:
        ev["url"] = evidence_url(case_id, ev["id"])
    return CaseDetailOut.model_validate(data).model_dump(mode="json")


def evidence_url(case_id: int, evidence_id: int) -> str:
    return reverse(
        "api-v1:case_evidence_file", kwargs={"case_id": case_id, "evidence_id": evidence_id}
    )


def _default_channel(actor: Actor) -> str:
    return Channel.PORTAL if actor.role == lc.ActorRole.BUYER else Channel.API


# --- open, list, read ---------------------------------------------------------------------
@router.post(
    "/cases",
    response={201: CaseDetailOut, **error_responses(*BODY_ERRORS, 409)},
    operation_id="open_case",
    summary="提交售后申请 Open a case",
    description="Header `Idempotency-Key`: the same key with the same body returns the first "
    "response again (header `Idempotent-Replayed: true`); with another body, 422 "
    "`idempotency_key_reused`; while the first is still running, 409 `duplicate_request`.",
    openapi_extra=on(201, CASE_LINKS),
)
def open_case(
    request: HttpRequest,
    response: HttpResponse,
    payload: CaseOpenIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200),
):
    actor = current_actor(request)
    shop = current_shop(request)
    order = selectors.order_for_request(
        actor,
        order_id=payload.order_id,
        order_external_id=payload.order_external_id,
        buyer_order_id=buyer_order_id(request),
    )
    lines = selectors.line_requests(order, payload.lines)

    def work() -> tuple[int, Any]:
        case = services.open_case(
            shop,
            actor,
            order=order,
            type=payload.type.value,
            reason=payload.reason.value,
            lines=lines,
            description=payload.description,
            channel=payload.channel or _default_channel(actor),
            refund_fen=payload.refund_fen,
            external_id=payload.external_id,
            marketplace_deadline_at=payload.deadline_at,
        )
        return 201, detail_json(request, actor, case.id, just_opened=case)

    outcome = idempotency.run_once(
        shop_id=shop.id,
        key=idempotency_key,
        fingerprint=idempotency.request_hash(actor, "POST /cases", payload.model_dump(mode="json")),
        work=work,
    )
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(outcome.status_code, outcome.body)


@router.get(
    "/cases",
    response={200: CaseListOut, **error_responses(*READ_ERRORS)},
    operation_id="list_cases",
    summary="售后单队列 The case queue",
    description="Soonest deadline first, cases without a deadline last, then by id. "
    "Repeat a parameter for several values (`status=a&status=b`). Without `status`, "
    "`scope` picks open (default), closed or all cases. Pages: pass `next_cursor` back as "
    "`cursor`; it is null on the last page.",
)
def list_cases(request: HttpRequest, filters: Query[CaseQueryIn]):
    actor = current_actor(request)
    page = selectors.queue(
        actor,
        selectors.QueueFilters(
            status=tuple(s.value for s in filters.status),
            type=tuple(t.value for t in filters.type),
            reason=tuple(r.value for r in filters.reason),
            channel=tuple(filters.channel),
            priority=tuple(filters.priority),
            assignee=tuple(filters.assignee),
            deadline_before=filters.deadline_before,
            scope=filters.scope,
            order_id=buyer_order_id(request),
        ),
        limit=filters.limit,
        cursor=filters.cursor,
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/cases/{case_id}",
    response={200: CaseDetailOut, **error_responses(*READ_ERRORS)},
    operation_id="get_case",
    summary="售后单详情 Case detail",
    openapi_extra=on(200, CASE_LINKS),
)
def get_case(request: HttpRequest, case_id: int = CaseId):
    return detail_json(request, current_actor(request), case_id)


# --- actions ------------------------------------------------------------------------------
def _register_action(action: str, body: type[ActionIn]) -> None:
    label = lc.ACTION_LABELS.get(action) or selectors.EXTRA_ACTION_LABELS.get(action, action)

    def act(request: HttpRequest, payload: body, case_id: int = CaseId):  # type: ignore[valid-type]
        actor = current_actor(request)
        selectors.require_case(actor, case_id, buyer_order_id(request))
        params = payload.model_dump(exclude={"version"})
        params = {k: v.value if isinstance(v, Enum) else v for k, v in params.items()}
        SERVICES[action](case_id, actor, expected_version=payload.version, **params)
        return detail_json(request, actor, case_id)

    act.__name__ = f"case_{action}"
    router.post(
        f"/cases/{{case_id}}/actions/{action}",
        response={200: CaseDetailOut, **error_responses(*BODY_ERRORS, 409)},
        operation_id=f"case_action_{action}",
        url_name=f"case_action_{action}",
        summary=f"{label} {action}",
        description="Send the case `version` from the detail to guard against acting on a "
        "stale view (409 `case_conflict`).",
        openapi_extra=on(200, CASE_LINKS),
    )(act)


for _action, _body in ACTION_BODIES.items():
    _register_action(_action, _body)


# --- evidence and rating ------------------------------------------------------------------
def refuse_bodies_over(limit: Callable[[], int]) -> Callable:
    """Refuse an oversized upload from its Content-Length, before anything reads the body
    (file parts do not count towards DATA_UPLOAD_MAX_MEMORY_SIZE)."""

    def decorate(run: Callable) -> Callable:
        @wraps(run)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit():
                error = ShouhouError("payload_too_large", limit=limit())
                return run.__self__.api.on_exception(request, error)
            return run(request, *args, **kwargs)

        return guarded

    return decorate


def _evidence_body_limit() -> int:
    return settings.SHOUHOU_MAX_EVIDENCE_BYTES + 64 * 1024  # the multipart envelope and note


def _evidence_out(case_id: int, ev: Evidence) -> dict[str, Any]:
    return {**selectors.evidence_summary(ev), "url": evidence_url(case_id, ev.id)}


@router.post(
    "/cases/{case_id}/evidence",
    response={201: EvidenceOut, **error_responses(*BODY_ERRORS, 409)},
    operation_id="add_evidence",
    summary="上传凭证 Add evidence",
    description="multipart/form-data: `file` (JPEG/PNG/WebP/GIF, PDF or MP4; the type is read "
    "from the content; images lose their EXIF) and an optional `note`.",
    # An empty file part reaches the handler as no file at all: the schema says "not empty".
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {"schema": {"properties": {"file": {"minLength": 1}}}}
            }
        },
        **on(201, from_evidence()),
    },
)
def add_evidence(
    request: HttpRequest,
    file: File[UploadedFile],
    case_id: int = CaseId,
    # No published NUL pattern on this multipart text part (unlike JSON bodies): a fuzzer's
    # "NUL inside" example loses the NUL in multipart encoding and then looks like a
    # schema-violating request we accepted. The service still refuses a NUL (422).
    note: Annotated[str, Form(max_length=500)] = "",
):
    actor = current_actor(request)
    selectors.require_case(actor, case_id, buyer_order_id(request))
    ev = evidence_service.add_evidence(case_id, actor, file, note)
    return Status(201, _evidence_out(case_id, ev))


# Decorating after registration wraps the operation's run(), i.e. before auth and parsing.
decorate_view(refuse_bodies_over(_evidence_body_limit))(add_evidence)


@router.get(
    "/cases/{case_id}/evidence/{evidence_id}",
    response=error_responses(*READ_ERRORS),
    operation_id="get_evidence_file",
    url_name="case_evidence_file",
    summary="下载凭证 Download an evidence file",
    openapi_extra={
        "responses": {
            "200": {
                "description": "the file, as the type read from its content when uploaded",
                "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in EVIDENCE_TYPES
                },
            }
        }
    },
)
def get_evidence_file(
    request: HttpRequest,
    case_id: int = CaseId,
    evidence_id: int = Path(..., ge=1, le=MAX_BIGINT),
):
    actor = current_actor(request)
    selectors.require_case(actor, case_id, buyer_order_id(request))
    ev = Evidence.objects.filter(pk=evidence_id, case_id=case_id, shop_id=actor.shop_id).first()
    if ev is None:
        raise ShouhouError("not_found", what="凭证")
    response = FileResponse(
        ev.file.open("rb"),
        content_type=ev.content_type,
        as_attachment=True,
        filename=ev.original_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@router.post(
    "/cases/{case_id}/rating",
    response={201: RatingOut, **error_responses(*BODY_ERRORS, 409)},
    operation_id="rate_case",
    summary="服务评价 Rate the handling",
)
def rate_case(request: HttpRequest, payload: RatingIn, case_id: int = CaseId):
    actor = current_actor(request)
    selectors.require_case(actor, case_id, buyer_order_id(request))
    rating = services.rate(
        case_id,
        actor,
        speed=payload.speed,
        satisfaction=payload.satisfaction,
        comment=payload.comment,
    )
    return Status(201, rating)


# --- the buyer portal and carriers --------------------------------------------------------
@portal_router.post(
    "/portal/session",
    response={200: PortalSessionOut, **error_responses(400, 404, 413, 422, 429)},
    operation_id="open_portal_session",
    summary="买家凭订单号登录 Buyer session",
    description="The buyer proves the order with the last four digits of the phone number; "
    "the token (header `X-Buyer-Token`) reaches that order's cases only. Repeated wrong "
    "guesses lock the order for a while (429 `too_many_attempts`).",
)
def open_portal_session(request: HttpRequest, payload: PortalSessionIn):
    token, order_id = open_buyer_session(
        shop_code=payload.shop,
        order_external_id=payload.order_external_id,
        phone_last4=payload.phone_last4,
        client=client_ip(request),
    )
    return {"token": token, "order_id": order_id, "expires_in": buyer_token_max_age()}


@logistics_router.post(
    "/logistics/events",
    response={200: LogisticsEventOut, **error_responses(*BODY_ERRORS, 409)},
    operation_id="logistics_event",
    summary="物流事件 Carrier event",
    description="`delivered` marks the case parcel with this tracking number delivered and "
    "runs the shop's `parcel_delivered` rules (e.g. auto-refund on a delivered return).",
)
def logistics_event(request: HttpRequest, payload: LogisticsEventIn):
    cases = services.record_parcel_delivered(
        current_shop(request),
        current_actor(request),
        carrier=payload.carrier,
        tracking_no=payload.tracking_no,
        at=payload.at,
    )
    return {"case_ids": [c.id for c in cases]}
