"""The REST API root (django-ninja): /api/v1/, OpenAPI at /api/v1/openapi.json, docs at
/api/v1/docs.

Every error leaves as `{"code", "message", "details"}` with the status from the catalog in
core/errors.py, in Chinese, or in English when the caller sends `Accept-Language: en`.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer

from shouhou.cases import lifecycle as lc
from shouhou.cases.api import logistics_router, portal_router
from shouhou.cases.api import router as cases_router
from shouhou.core.errors import ShouhouError
from shouhou.orders.api import router as orders_router

log = logging.getLogger("shouhou.api")


class ChineseJSONRenderer(JSONRenderer):
    """UTF-8 JSON with Chinese as characters, not \\u escapes: readable in curl and logs."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    renderer=ChineseJSONRenderer(),
    title="shouhou 售后 API",
    version="1.0.0",
    description=(
        "售后单 after-sales cases for e-commerce shops. Authenticate with a shop API key "
        "(`Authorization: Bearer sh_…` or `X-API-Key`), a staff session (cookie + "
        "`X-CSRFToken`; `X-Shop: <code>` when in several shops) or a buyer token "
        "(`X-Buyer-Token` from POST /portal/session). Money is integer fen (分). Errors: "
        '`{"code", "message", "details"}`; English with `Accept-Language: en`.'
    ),
    urls_namespace="api-v1",
    docs_url="/docs",
)


def language(request: HttpRequest) -> str:
    code = getattr(request, "LANGUAGE_CODE", "") or ""
    if not code:
        header = request.headers.get("Accept-Language", "")
        code = header.split(",")[0].strip().lower()
    return "en" if code.startswith("en") else "zh-hans"


def error_response(request: HttpRequest, error: ShouhouError) -> HttpResponse:
    lang = language(request)
    response = api.create_response(request, error.as_dict(lang), status=error.status)
    response["Content-Language"] = lang
    return response


@api.exception_handler(ShouhouError)
def on_shouhou_error(request: HttpRequest, exc: ShouhouError) -> HttpResponse:
    return error_response(request, exc)


@api.exception_handler(lc.NotAllowed)
def on_not_allowed(request: HttpRequest, exc: lc.NotAllowed) -> HttpResponse:
    """The lifecycle table refused (a role opening a case it may not, say)."""
    params: dict[str, Any] = {k: getattr(v, "value", v) for k, v in exc.params.items()}
    action = exc.params.get("action")
    if isinstance(action, lc.Action):
        params["action_label"] = lc.ACTION_LABELS[action]
    status = exc.params.get("status")
    if isinstance(status, lc.Status):
        params["status_label"] = lc.STATUS_LABELS[status]
    if "type" in params:
        params["type_label"] = lc.CASE_TYPE_LABELS.get(params["type"], params["type"])
    return error_response(request, ShouhouError(exc.code, **params))


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors
    ]
    first = errors[0] if errors else {"loc": [], "msg": ""}
    detail = f"{'.'.join(first['loc'])}: {first['msg']}".strip(": ")
    error = ShouhouError("validation_error", detail=detail)
    body = error.as_dict(language(request))
    body["details"] = {"detail": detail, "errors": errors}
    return api.create_response(request, body, status=422)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, ShouhouError("not_authenticated"))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja raises HttpError(400) when it cannot parse the JSON body.
    code = {
        400: "malformed_json",
        401: "not_authenticated",
        403: "csrf_failed",
        404: "not_found",
        429: "too_many_attempts",
    }.get(exc.status_code)
    if code is None:
        return api.create_response(
            request, {"code": "http_error", "message": str(exc), "details": {}}, exc.status_code
        )
    params = {"not_found": {"what": "资源"}, "too_many_attempts": {"minutes": 1}}
    return error_response(request, ShouhouError(code, **params.get(code, {})))


def _too_large(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(
        request, ShouhouError("payload_too_large", limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    )


for _exc in (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
    api.add_exception_handler(_exc, _too_large)


@api.exception_handler(MultiPartParserError)
def on_bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    """`multipart/form-data` without a boundary, or a broken body: the caller's fault, a 400
    (found by the fuzzer — it was a 500)."""
    return error_response(request, ShouhouError("malformed_body", detail=str(exc)[:200]))


@api.exception_handler(Http404)
def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, ShouhouError("not_found", what="资源"))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unhandled error in %s %s", request.method, request.path)
    return error_response(request, ShouhouError("internal_error"))


def not_found_view(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown URLs under /api/v1/ answer in the API's error shape, not Django's HTML page."""
    error = ShouhouError("not_found", what=f"接口 /api/v1/{path}"[:200])
    return JsonResponse(
        error.as_dict(language(request)), status=404, json_dumps_params={"ensure_ascii": False}
    )


api.add_router("", orders_router)
api.add_router("", cases_router)
api.add_router("", portal_router)
api.add_router("", logistics_router)
