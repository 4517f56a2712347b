"""Fuzzing the public API with schemathesis, against the OpenAPI document the app serves.

The schema is loaded from /api/v1/openapi.json of the app itself (in process, over WSGI), and
every operation is called with generated requests — valid ones and deliberately invalid ones —
as three callers: a shop's API key, a buyer token and a staff session. Generated ids rarely
name a real row, so hooks swap in the ids of a seeded shop (orders, order lines, cases, an
evidence file) for part of the examples; that way the fuzzer reaches the handlers' real work,
not only their `not_found`.

All of schemathesis' default checks run, none excluded (no 5xx, status codes, content types,
response schemas and headers, negative data refused, auth not ignored, …), plus
`schema_valid_requests_parse` (fuzz_checks.py). One is configured, with its reason in
schemathesis.toml: `positive_data_acceptance` also allows 422, the API's answer to a
well-formed request refused on business grounds. A short stateful run follows the links
the spec declares (src/shouhou/openapi_links.py: open a case → act on it → read it) and
those schemathesis infers. A failure prints the curl that reproduces it (credentials
unmasked: they are a test shop's). Under CI the examples are derandomized, so a run is
reproducible. `make fuzz` is the longer run against a served
instance.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from shouhou.cases.schemas import MAX_BIGINT
from tests.conftest import IN_CI

from . import fuzz_checks  # noqa: F401 — registers the check

# Examples per operation: the API key's pass is the main one; the buyer's and the staff's see
# the same handlers through other credentials, so fewer. Raise them for a local deep run.
MAX_EXAMPLES = int(os.environ.get("SHOUHOU_FUZZ_EXAMPLES", "12"))
OTHER_EXAMPLES = int(os.environ.get("SHOUHOU_FUZZ_OTHER_EXAMPLES", "6"))

CONFIG = Path(__file__).with_name("schemathesis.toml")
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", get_wsgi_application(), config=schemathesis.Config.from_path(CONFIG)
)


@dataclass
class World:
    """The seeded rows the hooks draw real ids from (filled per test by the fixture)."""

    order_ids: list[int] = field(default_factory=list)
    line_ids: list[int] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)
    evidence_ids: list[int] = field(default_factory=list)
    staff_ids: list[int] = field(default_factory=list)
    api_key: str = ""


WORLD = World()


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_BIGINT


def _real_or(value: Any, pool: list[int]) -> st.SearchStrategy:
    """A valid generated id becomes a real one three times out of four; invalid stays."""
    if not _is_id(value) or not pool:
        return st.just(value)
    return st.one_of(
        st.sampled_from(pool), st.sampled_from(pool), st.sampled_from(pool), st.just(value)
    )


@schema.hook("flatmap_path_parameters")
def real_path_ids(ctx, path_parameters: dict[str, Any] | None) -> st.SearchStrategy:
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    pools = {
        "case_id": WORLD.case_ids,
        "order_id": WORLD.order_ids,
        "evidence_id": WORLD.evidence_ids,
    }
    return st.fixed_dictionaries(
        {k: _real_or(v, pools.get(k, [])) for k, v in path_parameters.items()}
    )


@schema.hook("flatmap_body")
def real_body_ids(ctx, body: Any) -> st.SearchStrategy:
    if not isinstance(body, dict):
        return st.just(body)
    parts: dict[str, st.SearchStrategy] = {k: st.just(v) for k, v in body.items()}
    if "order_id" in body:
        parts["order_id"] = _real_or(body["order_id"], WORLD.order_ids)
    if "staff_id" in body:
        parts["staff_id"] = _real_or(body["staff_id"], WORLD.staff_ids)
    if isinstance(body.get("lines"), list) and "customer" not in body:
        parts["lines"] = st.tuples(*[_real_line(ln) for ln in body["lines"]]).map(list)
    return st.fixed_dictionaries(parts)


def _real_line(line: Any) -> st.SearchStrategy:
    if not isinstance(line, dict) or "order_line_id" not in line:
        return st.just(line)
    return _real_or(line["order_line_id"], WORLD.line_ids).map(
        lambda v: {**line, "order_line_id": v}
    )


@pytest.fixture
def world(db):
    """A shop with orders in several states, cases at several steps, an evidence file."""
    from tests.api.fuzz_seed import seed

    seeded = seed()
    WORLD.__dict__.update(seeded.pools)
    WORLD.api_key = seeded.api_key_headers["Authorization"].removeprefix("Bearer ")
    # The app runs in this thread inside the test's transaction: Django's own test client
    # keeps request_started/finished from closing that connection, and so must we (on
    # PostgreSQL a closed connection mid-transaction is a 500 on every later request).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield seeded
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    WORLD.__dict__.update(World().__dict__)


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=IN_CI or os.environ.get("SHOUHOU_FUZZ_DERANDOMIZE") == "1",
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_key(case, world):
    case.call_and_validate(headers=world.api_key_headers)


@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=OTHER_EXAMPLES)
def test_buyer_token(case, world):
    case.call_and_validate(headers=world.buyer_headers)


@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=OTHER_EXAMPLES)
def test_staff_session(case, world):
    case.call_and_validate(headers=world.staff_headers)


# --- stateful: chains along the declared OpenAPI links (open → act → detail) and inferred ones
STATEFUL_STEPS = int(os.environ.get("SHOUHOU_FUZZ_STEPS", "8"))
STATEFUL_RUNS = int(os.environ.get("SHOUHOU_FUZZ_SCENARIOS", "12"))


# Its own schema object: the API key goes in through an auth provider, so the `ignored_auth`
# check knows which header is the credential (and sends the request without it).
stateful_schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", get_wsgi_application(), config=schemathesis.Config.from_path(CONFIG)
)
stateful_schema.hook("flatmap_path_parameters")(real_path_ids)
stateful_schema.hook("flatmap_body")(real_body_ids)


@stateful_schema.auth()
class SeededApiKey:
    def get(self, case, ctx):
        return WORLD.api_key

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def test_stateful_with_api_key(world):
    Workflow = stateful_schema.as_state_machine()
    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_RUNS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=FUZZ_SETTINGS.derandomize,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


# --- what the fuzzer found, pinned (each was a 500 or a refusal the schema did not allow) ---
def test_multipart_without_boundary_is_a_400_not_a_500(world):
    from .support import Api

    resp = Api(**world.api_key_headers).client.post(
        f"/api/v1/cases/{WORLD.case_ids[0]}/evidence",
        data=b"--x\r\nnot a part\r\n",
        content_type="multipart/form-data",  # and no boundary
        headers=world.api_key_headers,
    )
    assert resp.status_code == 400, resp.content
    assert resp.json()["code"] == "malformed_body"


def test_integral_floats_are_integers_as_json_schema_says(world):
    from .support import Api

    api = Api(**world.api_key_headers)
    resp = api.post(f"/cases/{WORLD.case_ids[2]}/actions/set_priority", {"priority": 2.0})
    assert resp.status_code == 200, resp.content
    assert resp.json()["priority"] == 2
    refused = api.post(f"/cases/{WORLD.case_ids[2]}/actions/set_priority", {"priority": 1.5})
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_error"


def test_blank_reason_and_bad_tracking_are_refused_by_the_published_schema(world):
    from .support import Api

    api = Api(**world.api_key_headers)
    spec = api.get("/openapi.json").json()["components"]["schemas"]
    for body, action, name in (
        ({"reason": "   "}, "reject", "reason"),
        ({"reason": "a\x00b"}, "reject", "reason"),
    ):
        resp = api.post(f"/cases/{WORLD.case_ids[0]}/actions/{action}", body)
        assert resp.status_code == 422, resp.content
        assert resp.json()["details"]["errors"][0]["loc"][-1] == name
    # The tracking number's pattern is published (surrounding white space allowed, as the
    # service strips it); one of the wrong shape is the documented `invalid_tracking`.
    body = {"carrier": "顺丰", "tracking_no": "SF 1"}
    resp = api.post(f"/cases/{WORLD.case_ids[0]}/actions/ship_return", body)
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_tracking", resp.content
    assert spec["ShipIn"]["properties"]["tracking_no"]["pattern"]
    assert spec["ReasonRequiredIn"]["properties"]["reason"]["pattern"]
    assert "not" in spec["CaseOpenIn"] and "not" in spec["CaseLineIn"]  # exactly one of two


def test_order_amounts_beyond_storage_are_a_business_refusal(world):
    from .support import Api

    line = {"external_id": "L1", "title": "x", "quantity": 1000, "unit_price_fen": MAX_BIGINT}
    body = {"external_id": "BIG-1", "customer": {"external_id": "c1"}, "lines": [line]}
    resp = Api(**world.api_key_headers).post("/orders", body)
    assert resp.status_code == 422, resp.content
    assert resp.json()["code"] == "amount_too_large"
