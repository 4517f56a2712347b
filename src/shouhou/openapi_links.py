"""OpenAPI links between the API's operations (`links` on a response, via `openapi_extra`).

They tell a client — and a stateful fuzzer such as schemathesis — where the ids an answer
carries go next: a pushed order's id and line ids open a case; an opened case's id (and its
`version`) reach its detail, its actions, its evidence and its rating; an uploaded evidence
file's id reaches its download. Without them a generated id names no row and every call
after the first is a 404.
"""

from __future__ import annotations

from typing import Any

# The case's own id and version, from a response carrying the case detail.
CASE_ID = "$response.body#/id"
CASE_VERSION = "$response.body#/version"

# Bodies that open a case from a pushed order: one line, one unit, a few type/reason pairs
# (the generator's own body would often name the order twice — order_id and
# order_external_id are exactly one of two — so these replace it instead of merging).
OPEN_CASE_BODIES = {
    "OpenRefundOnly": ("refund_only", "damaged"),
    "OpenReturnRefund": ("return_refund", "quality"),
    "OpenExchange": ("exchange", "wrong_size"),
    "OpenUnshippedRefund": ("refund_only", "changed_mind_unshipped"),
}


def on(status: int, links: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`openapi_extra` adding `links` to one response of an operation (django-ninja keys
    responses by the int status: a str key would be a second, duplicate entry)."""
    return {"responses": {status: {"links": links}}}


def merge(*extras: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for extra in extras:
        _deep_update(out, extra)
    return out


def _deep_update(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_update(into[key], value)
        else:
            into[key] = value


def from_order() -> dict[str, dict[str, Any]]:
    """From a pushed order (upsert_order): read it, open cases on its first line."""
    links: dict[str, dict[str, Any]] = {
        "GetOrder": {
            "operationId": "get_order",
            "parameters": {"order_id": "$response.body#/id"},
            "description": "The order just pushed.",
        }
    }
    for name, (case_type, reason) in OPEN_CASE_BODIES.items():
        links[name] = {
            "operationId": "open_case",
            "requestBody": {
                "order_id": "$response.body#/id",
                "type": case_type,
                "reason": reason,
                "lines": [{"order_line_id": "$response.body#/lines/0/id", "quantity": 1}],
            },
            "description": f"A {case_type} case ({reason}) on the order's first line.",
            "x-schemathesis": {"merge_body": False},
        }
    return links


def from_case(actions: list[str]) -> dict[str, dict[str, Any]]:
    """From an answer carrying a case detail: its detail, every action (with the case's
    current `version`), its evidence and its rating."""
    links: dict[str, dict[str, Any]] = {
        "GetCase": {
            "operationId": "get_case",
            "parameters": {"case_id": CASE_ID},
            "description": "The case's detail.",
        },
        "AddEvidence": {
            "operationId": "add_evidence",
            "parameters": {"case_id": CASE_ID},
            "description": "Upload evidence to the case.",
        },
        "RateCase": {
            "operationId": "rate_case",
            "parameters": {"case_id": CASE_ID},
            "description": "Rate the handling of the case.",
        },
    }
    # Another case on the same order line (refused while this one holds the whole quantity:
    # an answer from the real rows all the same).
    links["OpenCaseOnSameLine"] = {
        "operationId": "open_case",
        "requestBody": {
            "order_id": "$response.body#/order_id",
            "type": "refund_only",
            "reason": "damaged",
            "lines": [{"order_line_id": "$response.body#/lines/0/order_line_id", "quantity": 1}],
        },
        "description": "Open another case on the first line of this case's order.",
        "x-schemathesis": {"merge_body": False},
    }
    for action in actions:
        links[f"Action_{action}"] = {
            "operationId": f"case_action_{action}",
            "parameters": {"case_id": CASE_ID},
            "requestBody": {"version": CASE_VERSION},
            "description": f"`{action}` on the case, at its current version.",
        }
    return links


def from_evidence() -> dict[str, dict[str, Any]]:
    """From an uploaded evidence file: download it; the case's detail."""
    return {
        "GetEvidenceFile": {
            "operationId": "get_evidence_file",
            "parameters": {
                "case_id": "$request.path.case_id",
                "evidence_id": "$response.body#/id",
            },
            "description": "Download the file just uploaded.",
        },
        "GetCase": {
            "operationId": "get_case",
            "parameters": {"case_id": "$request.path.case_id"},
            "description": "The case's detail.",
        },
    }
