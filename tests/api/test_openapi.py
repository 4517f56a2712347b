"""The published contract: the OpenAPI document and the docs page load, and every
operation declares the errors it can answer with."""

from __future__ import annotations

from django.test import Client

from .support import Api


def test_openapi_json_and_docs_load(db):
    resp = Api().get("/openapi.json")
    assert resp.status_code == 200
    spec = resp.json()
    assert spec["info"]["title"].startswith("shouhou")
    assert "/api/v1/cases/{case_id}/actions/agree" in spec["paths"]
    schemes = spec["components"]["securitySchemes"]
    assert {s.get("name") for s in schemes.values()} >= {"X-API-Key", "X-Buyer-Token"}
    docs = Client().get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"openapi.json" in docs.content


def test_every_operation_declares_its_errors(db):
    spec = Api().get("/openapi.json").json()
    seen = 0
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            declared = set(op["responses"])
            assert "422" in declared, (method, path)
            if op.get("security"):
                assert {"401", "404"} <= declared, (method, path)
            if "requestBody" in op:
                assert {"400", "413"} <= declared, (method, path)
            if "/actions/" in path:
                assert {"403", "409"} <= declared, (method, path)
                schema_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                body = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
                assert "version" in body["properties"], path
            seen += 1
    assert seen >= 30


def test_integer_fields_are_bounded_in_the_schema(db):
    spec = Api().get("/openapi.json").json()
    line = spec["components"]["schemas"]["CaseLineIn"]["properties"]
    assert line["quantity"]["maximum"] == 1_000_000
    fen = spec["components"]["schemas"]["CaseOpenIn"]["properties"]["refund_fen"]
    bounded = [s for s in fen.get("anyOf", [fen]) if s.get("type") == "integer"]
    assert bounded[0]["maximum"] == 9_223_372_036_854_775_807
