"""Every desk page checks the role and the shop: the wrong role gets the 403 page, another
shop's record the 404 page, never its data."""

from __future__ import annotations

import pytest
from django.test import Client

from shouhou.cases.models import Case
from tests.factories import make_staff

from .support import client_for, open_case

ROLES = ("agent", "admin", "warehouse", "finance", "arbiter")
# page → the roles that may open it
PAGES = {
    "/wb/": {"agent", "admin"},
    "/wb/cases/{own}/": {"agent", "admin", "warehouse"},
    "/wb/warehouse/": {"agent", "admin", "warehouse"},
    "/wb/finance/": {"admin", "finance"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_role_opens_only_its_pages(shop, team, role, page):
    case = open_case(shop)
    response = client_for(team.of(role)).get(page.format(own=case.id))
    if role in PAGES[page]:
        assert response.status_code == 200
        if page in {"/wb/", "/wb/cases/{own}/"}:
            assert case.number in response.content.decode()
    else:
        assert response.status_code == 403
        assert 'data-testid="forbidden"' in response.content.decode()


@pytest.mark.parametrize("role", ["agent", "admin", "warehouse"])
def test_another_shops_case_is_the_404_page(shop, other_shop, team, role):
    theirs = open_case(other_shop)
    client = client_for(team.of(role))
    for url in (
        f"/wb/cases/{theirs.id}/",
        f"/wb/cases/{theirs.id}/evidence/1/",
        "/wb/cases/999999999999999999/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        body = response.content.decode()
        assert 'data-testid="not-found"' in body and theirs.number not in body


@pytest.mark.parametrize("role", ["agent", "admin", "warehouse", "finance"])
def test_acting_on_another_shops_case_is_404_and_changes_nothing(shop, other_shop, team, role):
    theirs = open_case(other_shop)
    before = theirs.version
    response = client_for(team.of(role)).post(
        f"/wb/cases/{theirs.id}/act/agree/", {"version": before}
    )
    assert response.status_code in {403, 404}
    assert Case.objects.get(pk=theirs.id).version == before
    assert Case.objects.get(pk=theirs.id).status == "awaiting_merchant"


def test_other_shops_lists_never_show_here(shop, other_shop, team):
    theirs = open_case(other_shop)
    mine = open_case(shop)
    body = client_for(team.agent).get("/wb/").content.decode()
    assert mine.number in body and theirs.number not in body


def test_warehouse_may_not_agree_and_finance_may_not_reply(shop, team):
    case = open_case(shop)
    r1 = client_for(team.warehouse).post(f"/wb/cases/{case.id}/act/agree/", {})
    r2 = client_for(team.finance).post(f"/wb/cases/{case.id}/act/reply/", {"text": "hi"})
    r3 = client_for(team.warehouse).post("/wb/bulk/agree/", {"case": [case.id]})
    r4 = client_for(team.arbiter).post("/wb/bulk/agree/", {"case": [case.id]})
    assert [r.status_code for r in (r1, r2, r3, r4)] == [403, 403, 403, 403]
    assert Case.objects.get(pk=case.id).status == "awaiting_merchant"


def test_anonymous_visitors_are_sent_to_log_in(shop):
    case = open_case(shop)
    for url in ("/wb/", f"/wb/cases/{case.id}/", "/wb/warehouse/", "/wb/finance/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_member_of_two_shops_sees_the_chosen_shop_only(shop, other_shop):
    member = make_staff(shop, "agent", username="both")
    make_staff_in = make_staff(other_shop, "agent", username="both-2")
    member2 = make_staff_in
    member2.user = member.user
    member2.save()
    theirs = open_case(other_shop)
    client = client_for(member)
    # The first shop by name is the default (测试旗舰店 vs 别家小店 sorts 别 first).
    client.post("/switch-shop/", {"shop": shop.code})
    assert client.get(f"/wb/cases/{theirs.id}/").status_code == 404
    client.post("/switch-shop/", {"shop": other_shop.code})
    assert client.get(f"/wb/cases/{theirs.id}/").status_code == 200
