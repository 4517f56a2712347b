"""The warehouse page (returned parcels, replacements) and the finance page (approvals
above the shop's limit, refunds to confirm)."""

from __future__ import annotations

from shouhou.cases import services
from shouhou.cases.models import TimelineEvent
from shouhou.cases.policies import update_policy
from tests.cases.support import snapshot
from tests.factories import buyer, staff_actor

from .support import client_for, messages_of, open_case, refreshed


def _returned(shop, case_type="return_refund"):
    case = open_case(shop, case_type)
    services.agree(case.id, staff_actor(shop, "agent"))
    services.ship_return(case.id, buyer(case.order), carrier="顺丰", tracking_no="SF1234567890")
    return refreshed(case)


def test_warehouse_lists_returned_parcels_and_confirms_receipt(shop, team):
    ret = _returned(shop)
    client = client_for(team.warehouse)
    body = client.get("/wb/warehouse/").content.decode()
    assert ret.number in body and "SF1234567890" in body and "顺丰" in body
    response = client.post(
        f"/wb/cases/{ret.id}/act/confirm_receipt/",
        {"version": ret.version, "next": "/wb/warehouse/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/wb/warehouse/"
    assert refreshed(ret).status == "refunding"
    assert (
        ret.number
        not in response.content.decode().split('data-testid="receipts"')[1].split("</section>")[0]
    )


def test_warehouse_ships_an_exchange_after_receipt(shop, team):
    exchange = _returned(shop, "exchange")
    client = client_for(team.warehouse)
    client.post(f"/wb/cases/{exchange.id}/act/confirm_receipt/", {"version": exchange.version})
    exchange = refreshed(exchange)
    assert exchange.status == "awaiting_merchant_shipment"
    assert exchange.number in client.get("/wb/warehouse/").content.decode()
    before = snapshot(shop)
    bad = client.post(
        f"/wb/cases/{exchange.id}/act/ship_replacement/",
        {"version": exchange.version, "carrier": "", "tracking_no": "YT123456789"},
        follow=True,
    )
    assert snapshot(shop) == before and any("快递公司" in m for m in messages_of(bad))
    client.post(
        f"/wb/cases/{exchange.id}/act/ship_replacement/",
        {"version": exchange.version, "carrier": "圆通", "tracking_no": "YT123456789"},
    )
    assert refreshed(exchange).status == "awaiting_buyer_receipt"


def test_finance_approves_a_refund_above_the_limit(shop, team):
    update_policy(shop, finance_approval_limit_fen=3000)
    case = open_case(shop, "refund_only")  # ¥50 > ¥30
    agent = client_for(team.agent)
    response = agent.post(f"/wb/cases/{case.id}/act/agree/", {"version": case.version}, follow=True)
    assert any("财务审批" in m for m in messages_of(response))
    case = refreshed(case)
    assert case.awaiting_finance and case.status == "awaiting_merchant"
    finance = client_for(team.finance)
    body = finance.get("/wb/finance/").content.decode()
    assert case.number in body and "¥50.00" in body
    finance.post(
        f"/wb/cases/{case.id}/act/agree/", {"version": case.version, "next": "/wb/finance/"}
    )
    case = refreshed(case)
    assert case.status == "refunding" and not case.awaiting_finance
    # Manual gateway: finance confirms the money arrived.
    body = finance.get("/wb/finance/").content.decode()
    assert f'data-testid="refunding-{case.number}"' in body
    finance.post(f"/wb/cases/{case.id}/act/confirm_refund/", {"version": case.version})
    assert refreshed(case).status == "completed"


def test_finance_declines_with_a_reason_and_the_case_goes_back_to_the_agents(shop, team):
    update_policy(shop, finance_approval_limit_fen=3000)
    case = open_case(shop, "refund_only")
    services.agree(case.id, staff_actor(shop, "agent"))
    case = refreshed(case)
    finance = client_for(team.finance)
    before = snapshot(shop)
    r = finance.post(
        f"/wb/cases/{case.id}/act/decline_finance/", {"version": case.version}, follow=True
    )
    assert snapshot(shop) == before and any("驳回理由" in m for m in messages_of(r))
    finance.post(
        f"/wb/cases/{case.id}/act/decline_finance/",
        {"version": case.version, "reason": "金额异常，请核实"},
    )
    case = refreshed(case)
    assert not case.awaiting_finance and case.status == "awaiting_merchant"
    note = TimelineEvent.objects.filter(case=case, action="note").last()
    assert note.visibility == "internal" and "金额异常" in note.message
    # An agent may not use finance's decline.
    r = client_for(team.agent).post(
        f"/wb/cases/{case.id}/act/decline_finance/",
        {"version": case.version, "reason": "x"},
        follow=True,
    )
    assert messages_of(r) and refreshed(case).status == "awaiting_merchant"
