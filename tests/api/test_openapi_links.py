"""The OpenAPI links the spec publishes (src/shouhou/openapi_links.py): each names an
operation and parameters that exist, and followed by hand — order pushed → case opened →
detail → action → evidence → its file — every step reaches the row the previous one made."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import make_shop

from .support import Api, key_api


def _operations(spec: dict) -> dict[str, tuple[str, dict]]:
    return {
        op["operationId"]: (path, op)
        for path, ops in spec["paths"].items()
        for op in ops.values()
        if isinstance(op, dict) and "operationId" in op
    }


def _links(op: dict, status: int) -> dict[str, dict]:
    return op["responses"][str(status)].get("links", {})


def _resolve(expr: Any, response: dict, request_path: dict) -> Any:
    """The runtime expressions the links use: $response.body#/… and $request.path.…"""
    if isinstance(expr, dict):
        return {k: _resolve(v, response, request_path) for k, v in expr.items()}
    if isinstance(expr, list):
        return [_resolve(v, response, request_path) for v in expr]
    if isinstance(expr, str) and expr.startswith("$response.body#/"):
        value: Any = response
        for part in expr.removeprefix("$response.body#/").split("/"):
            value = value[int(part)] if isinstance(value, list) else value[part]
        return value
    if isinstance(expr, str) and expr.startswith("$request.path."):
        return request_path[expr.removeprefix("$request.path.")]
    return expr


def test_every_link_names_an_operation_and_its_parameters(db):
    spec = Api().get("/openapi.json").json()
    operations = _operations(spec)
    count = 0
    for path, ops in spec["paths"].items():
        for op in ops.values():
            for response in op.get("responses", {}).values():
                for name, link in response.get("links", {}).items():
                    count += 1
                    target_path, target = operations[link["operationId"]]
                    path_params = {p["name"] for p in target.get("parameters", [])}
                    assert set(link.get("parameters", {})) <= path_params, (path, name)
                    if "requestBody" in link:
                        assert "requestBody" in target, (path, name)
    assert count > 0
    open_case = operations["open_case"][1]
    targets = {link["operationId"] for link in _links(open_case, 201).values()}
    actions = {op_id for op_id in operations if op_id.startswith("case_action_")}
    assert {"get_case", "add_evidence", "rate_case"} | actions <= targets
    upsert = operations["upsert_order"][1]
    for status in (200, 201):
        assert "open_case" in {link["operationId"] for link in _links(upsert, status).values()}


def test_following_the_links_reaches_the_rows_each_step_made(db):
    api = key_api(make_shop())
    spec = api.get("/openapi.json").json()
    operations = _operations(spec)
    order_body = {
        "external_id": "LINK-1",
        "status": "delivered",
        "customer": {"external_id": "c-link"},
        "lines": [{"external_id": "L1", "title": "杯子", "quantity": 2, "unit_price_fen": 1500}],
    }
    order = api.post("/orders", order_body)
    assert order.status_code == 201, order.content

    link = _links(operations["upsert_order"][1], 201)["OpenRefundOnly"]
    case = api.post("/cases", _resolve(link["requestBody"], order.json(), {}))
    assert case.status_code == 201, case.content
    assert case.json()["order_id"] == order.json()["id"]

    case_links = _links(operations["open_case"][1], 201)
    params = _resolve(case_links["GetCase"]["parameters"], case.json(), {})
    detail = api.get(f"/cases/{params['case_id']}")
    assert detail.status_code == 200 and detail.json()["id"] == case.json()["id"]

    note = case_links["Action_note"]
    params = _resolve(note["parameters"], detail.json(), {})
    body = {"text": "跟进", **_resolve(note["requestBody"], detail.json(), {})}
    acted = api.post(f"/cases/{params['case_id']}/actions/note", body)
    assert acted.status_code == 200, acted.content
    # The version travelled with the link: acting on the older one is a conflict.
    stale = api.post(f"/cases/{params['case_id']}/actions/note", body)
    assert stale.status_code == 409 and stale.json()["code"] == "case_conflict", stale.content

    pdf = SimpleUploadedFile("a.pdf", b"%PDF-1.7\n%%EOF\n")
    ev = api.upload(f"/cases/{params['case_id']}/evidence", {"file": pdf})
    assert ev.status_code == 201, ev.content
    ev_link = _links(operations["add_evidence"][1], 201)["GetEvidenceFile"]
    p = _resolve(ev_link["parameters"], ev.json(), {"case_id": params["case_id"]})
    file = api.get(f"/cases/{p['case_id']}/evidence/{p['evidence_id']}")
    assert file.status_code == 200
    assert b"".join(file.streaming_content).startswith(b"%PDF")
