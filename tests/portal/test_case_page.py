"""The case page: what the buyer sees, every action, and that nothing outside the order shows."""

from __future__ import annotations

import pytest

from shouhou.cases import services
from shouhou.cases.evidence import add_evidence
from shouhou.cases.models import Case, CaseRating, TimelineEvent
from tests.factories import buyer, make_customer, make_order, staff_actor
from tests.portal.support import agent, enter, fake_jpeg, jpeg, messages_of, open_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


CURRENT = object()  # "the version the page shows now"


def act(client, case, action, **data):
    if data.get("version") is CURRENT:
        case.refresh_from_db()
        data["version"] = case.version
    response = client.post(f"/portal/case/{case.id}/do/{action}/", data)
    page = client.get(f"/portal/case/{case.id}/")
    case.refresh_from_db()
    return response, page


def test_case_page_hides_internal_notes_and_staff_names(client, shop):
    order = make_order(shop)
    case = open_for(order)
    services.add_note(case.id, staff_actor(shop, "agent"), text="内部：此人常退货", internal=True)
    services.add_note(case.id, staff_actor(shop, "agent"), text="您好，已收到", internal=False)
    enter(client, order)
    html = client.get(f"/portal/case/{case.id}/").content.decode()
    assert "内部：此人常退货" not in html and "您好，已收到" in html
    assert "客服" in html  # the role, not the staff member's name
    assert "商家将在" in html and "超时将自动同意" in html
    assert 'data-testid="return-address"' not in html  # nothing to ship yet
    assert 'data-testid="cancel-open"' in html and 'data-testid="ship-return"' not in html


def test_ship_return_junk_then_good(client, shop):
    order = make_order(shop)
    case = open_for(order)
    services.agree(case.id, agent(order))
    enter(client, order)
    html = client.get(f"/portal/case/{case.id}/").content.decode()
    assert "浙江省杭州市余杭区" in html  # the return address, in full, while shipping back
    response, page = act(
        client,
        case,
        "ship_return",
        carrier="顺丰速运",
        tracking_no="SF 12;--",
        version=case.version,
    )
    assert response.status_code == 302
    assert [c for c, _ in messages_of(page)] == ["invalid_tracking"]
    assert case.status == "awaiting_buyer_return"
    _, page = act(
        client,
        case,
        "ship_return",
        carrier="顺丰速运",
        tracking_no="SF1234567890",
        version=CURRENT,
    )
    assert case.status == "awaiting_merchant_receipt"
    assert "待商家收货" in page.content.decode()


def test_stale_page_gets_a_conflict_not_a_silent_change(client, shop):
    order = make_order(shop)
    case = open_for(order)
    enter(client, order)
    case.refresh_from_db()
    _, page = act(client, case, "cancel", version=case.version + 5)
    assert [c for c, _ in messages_of(page)] == ["case_conflict"]
    assert case.status == "awaiting_merchant"


def test_accept_a_proposal(client, shop):
    order = make_order(shop)
    case = open_for(order, type="refund_only")
    services.propose(case.id, agent(order), kind="partial_refund", refund_fen=1500, note="补偿15元")
    enter(client, order)
    html = client.get(f"/portal/case/{case.id}/").content.decode()
    assert "补偿15元" in html and "¥15.00" in html
    _, page = act(client, case, "accept_proposal", version=CURRENT)
    assert case.status == "refunding" and case.refund_fen == 1500
    assert "已接受商家的方案" in page.content.decode()


def test_decline_a_proposal(client, shop):
    order = make_order(shop)
    case = open_for(order, type="refund_only")
    services.propose(case.id, agent(order), kind="coupon", note="送券")
    enter(client, order)
    act(client, case, "decline_proposal", reason="不要券", version=CURRENT)
    assert case.status == "awaiting_merchant"


def test_modify_after_rejection(client, shop):
    order = make_order(shop)
    case = open_for(order, type="refund_only")
    services.reject(case.id, agent(order), reason="请补充照片")
    enter(client, order)
    assert "请补充照片" in client.get(f"/portal/case/{case.id}/").content.decode()
    _, page = act(
        client,
        case,
        "modify",
        reason="damaged",
        description="外盒压坏",
        amount="20",
        version=CURRENT,
    )
    assert case.status == "awaiting_merchant"
    assert (case.reason, case.description, case.requested_refund_fen) == (
        "damaged",
        "外盒压坏",
        2000,
    )


def test_modify_with_a_bad_amount_changes_nothing(client, shop):
    order = make_order(shop)
    case = open_for(order, type="refund_only")
    services.reject(case.id, agent(order), reason="不符合")
    enter(client, order)
    _, page = act(client, case, "modify", amount="100000", version=CURRENT)
    assert [c for c, _ in messages_of(page)] == ["refund_exceeds_paid"]
    assert case.status == "rejected"


def test_escalate_after_rejection(client, shop):
    order = make_order(shop)
    case = open_for(order, type="refund_only")
    services.reject(case.id, agent(order), reason="不符合")
    enter(client, order)
    act(client, case, "escalate", statement="商品明显有质量问题", version=CURRENT)
    assert case.status == "in_arbitration"
    assert TimelineEvent.objects.filter(case=case, message="商品明显有质量问题").exists()


def test_cancel(client, shop):
    order = make_order(shop)
    case = open_for(order)
    enter(client, order)
    _, page = act(client, case, "cancel", reason="不想退了", version=CURRENT)
    assert case.status == "closed"
    assert "申请已撤销" in page.content.decode()


def test_rate_after_completion_and_bad_scores(client, shop):
    order = make_order(shop)
    case = open_for(order, type="refund_only")
    services.agree(case.id, agent(order))
    services.confirm_refund(case.id, staff_actor(shop, "admin"))
    enter(client, order)
    _, page = act(client, case, "rate", speed="9", satisfaction="5")
    assert [c for c, _ in messages_of(page)] == ["validation_error"]
    assert not CaseRating.objects.filter(case=case).exists()
    _, page = act(client, case, "rate", speed="4", satisfaction="5", comment="很快")
    rating = CaseRating.objects.get(case=case)
    assert (rating.speed, rating.satisfaction, rating.comment) == (4, 5, "很快")
    assert 'data-testid="rate"' not in page.content.decode()  # only once
    _, page = act(client, case, "rate", speed="1", satisfaction="1")
    assert [c for c, _ in messages_of(page)] == ["action_not_allowed"] or [
        c for c, _ in messages_of(page)
    ] == ["already_rated"]


def test_statement_and_more_evidence(client, shop, media):
    order = make_order(shop)
    case = open_for(order)
    enter(client, order)
    act(client, case, "statement", text="补充：快递外箱有水渍")
    assert TimelineEvent.objects.filter(case=case, action="statement").exists()
    _, page = act(client, case, "statement", text="  ")
    assert [c for c, _ in messages_of(page)] == ["validation_error"]
    _, page = act(client, case, "evidence", photos=[jpeg()], note="外箱")
    assert "凭证已上传" in page.content.decode()
    assert case.evidence.count() == 1
    response = client.post(
        f"/portal/case/{case.id}/do/evidence/",
        {"photos": [jpeg(), fake_jpeg()]},
    )
    page = client.get(f"/portal/case/{case.id}/")
    assert response.status_code == 302
    assert [c for c, _ in messages_of(page)] == ["evidence_invalid"]
    assert case.evidence.count() == 1  # all or nothing
    ev = case.evidence.get()
    served = client.get(f"/portal/case/{case.id}/evidence/{ev.id}/")
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"


def test_unknown_action_is_404(client, shop):
    order = make_order(shop)
    case = open_for(order)
    enter(client, order)
    assert client.post(f"/portal/case/{case.id}/do/agree/").status_code == 404
    assert client.get(f"/portal/case/{case.id}/do/cancel/").status_code == 405


# --- tenancy ------------------------------------------------------------------------------
def test_another_customers_case_is_404(client, shop, media):
    mine = make_order(shop)
    theirs = make_order(shop, make_customer(shop))
    case = open_for(theirs)
    ev = add_evidence(case.id, buyer(theirs), jpeg())
    enter(client, mine)
    assert client.get(f"/portal/case/{case.id}/").status_code == 404
    assert client.get(f"/portal/case/{case.id}/evidence/{ev.id}/").status_code == 404
    response = client.post(f"/portal/case/{case.id}/do/cancel/", {})
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.status == "awaiting_merchant"


def test_the_same_customers_other_order_is_out_of_reach_too(client, shop):
    mine = make_order(shop)
    other = make_order(shop, mine.customer)
    case = open_for(other)
    enter(client, mine)
    assert client.get(f"/portal/case/{case.id}/").status_code == 404
    assert client.post(f"/portal/case/{case.id}/do/cancel/").status_code == 404
    assert Case.objects.get(pk=case.pk).status == "awaiting_merchant"
    assert case.number not in client.get("/portal/order/").content.decode()


def test_another_shops_case_is_404(client, shop, other_shop, media):
    mine = make_order(shop)
    theirs = make_order(other_shop)
    case = open_for(theirs)
    ev = add_evidence(case.id, buyer(theirs), jpeg())
    enter(client, mine)
    assert client.get(f"/portal/case/{case.id}/").status_code == 404
    assert client.get(f"/portal/case/{case.id}/evidence/{ev.id}/").status_code == 404
    assert client.post(f"/portal/case/{case.id}/do/statement/", {"text": "hi"}).status_code == 404


def test_evidence_of_another_case_through_my_case_is_404(client, shop, media):
    mine = make_order(shop)
    my_case = open_for(mine)
    theirs = make_order(shop)
    their_case = open_for(theirs)
    ev = add_evidence(their_case.id, buyer(theirs), jpeg())
    enter(client, mine)
    assert client.get(f"/portal/case/{my_case.id}/evidence/{ev.id}/").status_code == 404


def test_huge_ids_are_404(client, shop):
    enter(client, make_order(shop))
    assert client.get(f"/portal/case/{2**70}/").status_code == 404
    assert client.post(f"/portal/case/{2**64}/do/cancel/").status_code == 404
