"""Arbitration pages (/wb/arbitration/…) through Django's test client."""

from __future__ import annotations

import pytest

from shouhou.cases.models import Case, TimelineEvent
from tests.factories import make_staff
from tests.workbench_admin.disputes import make_dispute

pytestmark = pytest.mark.django_db


def _as(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def dispute(shop):
    return make_dispute(shop)


@pytest.fixture
def arbiter(shop):
    return make_staff(shop, "arbiter", username="xiaoer")


@pytest.mark.parametrize("role", ["agent", "warehouse", "finance"])
def test_shop_roles_other_than_admin_may_not_open_arbitration(client, shop, dispute, role):
    c = _as(client, make_staff(shop, role))
    assert c.get("/wb/arbitration/").status_code == 403
    assert c.get(f"/wb/arbitration/{dispute.id}/").status_code == 403
    assert (
        c.post(f"/wb/arbitration/{dispute.id}/rule/", {"side": "shop", "reason": "x"}).status_code
        == 403
    )


def test_the_admin_looks_read_only_and_may_not_rule(client, shop, dispute):
    c = _as(client, make_staff(shop, "admin"))
    page = c.get(f"/wb/arbitration/{dispute.id}/").content.decode()
    assert 'data-testid="read-only"' in page and 'data-testid="ruling-form"' not in page
    assert c.get("/wb/arbitration/").status_code == 200
    for path, data in [
        ("rule/", {"side": "shop", "reason": "商家有理"}),
        ("statement/", {"text": "我是店长"}),
        ("review/", {"decision": "pass"}),
    ]:
        assert c.post(f"/wb/arbitration/{dispute.id}/{path}", data).status_code == 403
    dispute.refresh_from_db()
    assert dispute.status == "in_arbitration"


def test_another_shops_dispute_is_404(client, shop, other_shop, dispute, arbiter):
    theirs = make_dispute(other_shop)
    c = _as(client, arbiter)
    assert c.get(f"/wb/arbitration/{theirs.id}/").status_code == 404
    ev = theirs.evidence.first()
    assert c.get(f"/wb/arbitration/{theirs.id}/evidence/{ev.id}/").status_code == 404
    # Their evidence through our case id is not found either.
    assert c.get(f"/wb/arbitration/{dispute.id}/evidence/{ev.id}/").status_code == 404
    c.post(f"/wb/arbitration/{theirs.id}/rule/", {"side": "buyer", "reason": "越权"})
    theirs.refresh_from_db()
    assert theirs.status == "in_arbitration"
    assert theirs.number not in c.get("/wb/arbitration/").content.decode()


def test_the_list_shows_disputes_by_deadline(client, shop, dispute, arbiter):
    page = _as(client, arbiter).get("/wb/arbitration/").content.decode()
    assert dispute.number in page and "¥129.90" in page and "countdown" in page


def test_both_sides_are_shown_apart_without_internal_notes(client, shop, dispute, arbiter):
    page = _as(client, arbiter).get(f"/wb/arbitration/{dispute.id}/").content.decode()
    buyer_side = page[
        page.index('data-testid="buyer-side"') : page.index('data-testid="shop-side"')
    ]
    shop_side = page[page.index('data-testid="shop-side"') : page.index('data-testid="order"')]
    assert (
        "快递外箱也有破损" in buyer_side and "crack.png" in buyer_side and "box.png" in buyer_side
    )
    assert "疑似买家使用中摔裂" in shop_side and "outbound.png" in shop_side
    assert "crack.png" not in shop_side and "outbound.png" not in buyer_side
    assert "仅内部" not in page
    assert 'data-testid="ruling-form"' in page
    ev = dispute.evidence.filter(uploaded_by="buyer").first()
    image = client.get(f"/wb/arbitration/{dispute.id}/evidence/{ev.id}/")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


def test_ruling_for_the_buyer_needs_a_reason_then_moves_the_case(client, shop, dispute, arbiter):
    c = _as(client, arbiter)
    page = c.post(
        f"/wb/arbitration/{dispute.id}/rule/", {"side": "buyer", "reason": "  "}, follow=True
    ).content.decode()
    assert 'role="alert"' in page and "请填写裁定理由" in page
    dispute.refresh_from_db()
    assert dispute.status == "in_arbitration"
    page = c.post(
        f"/wb/arbitration/{dispute.id}/rule/",
        {"side": "buyer", "reason": "外箱破损照片可信，支持退款。", "version": dispute.version},
        follow=True,
    ).content.decode()
    dispute.refresh_from_db()
    assert dispute.status == "refunding" and dispute.ruling == "for_buyer"
    assert "已裁定支持买家" in page and "外箱破损照片可信" in page
    assert TimelineEvent.objects.filter(case=dispute, action="rule_for_buyer").exists()


def test_a_stale_ruling_is_refused(client, shop, dispute, arbiter):
    c = _as(client, arbiter)
    page = c.post(
        f"/wb/arbitration/{dispute.id}/rule/",
        {"side": "shop", "reason": "x", "version": dispute.version - 1},
        follow=True,
    ).content.decode()
    assert "刷新" in page
    assert Case.objects.get(pk=dispute.pk).status == "in_arbitration"


def test_ruling_for_the_shop_closes_and_a_statement_is_public(client, shop, dispute, arbiter):
    c = _as(client, arbiter)
    c.post(f"/wb/arbitration/{dispute.id}/statement/", {"text": "请双方补充快递签收记录。"})
    event = TimelineEvent.objects.get(case=dispute, action="statement", actor_role="arbiter")
    assert event.visibility == "public"
    c.post(f"/wb/arbitration/{dispute.id}/rule/", {"side": "shop", "reason": "证据不足。"})
    dispute.refresh_from_db()
    assert dispute.status == "closed" and dispute.ruling == "for_shop"


def test_platform_review_pass_and_dismiss(client, arbiter):
    from shouhou.cases import services
    from shouhou.cases.services import LineRequest
    from tests.factories import buyer, make_order, make_shop

    review_shop = make_shop(code="rv", review_new_cases=True)
    member = make_staff(review_shop, "arbiter")
    cases = []
    for _ in range(2):
        order = make_order(review_shop)
        cases.append(
            services.open_case(
                review_shop,
                buyer(order),
                order=order,
                type="refund_only",
                reason="quality",
                lines=[LineRequest(order.lines.first().id, 1)],
            )
        )
    assert {c.status for c in cases} == {"submitted"}
    c = _as(client, member)
    page = c.get("/wb/arbitration/").content.decode()
    assert cases[0].number in page and 'data-testid="review-pass"' in page
    c.post(f"/wb/arbitration/{cases[0].id}/review/", {"decision": "pass", "back": "list"})
    page = c.post(
        f"/wb/arbitration/{cases[1].id}/review/", {"decision": "dismiss", "reason": ""}, follow=True
    ).content.decode()
    assert 'role="alert"' in page and "请填写驳回理由" in page
    c.post(f"/wb/arbitration/{cases[1].id}/review/", {"decision": "dismiss", "reason": "重复申请"})
    assert Case.objects.get(pk=cases[0].pk).status == "awaiting_merchant"
    assert Case.objects.get(pk=cases[1].pk).status == "closed"
