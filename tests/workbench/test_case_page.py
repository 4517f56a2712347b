"""The case page: what it shows (masked), the actions it offers, and bad input through
its forms — a clear message, nothing changed."""

from __future__ import annotations

import io

from PIL import Image

from shouhou.cases import services
from shouhou.cases.models import Case, Evidence, TimelineEvent
from shouhou.core.models import AuditLog
from tests.cases.support import snapshot
from tests.factories import make_customer, make_order, staff_actor

from .support import client_for, messages_of, open_case, refreshed


def _post(client, case, action, data=None, **kw):
    body = {"version": case.version, **(data or {})}
    return client.post(f"/wb/cases/{case.id}/act/{action}/", body, follow=True, **kw)


def test_the_page_shows_order_archive_masked_and_only_allowed_actions(shop, team):
    customer = make_customer(shop, phone="13812345678", nickname="小美", tags=["爱退货"])
    earlier = open_case(shop, "refund_only", customer=customer)
    case = open_case(shop, "return_refund", customer=customer)
    body = client_for(team.agent).get(f"/wb/cases/{case.id}/").content.decode()
    assert "138****5678" in body and "13812345678" not in body
    assert "张江路 99 弄" not in body  # the address is masked too
    assert earlier.number in body and "小美" in body and "爱退货" in body
    assert "data-countdown" not in body and 'class="countdown' in body
    for action in ("agree", "reject", "propose", "note", "reply", "assign", "set_priority"):
        assert f'data-testid="action-{action}"' in body, action
    assert 'data-testid="action-confirm_receipt"' not in body
    # The warehouse sees the same case without the merchant's decisions.
    wh = client_for(team.warehouse).get(f"/wb/cases/{case.id}/").content.decode()
    assert 'data-testid="action-agree"' not in wh and 'data-testid="action-reply"' not in wh


def test_agree_a_return_sends_the_default_address(shop, team):
    case = open_case(shop, "return_refund")
    response = _post(client_for(team.agent), case, "agree")
    assert refreshed(case).status == "awaiting_buyer_return"
    assert case.return_address_id is not None
    assert any("同意" in m for m in messages_of(response))


def test_agree_with_a_partial_amount_in_yuan(shop, team):
    case = open_case(shop, "refund_only")
    _post(client_for(team.agent), case, "agree", {"refund": "12.5"})
    assert refreshed(case).status == "refunding" and case.refund_fen == 1250


def test_bad_amount_and_stale_version_change_nothing(shop, team):
    case = open_case(shop, "refund_only")
    seen = case.version  # the agent opened the page at this version…
    services.add_note(case.id, staff_actor(shop, "agent"), text="另一位客服先看过了")
    case = refreshed(case)
    client = client_for(team.agent)
    before = snapshot(shop)
    r1 = _post(client, case, "agree", {"refund": "12,5元abc"})
    r2 = _post(client, case, "agree", {"refund": "99999"})
    # …and agrees after someone else changed the case.
    stale = client.post(f"/wb/cases/{case.id}/act/agree/", {"version": seen}, follow=True)
    assert snapshot(shop) == before
    assert any("金额" in m for m in messages_of(r1))
    assert any("超过" in m or "可退" in m or "退款" in m for m in messages_of(r2))
    assert [m.extra_tags for m in stale.context["messages"]] == ["case_conflict"]
    assert "刷新后重试" in stale.content.decode()


def test_reject_needs_a_reason(shop, team):
    case = open_case(shop)
    client = client_for(team.agent)
    before = snapshot(shop)
    response = _post(client, case, "reject", {"reason": "   "})
    assert snapshot(shop) == before
    assert any("拒绝理由" in m for m in messages_of(response))
    _post(client, case, "reject", {"reason": "商品已使用，不支持退款"})
    assert refreshed(case).status == "rejected" and case.rejection_reason.startswith("商品已使用")


def test_propose_a_partial_refund(shop, team):
    case = open_case(shop)
    _post(client_for(team.agent), case, "propose", {"kind": "partial_refund", "refund": "20"})
    assert refreshed(case).status == "proposal_pending" and case.proposal_refund_fen == 2000


def test_internal_note_assign_and_priority(shop, team):
    case = open_case(shop)
    client = client_for(team.agent)
    _post(client, case, "note", {"text": "买家来电催促"})
    _post(client, refreshed(case), "assign", {"staff": "me"})
    _post(client, refreshed(case), "set_priority", {"priority": "2"})
    case = refreshed(case)
    assert case.assignee_id == team.agent.id and case.priority == 2
    note = TimelineEvent.objects.get(case=case, action="note")
    assert note.visibility == "internal" and note.staff_id == team.agent.id
    body = client.get(f"/wb/cases/{case.id}/").content.decode()
    assert '<li class="internal" data-testid="event-note">' in body
    # Junk priority and another shop's staff are refused.
    before = snapshot(shop)
    r1 = _post(client, case, "set_priority", {"priority": "9"})
    r2 = _post(client, case, "assign", {"staff": "999999"})
    assert snapshot(shop) == before
    assert messages_of(r1) and messages_of(r2)


def _returned(shop, case_type="return_refund"):
    case = open_case(shop, case_type)
    agent = staff_actor(shop, "agent")
    services.agree(case.id, agent)
    order_buyer = __import__("tests.factories", fromlist=["buyer"]).buyer(case.order)
    services.ship_return(case.id, order_buyer, carrier="顺丰", tracking_no="SF1234567890")
    return refreshed(case)


def _png() -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, "PNG")
    buf.seek(0)
    buf.name = "broken.png"
    return buf


def test_warehouse_fails_inspection_with_a_photo_or_not_at_all(shop, team):
    case = _returned(shop)
    client = client_for(team.warehouse)
    before = snapshot(shop)
    r1 = _post(client, case, "fail_inspection", {"reason": ""})
    junk = io.BytesIO(b"not an image at all")
    junk.name = "x.png"
    r2 = _post(client, case, "fail_inspection", {"reason": "外包装破损", "photo": junk})
    assert snapshot(shop) == before and Evidence.objects.filter(case=case).count() == 0
    assert messages_of(r1) and messages_of(r2)
    r3 = _post(client, case, "fail_inspection", {"reason": "商品已损坏", "photo": _png()})
    assert refreshed(case).status == "rejected", messages_of(r3)
    ev = Evidence.objects.get(case=case)
    assert ev.uploaded_by == "warehouse"
    # The photo shows inline on the case page, served through the staff-checked route.
    image = client.get(f"/wb/cases/{case.id}/evidence/{ev.id}/")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert "attachment" not in image.get("Content-Disposition", "")


def test_ship_replacement_refuses_junk_tracking(shop, team):
    case = open_case(shop, "reship")
    services.agree(case.id, staff_actor(shop, "agent"))
    case = refreshed(case)
    client = client_for(team.warehouse)
    before = snapshot(shop)
    response = _post(
        client, case, "ship_replacement", {"carrier": "顺丰", "tracking_no": "SF 12;<x>"}
    )
    assert snapshot(shop) == before
    assert [m.extra_tags for m in response.context["messages"]] == ["invalid_tracking"]
    _post(client, case, "ship_replacement", {"carrier": "顺丰", "tracking_no": "SF998877665"})
    assert refreshed(case).status == "awaiting_buyer_receipt"


def test_unknown_action_is_404(shop, team):
    case = open_case(shop)
    assert client_for(team.agent).post(f"/wb/cases/{case.id}/act/explode/").status_code == 404
    assert client_for(team.agent).get(f"/wb/cases/{case.id}/act/agree/").status_code == 405


def test_customer_notes_and_tags_are_saved_with_an_audit_entry(shop, other_shop, team):
    case = open_case(shop)
    client = client_for(team.agent)
    url = f"/wb/customers/{case.customer_id}/archive/"
    client.post(url, {"notes": "喜欢电话沟通", "tags": "VIP，易碎品, VIP"})
    case.customer.refresh_from_db()
    assert case.customer.notes == "喜欢电话沟通" and case.customer.tags == ["VIP", "易碎品"]
    entry = AuditLog.objects.get(shop=shop, action="customer.archive_updated")
    assert entry.data["before"]["notes"] == "" and entry.actor
    # Too many tags: a message, nothing saved.
    response = client.post(
        url, {"notes": "x", "tags": ",".join(str(i) for i in range(30))}, follow=True
    )
    case.customer.refresh_from_db()
    assert case.customer.notes == "喜欢电话沟通" and messages_of(response)
    theirs = make_customer(other_shop)
    assert client.post(f"/wb/customers/{theirs.id}/archive/", {"notes": "x"}).status_code == 404
    assert client_for(team.warehouse).post(url, {"notes": "y"}).status_code == 403


def test_earlier_orders_of_the_customer_are_listed(shop, team):
    customer = make_customer(shop)
    old = make_order(shop, customer)
    case = open_case(shop, customer=customer)
    body = client_for(team.agent).get(f"/wb/cases/{case.id}/").content.decode()
    assert old.external_id in body and case.order.external_id in body
    assert Case.objects.filter(customer=customer).count() == 1
