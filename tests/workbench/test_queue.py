"""The queue: deadline order, filters as links, paging, saved views."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from shouhou.cases import services
from shouhou.core import clock
from shouhou.workbench.models import SavedView
from tests.factories import staff_actor

from .support import client_for, open_case


def _rows(body: str, numbers: list[str]) -> list[str]:
    """The given case numbers in the order the page shows them."""
    return sorted((n for n in numbers if n in body), key=body.index)


def test_soonest_deadline_first_and_filters(shop, team):
    refund = open_case(shop, "refund_only")  # unshipped? no: delivered → 72 h
    ret = open_case(shop, "return_refund")
    exchange = open_case(shop, "exchange")
    services.assign(exchange.id, staff_actor(shop, "agent", team.agent), staff_id=team.agent.id)
    services.set_priority(ret.id, staff_actor(shop, "agent"), priority=2)
    client = client_for(team.agent)
    numbers = [refund.number, ret.number, exchange.number]
    body = client.get("/wb/").content.decode()
    assert _rows(body, numbers) == numbers  # same 72 h deadline: opening order
    assert 'data-testid="status-counters"' in body
    assert _rows(client.get("/wb/?type=exchange").content.decode(), numbers) == [exchange.number]
    assert _rows(client.get("/wb/?assignee=me").content.decode(), numbers) == [exchange.number]
    assert _rows(client.get("/wb/?assignee=none&priority=2").content.decode(), numbers) == [
        ret.number
    ]
    assert _rows(client.get("/wb/?due=1").content.decode(), numbers) == []
    assert _rows(client.get("/wb/?due=100").content.decode(), numbers) == numbers
    assert _rows(client.get("/wb/?scope=closed").content.decode(), numbers) == []


def test_junk_filters_are_ignored_with_a_note_and_a_bad_cursor_says_so(shop, team):
    case = open_case(shop)
    client = client_for(team.agent)
    body = client.get("/wb/?status=nope&due=-3&assignee=<x>").content.decode()
    assert 'data-testid="filter-problems"' in body and case.number in body
    body = client.get("/wb/?cursor=%%%garbage").content.decode()
    assert "无效的游标" in body and case.number in body


def test_next_page_by_cursor(shop, team, monkeypatch):
    from shouhou.workbench.desk import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    cases = [open_case(shop) for _ in range(3)]
    client = client_for(team.agent)
    first = client.get("/wb/?type=refund_only").content.decode()
    assert cases[0].number in first and cases[2].number not in first
    link = re.search(r'href="(/wb/\?[^"]*)" data-testid="next-page"', first)
    assert link and "type=refund_only" in link.group(1)  # the filters ride along
    second = client.get(html.unescape(link.group(1))).content.decode()
    assert cases[2].number in second and cases[0].number not in second
    assert 'data-testid="next-page"' not in second


def test_saved_views_own_and_shared(shop, other_shop, team):
    mine = client_for(team.agent)
    mine.post("/wb/views/save/", {"name": "退货", "query": "type=return_refund&junk=1"})
    mine.post("/wb/views/save/", {"name": "团队紧急", "query": "priority=2", "shared": "1"})
    view = SavedView.objects.get(name="退货")
    assert view.query == "type=return_refund" and view.owner == team.agent
    body = mine.get("/wb/").content.decode()
    assert 'data-testid="view-退货"' in body and 'data-testid="view-团队紧急"' in body
    theirs = client_for(team.agent2)
    body = theirs.get("/wb/").content.decode()
    assert 'data-testid="view-退货"' not in body and 'data-testid="view-团队紧急"' in body
    # Only the owner deletes; another member gets "not found" and the view stays.
    shared = SavedView.objects.get(name="团队紧急")
    response = theirs.post(f"/wb/views/{shared.id}/delete/", follow=True)
    assert (
        "视图不存在" in response.content.decode()
        and SavedView.objects.filter(pk=shared.id).exists()
    )
    mine.post(f"/wb/views/{shared.id}/delete/")
    assert not SavedView.objects.filter(pk=shared.id).exists()
    # A name is required.
    response = mine.post("/wb/views/save/", {"name": " ", "query": "type=exchange"}, follow=True)
    assert "视图名称" in response.content.decode()
    assert SavedView.objects.filter(shop=shop).count() == 1


def test_overdue_rows_carry_the_overdue_countdown(shop, team):
    case = open_case(shop)
    with clock.frozen(clock.now() + timedelta(hours=73)):
        body = client_for(team.agent).get("/wb/").content.decode()
    assert case.number in body and "countdown overdue" in body and "已超时" in body
