"""Tenant isolation, proven over the whole API surface.

The test reads the served OpenAPI schema and calls EVERY operation in it — so an endpoint
added later is walked too — as callers from another shop (its API key, the session of
each of its staff roles — admin, agent, warehouse, finance, arbiter — its buyer's token) and with no credentials at all, aiming at shop A's case,
order, evidence and tracking number. Whatever the route, the answer must be 401, 403 or
404 (429 for the rate-limited portal login), or a 2xx that carries none of shop A's data.
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shouhou.cases import services
from shouhou.cases.models import Evidence
from tests.factories import buyer as buyer_actor
from tests.factories import make_customer, make_order, make_staff, staff_actor

from .support import Api, buyer_api, key_api, staff_api

REFUSED = {401, 403, 404}


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def victim(shop):
    """Shop A: a case under way with evidence and a return parcel, and unique markers."""
    tag = uuid.uuid4().hex[:10]
    customer = make_customer(shop, nickname=f"受害买家{tag}")
    order = make_order(shop, customer, lines=[(2, 5000)])
    line = order.lines.get()
    line.title = f"机密商品{tag}"
    line.save()
    case = services.open_case(
        shop,
        buyer_actor(order),
        order=order,
        type="return_refund",
        reason="quality",
        description=f"机密描述{tag}",
        lines=[services.LineRequest(line.id, 1)],
    )
    services.agree(case.id, staff_actor(shop, "agent"))
    services.ship_return(case.id, buyer_actor(order), carrier="顺丰", tracking_no=f"SF{tag}")
    from shouhou.cases.evidence import add_evidence

    ev = add_evidence(case.id, buyer_actor(order), SimpleUploadedFile("p.png", png()), "")
    case.refresh_from_db()
    return {
        "shop": shop,
        "order": order,
        "line": line,
        "case": case,
        "evidence": ev,
        "staff": make_staff(shop, "agent"),
        "tracking_no": f"SF{tag}",
        "markers": [
            case.number,
            customer.nickname,
            line.title,
            f"机密描述{tag}",
            ev.sha256,
            customer.phone_masked,
        ],
    }


def path_values(victim) -> dict[str, int]:
    return {
        "case_id": victim["case"].id,
        "order_id": victim["order"].id,
        "evidence_id": victim["evidence"].id,
    }


def overrides(victim) -> dict[str, Any]:
    """Body fields that point at shop A's things; everything else is synthesised."""
    return {
        "order_id": victim["order"].id,
        "order_line_id": victim["line"].id,
        "staff_id": victim["staff"].id,
        "return_address_id": 1,
        "tracking_no": victim["tracking_no"],
        "carrier": "顺丰",
        "shop": victim["shop"].code,
        "order_external_id": victim["order"].external_id,
        "phone_last4": "0000",  # the attacker does not know the buyer's phone
        "external_id": f"ATTACK{uuid.uuid4().hex[:6]}",
        "speed": 5,
        "satisfaction": 5,
        "quantity": 1,
    }


class Synth:
    """The smallest valid value for a JSON schema, steering named fields at shop A."""

    def __init__(self, spec: dict, fixed: dict[str, Any]) -> None:
        self.components = spec.get("components", {}).get("schemas", {})
        self.fixed = fixed

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def value(self, schema: dict, name: str = "") -> Any:
        if name in self.fixed:
            return self.fixed[name]
        schema = self.resolve(schema)
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                options = [s for s in schema[key] if self.resolve(s).get("type") != "null"]
                return self.value(options[0], name)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object":
            props = schema.get("properties", {})
            wanted = set(schema.get("required", [])) | (set(props) & set(self.fixed))
            # Where the schema asks for one of two references, the id wins.
            if "order_id" in wanted:
                wanted.discard("order_external_id")
            return {k: self.value(props[k], k) for k in wanted}
        if kind == "array":
            return [self.value(schema.get("items", {}), name)] * max(1, schema.get("minItems", 1))
        if kind == "integer":
            return max(int(schema.get("minimum", 1)), 1)
        if kind == "boolean":
            return False
        if kind == "string":
            if schema.get("format") == "date-time":
                return "2025-01-01T00:00:00+08:00"
            if schema.get("format") == "binary":
                return SimpleUploadedFile("x.png", png())
            return "x" * max(1, schema.get("minLength", 1))
        return {}


def call(api: Api, method: str, path: str, op: dict, synth: Synth):
    body = op.get("requestBody", {}).get("content", {})
    if method == "get":
        return api.client.get(path, headers=api.headers)
    if "multipart/form-data" in body:
        data = synth.value(body["multipart/form-data"]["schema"])
        return api.client.post(path, data=data, headers=api.headers)
    payload = synth.value(body["application/json"]["schema"]) if body else {}
    return api.client.post(
        path, data=json.dumps(payload), content_type="application/json", headers=api.headers
    )


def readable(resp) -> str:
    """The body as text with Chinese unescaped, so markers are found however JSON encodes."""
    if resp.streaming:
        return b"".join(resp.streaming_content).decode("utf-8", "replace")
    text = resp.content.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def operations(spec: dict):
    for template, methods in spec["paths"].items():
        for method, op in methods.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield template, method, op


def fill(template: str, values: dict[str, int]) -> str:
    path = template
    for name in [p.strip("{}") for p in template.split("/") if p.startswith("{")]:
        assert name in values, f"teach the tenant test which shop-A object {{{name}}} is"
        path = path.replace("{" + name + "}", str(values[name]))
    return path


def test_every_route_refuses_other_shops(victim, other_shop):
    spec = Api().get("/openapi.json").json()
    synth = Synth(spec, overrides(victim))
    values = path_values(victim)
    their_order = make_order(other_shop)
    attackers = {
        "other shop's API key": key_api(other_shop),
        **{
            f"other shop's {role} session": staff_api(other_shop, role)
            for role in ("admin", "agent", "warehouse", "finance", "arbiter")
        },
        "other shop's buyer token": buyer_api(their_order),
        "no credentials": Api(),
    }
    walked = 0
    failures = []
    for template, method, op in operations(spec):
        path = fill(template, values)
        has_target = "{" in template
        for who, api in attackers.items():
            resp = call(api, method, path, op, synth)
            walked += 1
            text = readable(resp)
            leaked = [m for m in victim["markers"] if m and m in text]
            ok_status = resp.status_code in REFUSED | {429}
            if has_target:
                ok = ok_status
            else:
                ok = ok_status or (200 <= resp.status_code < 300 and not leaked)
            if not ok or leaked:
                failures.append(
                    f"{method.upper()} {template} as {who}: {resp.status_code} {text[:200]}"
                )
    assert not failures, "\n".join(failures)
    assert walked >= len(attackers) * 30, walked  # the whole surface, not an empty schema


def test_the_owner_reaches_every_targeted_route(victim):
    """The same requests from shop A itself are not 404: the ids above are real, so the
    refusals in the walk prove isolation rather than typos."""
    spec = Api().get("/openapi.json").json()
    synth = Synth(spec, overrides(victim))
    owner = key_api(victim["shop"])
    seen = 0
    for template, method, op in operations(spec):
        if "{" not in template:
            continue
        resp = call(owner, method, fill(template, path_values(victim)), op, synth)
        assert resp.status_code != 404, (method, template, resp.content[:300])
        assert resp.status_code < 500, (method, template, resp.content[:300])
        seen += 1
    assert seen >= 25
    assert Evidence.objects.filter(case=victim["case"]).exists()
