"""Every refusal the API promises: the status, the stable code, the language, and that a
refused request leaves nothing behind."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from shouhou.cases.models import Case, CaseLine, Evidence, TimelineEvent
from shouhou.core import clock
from shouhou.core.models import ApiKey, IdempotencyRecord
from tests.factories import make_order, make_staff

from .support import Api, open_case, staff_api


def case_body(order, **over):
    line = order.lines.order_by("id").first()
    body = {
        "order_id": order.id,
        "type": "return_refund",
        "reason": "quality",
        "lines": [{"order_line_id": line.id, "quantity": 1}],
    }
    body.update(over)
    return body


def counts():
    return (Case.objects.count(), CaseLine.objects.count(), TimelineEvent.objects.count())


def assert_error(resp, status: int, code: str):
    assert resp.status_code == status, resp.content
    body = resp.json()
    assert body["code"] == code, body
    assert body["message"] and isinstance(body["details"], dict)
    return body


# --- request parsing ----------------------------------------------------------------------
def test_malformed_json_is_400(integration):
    resp = integration.post("/cases", raw=b'{"order_id": 1, "type": ')
    assert_error(resp, 400, "malformed_json")


def test_oversized_body_is_413(integration, order, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = case_body(order, description="长" * 2000)
    resp = integration.post("/cases", body)
    err = assert_error(resp, 413, "payload_too_large")
    assert err["details"]["limit"] == 1024
    assert Case.objects.count() == 0


def test_oversized_upload_is_refused_before_reading(integration, order, settings):
    settings.SHOUHOU_MAX_EVIDENCE_BYTES = 1000
    cid = open_case(integration, order)["id"]
    big = SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * 200_000)
    resp = integration.upload(f"/cases/{cid}/evidence", {"file": big})
    assert_error(resp, 413, "payload_too_large")


def test_json_true_is_not_an_integer(integration, order):
    line = order.lines.first()
    body = case_body(order, lines=[{"order_line_id": line.id, "quantity": True}])
    err = assert_error(integration.post("/cases", body), 422, "validation_error")
    assert err["details"]["errors"][0]["loc"][-1] == "quantity"
    body = case_body(order, order_id=True)
    assert_error(integration.post("/cases", body), 422, "validation_error")


def test_integers_are_bounded_to_their_columns(integration, order):
    line = order.lines.first()
    too_many = case_body(order, lines=[{"order_line_id": line.id, "quantity": 1_000_001}])
    assert_error(integration.post("/cases", too_many), 422, "validation_error")
    huge = case_body(order, refund_fen=9_223_372_036_854_775_808)
    assert_error(integration.post("/cases", huge), 422, "validation_error")
    assert_error(integration.get("/cases/9223372036854775808"), 422, "validation_error")
    assert_error(integration.act(1, "set_priority", {"priority": 3}), 422, "validation_error")


def test_strings_are_bounded_and_free_of_nul(integration, order):
    assert_error(
        integration.post("/cases", case_body(order, external_id="x" * 65)), 422, "validation_error"
    )
    assert_error(
        integration.post("/cases", case_body(order, description="a\x00b")), 422, "validation_error"
    )
    assert_error(integration.post("/cases", case_body(order, surprise=1)), 422, "validation_error")


# --- business refusals --------------------------------------------------------------------
def test_unknown_order_line(integration, order, shop):
    other = make_order(shop)
    foreign_line = other.lines.first()
    body = case_body(order, lines=[{"order_line_id": foreign_line.id, "quantity": 1}])
    assert_error(integration.post("/cases", body), 422, "unknown_order_line")
    body = case_body(order, lines=[{"order_line_external_id": "nope", "quantity": 1}])
    err = assert_error(integration.post("/cases", body), 422, "unknown_order_line")
    assert err["details"]["line"] == "nope"


def test_quantity_above_ordered(integration, order):
    line = order.lines.order_by("id").first()  # 2 ordered
    body = case_body(order, lines=[{"order_line_id": line.id, "quantity": 3}])
    err = assert_error(integration.post("/cases", body), 422, "quantity_exceeds_ordered")
    assert err["details"]["available"] == 2


def test_refund_above_paid(integration, order):
    line = order.lines.order_by("id").first()  # 2 × 5000 paid
    body = case_body(
        order,
        type="refund_only",
        lines=[{"order_line_id": line.id, "quantity": 2, "refund_fen": 10001}],
    )
    err = assert_error(integration.post("/cases", body), 422, "refund_exceeds_paid")
    assert err["details"]["refundable"] == 10000


def test_action_not_allowed_for_the_status(integration, order, warehouse):
    cid = open_case(integration, order)["id"]
    err = assert_error(warehouse.act(cid, "confirm_receipt"), 409, "action_not_allowed")
    assert err["details"]["status"] == "awaiting_merchant"


def test_roles_not_allowed(order, buyer, warehouse, agent):
    cid = open_case(buyer, order)["id"]
    assert_error(buyer.act(cid, "agree"), 403, "role_not_allowed")
    assert_error(warehouse.act(cid, "reject", {"reason": "不行"}), 403, "role_not_allowed")
    assert Case.objects.get(pk=cid).status == "awaiting_merchant"
    assert_error(buyer.act(cid, "assign", {"staff_id": agent.staff.id}), 403, "permission_denied")
    assert_error(warehouse.post("/orders", {}), 422, "validation_error")
    order_body = {
        "external_id": "W1",
        "customer": {"external_id": "c"},
        "lines": [{"external_id": "a", "title": "t", "quantity": 1, "unit_price_fen": 1}],
    }
    assert_error(warehouse.post("/orders", order_body), 403, "permission_denied")
    assert_error(buyer.post("/orders", order_body), 403, "permission_denied")


def test_expired_deadline(integration, order, agent):
    cid = open_case(integration, order)["id"]
    clock.advance(timedelta(hours=73))  # the sweep has not run yet
    err = assert_error(agent.act(cid, "reject", {"reason": "太晚了"}), 409, "deadline_expired")
    assert err["details"]["deadline"]


def test_stale_version_is_a_conflict(integration, order, agent):
    case = open_case(integration, order)
    agent.act(case["id"], "note", {"text": "先看看"})
    err = assert_error(
        agent.act(case["id"], "reject", {"version": case["version"], "reason": "x"}),
        409,
        "case_conflict",
    )
    assert err["details"] == {"expected": case["version"], "actual": case["version"] + 1}


def test_unknown_ids_are_404(integration):
    assert_error(integration.get("/cases/987654"), 404, "not_found")
    assert_error(integration.get("/orders/987654"), 404, "not_found")
    assert_error(integration.act(987654, "agree"), 404, "not_found")
    assert_error(integration.get("/no/such/endpoint"), 404, "not_found")


def test_english_messages(integration, order):
    en = {"Accept-Language": "en-US,en;q=0.9"}
    line = order.lines.order_by("id").first()
    body = case_body(order, lines=[{"order_line_id": line.id, "quantity": 3}])
    resp = integration.post("/cases", body, headers=en)
    err = assert_error(resp, 422, "quantity_exceeds_ordered")
    assert err["message"].startswith("Order line")
    assert resp["Content-Language"] == "en"
    zh = assert_error(integration.post("/cases", body), 422, "quantity_exceeds_ordered")
    assert "超过可申请数量" in zh["message"]
    assert integration.post("/cases", raw=b"{", headers=en).json()["message"] == (
        "The request body is not valid JSON."
    )
    assert Api().get("/cases", headers=en).json()["message"].startswith("Not authenticated")


# --- idempotency --------------------------------------------------------------------------
def test_idempotency_key_replays_the_same_request(integration, order):
    key = {"Idempotency-Key": "erp-req-0001"}
    first = integration.post("/cases", case_body(order), headers=key)
    assert first.status_code == 201
    before = counts()
    again = integration.post("/cases", case_body(order), headers=key)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert counts() == before


def test_idempotency_key_with_another_body_is_refused(integration, order):
    key = {"Idempotency-Key": "erp-req-0002"}
    assert integration.post("/cases", case_body(order), headers=key).status_code == 201
    before = counts()
    other = case_body(order, description="another request")
    assert_error(integration.post("/cases", other, headers=key), 422, "idempotency_key_reused")
    assert counts() == before


def test_idempotency_key_in_flight_is_a_duplicate(integration, order, shop):
    # The first request claimed the key and is still running: no response is stored yet.
    probe = integration.post("/cases", case_body(order), headers={"Idempotency-Key": "probe"})
    assert probe.status_code == 201
    fingerprint = IdempotencyRecord.objects.get(key="probe").request_hash
    IdempotencyRecord.objects.create(shop=shop, key="in-flight", request_hash=fingerprint)
    before = counts()
    resp = integration.post("/cases", case_body(order), headers={"Idempotency-Key": "in-flight"})
    assert_error(resp, 409, "duplicate_request")
    assert counts() == before


def test_failed_request_releases_the_key(integration, order):
    key = {"Idempotency-Key": "erp-req-0003"}
    line = order.lines.order_by("id").first()
    bad = case_body(order, lines=[{"order_line_id": line.id, "quantity": 3}])
    assert_error(integration.post("/cases", bad, headers=key), 422, "quantity_exceeds_ordered")
    assert not IdempotencyRecord.objects.filter(key="erp-req-0003").exists()
    assert counts() == (0, 0, 0)


# --- credentials --------------------------------------------------------------------------
def test_missing_wrong_and_revoked_credentials(shop, order):
    assert_error(Api().get("/cases"), 401, "not_authenticated")
    assert_error(Api(Authorization="Bearer sh_nothere_xxx").get("/cases"), 401, "not_authenticated")
    key, secret = ApiKey.issue(shop, "old")
    assert Api(Authorization=f"Bearer {secret}").get("/cases").status_code == 200
    assert Api(**{"X-API-Key": secret}).get("/cases").status_code == 200
    assert Api(Authorization=f"Bearer {secret[:-1]}x").get("/cases").status_code == 401
    key.refresh_from_db()
    first_use = key.last_used_at
    assert first_use is not None
    Api(Authorization=f"Bearer {secret}").get("/cases")
    key.refresh_from_db()
    assert key.last_used_at == first_use  # written at most once a minute
    key.revoked_at = clock.now()
    key.save()
    assert_error(Api(Authorization=f"Bearer {secret}").get("/cases"), 401, "not_authenticated")
    assert_error(Api(**{"X-Buyer-Token": "forged:token"}).get("/cases"), 401, "not_authenticated")


def test_buyer_token_expires(order, settings):
    from .support import buyer_api

    api = buyer_api(order)
    assert api.get(f"/orders/{order.id}").status_code == 200
    settings.SHOUHOU_BUYER_TOKEN_MAX_AGE = -1
    assert_error(api.get(f"/orders/{order.id}"), 401, "not_authenticated")


def test_staff_session_needs_csrf_for_writes(shop, order):
    staff = make_staff(shop, "agent")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff.user)
    api = Api(client)
    assert api.get("/cases").status_code == 200
    assert_error(api.post("/cases", case_body(order)), 403, "csrf_failed")
    client.get("/api/v1/cases")  # no CSRF cookie is set by the API; take one from a form
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    ok = api.post("/cases", case_body(order), headers={"X-CSRFToken": _mask_cipher_secret(secret)})
    assert ok.status_code == 201, ok.content


def test_staff_in_two_shops_must_pick_one(shop, other_shop, order):
    staff = make_staff(shop, "agent")
    from shouhou.core.models import StaffMember

    StaffMember.objects.create(shop=other_shop, user=staff.user, role="admin")
    api = staff_api(shop, "agent", staff=staff)
    assert_error(api.get("/cases"), 400, "shop_ambiguous")
    mine = api.get("/cases", headers={"X-Shop": shop.code})
    assert mine.status_code == 200
    assert api.get("/cases", {"shop": other_shop.code}).status_code == 200
    assert_error(api.get("/cases", headers={"X-Shop": "nope"}), 404, "not_found")


def test_portal_session_refuses_wrong_phone_and_locks_out(shop, order):
    body = {"shop": shop.code, "order_external_id": order.external_id, "phone_last4": "0000"}
    for _ in range(5):
        assert_error(Api().post("/portal/session", body), 404, "not_found")
    good = dict(body, phone_last4=order.customer.phone_last4)
    assert_error(Api().post("/portal/session", good), 429, "too_many_attempts")


def test_buyer_token_reaches_only_its_own_order(shop, order, buyer, integration):
    same_buyer_other_order = make_order(shop, order.customer)
    other_case = open_case(integration, same_buyer_other_order)
    assert_error(buyer.get(f"/cases/{other_case['id']}"), 404, "not_found")
    assert_error(buyer.act(other_case["id"], "cancel"), 404, "not_found")
    assert_error(buyer.get(f"/orders/{same_buyer_other_order.id}"), 404, "not_found")
    assert buyer.get("/cases").json()["items"] == []
    assert_error(buyer.post("/cases", case_body(same_buyer_other_order)), 404, "not_found")


# --- evidence -----------------------------------------------------------------------------
def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (16, 16), "blue")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}  # GPS
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def test_evidence_strips_exif_and_checks_content(order, buyer):
    cid = open_case(buyer, order)["id"]
    raw = jpeg_with_gps()
    assert Image.open(io.BytesIO(raw)).getexif()
    resp = buyer.upload(f"/cases/{cid}/evidence", {"file": SimpleUploadedFile("a.jpg", raw)})
    assert resp.status_code == 201, resp.content
    ev = Evidence.objects.get(pk=resp.json()["id"])
    stored = ev.file.read()
    assert not Image.open(io.BytesIO(stored)).getexif()
    assert b"PhoneMaker" not in stored
    import hashlib

    assert ev.sha256 == hashlib.sha256(stored).hexdigest()
    fake = SimpleUploadedFile("evil.png", b"<script>alert(1)</script>", content_type="image/png")
    assert_error(buyer.upload(f"/cases/{cid}/evidence", {"file": fake}), 422, "evidence_invalid")
    pdf = SimpleUploadedFile("invoice.pdf", b"%PDF-1.7\n%%EOF\n")
    assert buyer.upload(f"/cases/{cid}/evidence", {"file": pdf}).json()["content_type"] == (
        "application/pdf"
    )
    mp4 = SimpleUploadedFile("v.mp4", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
    assert buyer.upload(f"/cases/{cid}/evidence", {"file": mp4}).json()["content_type"] == (
        "video/mp4"
    )
    kinds = [e["action"] for e in buyer.get(f"/cases/{cid}").json()["timeline"]]
    assert kinds.count("evidence") == 3


@pytest.mark.parametrize("limit", [2])
def test_evidence_count_limit(order, buyer, shop, limit):
    from shouhou.cases.policies import update_policy

    update_policy(shop, max_evidence_files=limit)
    cid = open_case(buyer, order)["id"]
    for i in range(limit):
        pdf = SimpleUploadedFile(f"{i}.pdf", b"%PDF-1.7\n" + bytes([i]))
        assert buyer.upload(f"/cases/{cid}/evidence", {"file": pdf}).status_code == 201
    pdf = SimpleUploadedFile("x.pdf", b"%PDF-1.7\n")
    err = assert_error(
        buyer.upload(f"/cases/{cid}/evidence", {"file": pdf}), 422, "too_many_evidence"
    )
    assert err["details"]["limit"] == limit
    assert Evidence.objects.filter(case_id=cid).count() == limit
