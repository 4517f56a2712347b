"""Bulk agree: every selected eligible refund agreed, each in its own transaction, and a
summary of what was done and what was refused, with the reason."""

from __future__ import annotations

from shouhou.cases import bulk, services
from shouhou.cases.models import Case
from shouhou.cases.policies import update_policy
from tests.factories import staff_actor

from .support import client_for, open_case, refreshed


def test_three_refunds_agreed_one_exchange_and_a_foreign_id_refused(shop, other_shop, team):
    refunds = [open_case(shop, t) for t in ("refund_only", "return_refund", "price_protect")]
    exchange = open_case(shop, "exchange")
    theirs = open_case(other_shop)
    ids = [c.id for c in refunds] + [exchange.id, theirs.id]
    client = client_for(team.agent)
    response = client.post("/wb/bulk/agree/", {"case": ids}, follow=True)
    assert [refreshed(c).status for c in refunds] == [
        "refunding",
        "awaiting_buyer_return",
        "refunding",
    ]
    assert refreshed(exchange).status == "awaiting_merchant"
    assert Case.objects.get(pk=theirs.id).status == "awaiting_merchant"
    body = response.content.decode()
    assert 'data-testid="bulk-summary"' in body
    assert "已同意 3" in body and "未同意 2" in body
    assert exchange.number in body and "「换货」类型的售后单不能执行" in body
    assert f"售后单 #{theirs.id}不存在" in body and theirs.number not in body
    # The summary is shown once, not on every later visit.
    assert 'data-testid="bulk-summary"' not in client.get("/wb/").content.decode()


def test_a_case_someone_else_already_handled_is_refused_without_undoing_the_rest(shop):
    first, second = open_case(shop), open_case(shop)
    agent = staff_actor(shop, "agent")
    services.reject(second.id, agent, reason="已与买家协商")
    summary = bulk.bulk_agree(shop, agent, [first.id, second.id, first.id])
    assert [o.number for o in summary.done] == [first.number]
    assert [(o.number, o.code) for o in summary.refused] == [(second.number, "action_not_allowed")]
    assert "商家已拒绝" in summary.refused[0].message()
    assert refreshed(first).status == "refunding"


def test_refunds_above_the_limit_go_to_finance(shop):
    update_policy(shop, finance_approval_limit_fen=3000)
    small = open_case(shop, "refund_only", refund_fen=2000)
    big = open_case(shop, "refund_only")  # ¥50
    summary = bulk.bulk_agree(shop, staff_actor(shop, "agent"), [small.id, big.id])
    assert [o.number for o in summary.done] == [small.number]
    assert [o.number for o in summary.finance] == [big.number]
    assert refreshed(big).awaiting_finance and big.status == "awaiting_merchant"


def test_nothing_selected_says_so(shop, team):
    response = client_for(team.agent).post("/wb/bulk/agree/", {"case": ["x", ""]}, follow=True)
    assert "请先勾选售后单" in response.content.decode()
