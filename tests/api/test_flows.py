"""Whole after-sales flows driven only through the REST API (PRODUCT.md §2 arrows)."""

from __future__ import annotations

import io
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shouhou.cases import deadlines
from shouhou.cases.models import RefundInstruction
from shouhou.core import clock
from shouhou.orders.models import OrderLine
from shouhou.rules.services import set_template_enabled

from .support import Api, buyer_api, open_case


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG")
    return buf.getvalue()


def test_return_refund_walked_fully_through_the_api(shop, integration, agent, warehouse, finance):
    created = integration.post(
        "/orders",
        {
            "external_id": "TB20240001",
            "status": "delivered",
            "channel": "taobao",
            "placed_at": "2024-01-01T10:00:00+08:00",
            "paid_at": "2024-01-01T10:01:00+08:00",
            "shipped_at": clock.now().isoformat(),
            "delivered_at": clock.now().isoformat(),
            "receiver_name": "张三",
            "receiver_phone": "13812345678",
            "receiver_address": "上海市浦东新区张江路 99 弄 3 号 501",
            "customer": {"external_id": "tb_buyer_1", "nickname": "小张", "phone": "13812345678"},
            "lines": [
                {"external_id": "L1", "title": "羊毛围巾", "quantity": 2, "unit_price_fen": 12900},
                {"external_id": "L2", "title": "手套", "quantity": 1, "unit_price_fen": 5900},
            ],
        },
    )
    assert created.status_code == 201, created.content
    order = created.json()
    assert order["receiver_phone_masked"] == "138****5678"
    assert "13812345678" not in created.content.decode()
    assert order["total_paid_fen"] == 2 * 12900 + 5900

    session = Api().post(
        "/portal/session",
        {"shop": shop.code, "order_external_id": "TB20240001", "phone_last4": "5678"},
    )
    assert session.status_code == 200, session.content
    buyer = Api(**{"X-Buyer-Token": session.json()["token"]})
    assert session.json()["order_id"] == order["id"]

    opened = buyer.post(
        "/cases",
        {
            "order_external_id": "TB20240001",
            "type": "return_refund",
            "reason": "quality",
            "description": "围巾起球严重",
            "lines": [{"order_line_external_id": "L1", "quantity": 1}],
        },
    )
    assert opened.status_code == 201, opened.content
    case = opened.json()
    cid = case["id"]
    assert case["status"] == "awaiting_merchant"
    assert case["status_label"] == "待商家处理"
    assert case["refund_fen"] == 12900
    assert case["channel"] == "portal"
    assert case["deadline_at"] and case["deadline_action"] == "agree"
    assert case["allowed_actions"] == ["cancel", "note"]
    assert case["customer"]["phone_masked"] == "138****5678"
    assert "13812345678" not in opened.content.decode()

    upload = buyer.upload(
        f"/cases/{cid}/evidence",
        {"file": SimpleUploadedFile("起球.png", png_bytes()), "note": "起球照片"},
    )
    assert upload.status_code == 201, upload.content
    assert upload.json()["content_type"] == "image/png"
    downloaded = agent.client.get(upload.json()["url"])
    assert downloaded.status_code == 200
    assert b"".join(downloaded.streaming_content).startswith(b"\x89PNG")

    detail = agent.get(f"/cases/{cid}").json()
    assert "agree" in detail["allowed_actions"] and "reject" in detail["allowed_actions"]
    agreed = agent.act(cid, "agree", {"version": detail["version"], "note": "请寄回"})
    assert agreed.status_code == 200, agreed.content
    case = agreed.json()
    assert case["status"] == "awaiting_buyer_return"
    assert case["return_address"]["address"].startswith("浙江省杭州市")

    shipped = buyer.act(
        cid,
        "ship_return",
        {"version": case["version"], "carrier": "顺丰", "tracking_no": "SF1234567890"},
    )
    assert shipped.status_code == 200, shipped.content
    assert shipped.json()["status"] == "awaiting_merchant_receipt"
    assert shipped.json()["shipments"][0]["tracking_no"] == "SF1234567890"

    received = warehouse.act(cid, "confirm_receipt", {"note": "验货通过"})
    assert received.status_code == 200, received.content
    assert received.json()["status"] == "refunding"
    assert received.json()["refund"]["amount_fen"] == 12900

    done = finance.act(cid, "confirm_refund", {"version": received.json()["version"]})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "completed"
    assert done.json()["refund"]["status"] == "confirmed"

    rated = buyer.post(f"/cases/{cid}/rating", {"speed": 5, "satisfaction": 4, "comment": "快"})
    assert rated.status_code == 201, rated.content
    final = buyer.get(f"/cases/{cid}").json()
    assert final["rating"]["speed"] == 5
    assert [e["action"] for e in final["timeline"]] == [
        "open",
        "evidence",
        "agree",
        "ship_return",
        "confirm_receipt",
        "refund_issued",
        "confirm_refund",
        "rate",
    ]
    line = OrderLine.objects.get(order_id=order["id"], external_id="L1")
    assert line.refunded_fen == 12900
    assert RefundInstruction.objects.filter(case_id=cid).count() == 1


def test_refund_only_is_agreed_by_the_deadline_sweep(shop, integration):
    from tests.factories import make_order

    order = make_order(shop, status="paid", lines=[(1, 8800)])
    case = open_case(
        integration, order, type="refund_only", reason="changed_mind_unshipped", external_id="PDD-1"
    )
    assert case["status"] == "awaiting_merchant"
    clock.advance(timedelta(hours=25))
    result = deadlines.sweep()
    assert result.applied >= 1
    after = integration.get(f"/cases/{case['id']}").json()
    assert after["status"] == "refunding"
    assert after["status_label"] == "退款中"
    assert after["auto_agreed_by_timeout"] is True
    by_deadline = [e for e in after["timeline"] if e["by_deadline"]]
    assert by_deadline and by_deadline[0]["action"] == "agree"
    assert by_deadline[0]["actor_role"] == "system"
    assert after["refund"]["amount_fen"] == 8800


def test_exchange_flow_with_replacement_shipment(shop, order, buyer, agent, warehouse):
    case = open_case(buyer, order, type="exchange", reason="wrong_size")
    cid = case["id"]
    assert agent.act(cid, "agree").json()["status"] == "awaiting_buyer_return"
    buyer.act(cid, "ship_return", {"carrier": "中通", "tracking_no": "ZT20240001"})
    assert warehouse.act(cid, "confirm_receipt").json()["status"] == "awaiting_merchant_shipment"
    shipped = warehouse.act(
        cid, "ship_replacement", {"carrier": "中通", "tracking_no": "ZT20240002"}
    )
    assert shipped.status_code == 200, shipped.content
    assert shipped.json()["status"] == "awaiting_buyer_receipt"
    done = buyer.act(cid, "confirm_delivery", {"version": shipped.json()["version"]})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "completed"


def test_proposals_declined_then_accepted(shop, order, buyer, agent):
    cid = open_case(buyer, order, type="refund_only", reason="not_as_described")["id"]
    proposed = agent.act(
        cid, "propose", {"kind": "partial_refund", "refund_fen": 2000, "note": "补偿"}
    )
    assert proposed.status_code == 200, proposed.content
    detail = buyer.get(f"/cases/{cid}").json()
    assert detail["status"] == "proposal_pending"
    assert detail["proposal"] == {
        "kind": "partial_refund",
        "kind_label": "部分退款",
        "refund_fen": 2000,
        "note": "补偿",
    }
    assert set(detail["allowed_actions"]) >= {"accept_proposal", "decline_proposal"}
    declined = buyer.act(cid, "decline_proposal", {"reason": "太少"})
    assert declined.json()["status"] == "awaiting_merchant"
    agent.act(cid, "propose", {"kind": "partial_refund", "refund_fen": 3000})
    accepted = buyer.act(cid, "accept_proposal")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "refunding"
    assert accepted.json()["refund"]["amount_fen"] == 3000


def test_reject_modify_escalate_and_rulings(shop, order, buyer, agent, arbiter):
    cid = open_case(buyer, order, type="refund_only", reason="not_as_described")["id"]
    rejected = agent.act(cid, "reject", {"reason": "商品与描述一致"})
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "商品与描述一致"
    modified = buyer.act(cid, "modify", {"description": "补充：颜色不符", "refund_fen": 4000})
    assert modified.status_code == 200, modified.content
    assert modified.json()["status"] == "awaiting_merchant"
    assert modified.json()["refund_fen"] == 4000
    agent.act(cid, "reject", {"reason": "仍不同意"})
    escalated = buyer.act(cid, "escalate", {"statement": "请平台介入"})
    assert escalated.json()["status"] == "in_arbitration"
    ruled = arbiter.act(cid, "rule_for_buyer", {"reason": "证据充分"})
    assert ruled.status_code == 200, ruled.content
    assert ruled.json()["status"] == "refunding"
    assert ruled.json()["ruling"] == "for_buyer"

    other = open_case(buyer, order, type="refund_only", reason="not_as_described", line=1)["id"]
    agent.act(other, "reject", {"reason": "不符合"})
    buyer.act(other, "escalate")
    closed = arbiter.act(other, "rule_for_shop", {"reason": "买家证据不足"})
    assert closed.json()["status"] == "closed"
    reopened = buyer.act(other, "reopen", {"description": "补充证据"})
    assert reopened.status_code == 200, reopened.content
    assert reopened.json()["status"] == "awaiting_merchant"
    assert "reopen" not in buyer.act(other, "cancel").json()["allowed_actions"]


def test_failed_inspection_rejects(shop, order, buyer, agent, warehouse):
    cid = open_case(buyer, order)["id"]
    agent.act(cid, "agree")
    buyer.act(cid, "ship_return", {"carrier": "顺丰", "tracking_no": "SF5550001"})
    failed = warehouse.act(cid, "fail_inspection", {"reason": "商品已使用"})
    assert failed.status_code == 200, failed.content
    assert failed.json()["status"] == "rejected"


def test_platform_review_pass_and_dismiss(arbiter):
    from tests.factories import make_order, make_shop

    shop = make_shop(code="review", review_new_cases=True)
    order = make_order(shop, lines=[(1, 1000), (1, 2000)])
    buyer = buyer_api(order)
    from .support import staff_api

    arbiter = staff_api(shop, "arbiter")
    first = open_case(buyer, order)
    assert first["status"] == "submitted"
    passed = arbiter.act(first["id"], "pass_review")
    assert passed.status_code == 200, passed.content
    assert passed.json()["status"] == "awaiting_merchant"
    second = open_case(buyer, order, line=1)
    dismissed = arbiter.act(second["id"], "dismiss", {"reason": "重复申请"})
    assert dismissed.status_code == 200, dismissed.content
    assert dismissed.json()["status"] == "closed"


def test_cancel_assign_priority_and_notes(shop, order, buyer, agent):
    cid = open_case(buyer, order)["id"]
    assigned = agent.act(cid, "assign", {"staff_id": agent.staff.id})
    assert assigned.status_code == 200, assigned.content
    assert assigned.json()["assignee"]["id"] == agent.staff.id
    prio = agent.act(cid, "set_priority", {"priority": 2})
    assert prio.json()["priority"] == 2
    noted = agent.act(cid, "note", {"text": "买家是老客户", "internal": True})
    assert noted.status_code == 200, noted.content
    replied = agent.act(cid, "note", {"text": "您好，已收到", "internal": False})
    assert replied.status_code == 200
    # The buyer sees the public reply but neither the internal note nor who was assigned.
    seen = buyer.get(f"/cases/{cid}").json()
    messages = [e["message"] for e in seen["timeline"]]
    assert "您好，已收到" in messages and "买家是老客户" not in messages
    assert seen["assignee"] is None and seen["assignee_id"] is None
    staff_view = agent.get(f"/cases/{cid}").json()
    assert "买家是老客户" in [e["message"] for e in staff_view["timeline"]]
    cancelled = buyer.act(cid, "cancel", {"reason": "不退了"})
    assert cancelled.json()["status"] == "closed"


def test_delivered_return_parcel_fires_the_auto_refund_rule(shop, order, buyer, agent, integration):
    set_template_enabled(shop, "auto_refund_on_return_delivered", True)
    cid = open_case(buyer, order)["id"]
    agent.act(cid, "agree")
    buyer.act(cid, "ship_return", {"carrier": "顺丰", "tracking_no": "SF7770001"})
    event = integration.post(
        "/logistics/events", {"carrier": "顺丰", "tracking_no": "sf7770001", "event": "delivered"}
    )
    assert event.status_code == 200, event.content
    assert event.json() == {"case_ids": [cid]}
    detail = agent.get(f"/cases/{cid}").json()
    assert detail["status"] == "refunding"
    assert detail["shipments"][0]["delivered_at"] is not None
    actions = [e["action"] for e in detail["timeline"]]
    assert "parcel_delivered" in actions and "confirm_receipt" in actions
    # A duplicate carrier callback changes nothing.
    again = integration.post(
        "/logistics/events", {"carrier": "顺丰", "tracking_no": "SF7770001", "event": "delivered"}
    )
    assert again.status_code == 200
    assert agent.get(f"/cases/{cid}").json()["version"] == detail["version"]


def test_order_upsert_updates_and_reads(shop, integration):
    body = {
        "external_id": "JD-9",
        "customer": {"external_id": "jd_u", "phone": "13900002222"},
        "lines": [{"external_id": "A", "title": "耳机", "quantity": 1, "unit_price_fen": 19900}],
    }
    first = integration.post("/orders", body)
    assert first.status_code == 201, first.content
    body["status"] = "shipped"
    body["lines"][0]["paid_fen"] = 18900
    second = integration.post("/orders", body)
    assert second.status_code == 200, second.content
    assert second.json()["id"] == first.json()["id"]
    got = integration.get(f"/orders/{first.json()['id']}")
    assert got.status_code == 200
    assert got.json()["status"] == "shipped"
    assert got.json()["lines"][0]["paid_fen"] == 18900
    assert got.json()["customer"]["phone_masked"] == "139****2222"
