"""The public help centre: policy in plain words, the process, FAQ, the shop's rating."""

from __future__ import annotations

import pytest

from shouhou.assistant.models import FaqEntry
from shouhou.cases import services
from shouhou.cases.policies import update_policy
from tests.factories import buyer, make_order, staff_actor
from tests.portal.support import open_for

pytestmark = pytest.mark.django_db


def test_unknown_shop_is_a_404_page(client, db):
    response = client.get("/help/no-such-shop/")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


def test_policy_in_plain_words_follows_the_current_policy(client, shop):
    update_policy(
        shop,
        after_sales_window_days=30,
        no_reason_days=7,
        return_postage_payer="shop",
        deadline_hours={"awaiting_merchant": 48},
    )
    html = client.get(f"/help/{shop.code}/").content.decode()
    assert "<strong>30</strong>" in html
    assert "天无理由退货" in html
    assert "退货运费由商家承担" in html
    assert "商家将在 2 天 内处理" in html
    update_policy(shop, reason_types={"no_reason_7d": []}, return_postage_payer="buyer")
    html = client.get(f"/help/{shop.code}/").content.decode()
    assert "本店不支持无理由退货" in html and "退货运费由买家承担" in html


def test_process_steps_come_from_the_lifecycle(client, shop):
    page = client.get(f"/help/{shop.code}/")
    steps = {p["type"]: [s["status"] for s in p["steps"]] for p in page.context["processes"]}
    assert steps["return_refund"] == [
        "awaiting_merchant",
        "awaiting_buyer_return",
        "awaiting_merchant_receipt",
        "refunding",
        "completed",
    ]
    assert steps["refund_only"] == ["awaiting_merchant", "refunding", "completed"]
    assert steps["exchange"][-2:] == ["awaiting_buyer_receipt", "completed"]


def test_only_published_faq_of_this_shop(client, shop, other_shop):
    FaqEntry.objects.create(shop=shop, category="refund", question="退款多久到账？", answer="1-3天")
    FaqEntry.objects.create(shop=shop, question="草稿问题", answer="x", is_published=False)
    FaqEntry.objects.create(shop=other_shop, question="别家的问题", answer="y")
    html = client.get(f"/help/{shop.code}/").content.decode()
    assert "退款多久到账？" in html and "1-3天" in html
    assert "草稿问题" not in html and "别家的问题" not in html


def test_rating_summary(client, shop, other_shop):
    page = client.get(f"/help/{shop.code}/")
    assert page.context["rating"]["count"] == 0
    assert "暂无评价" in page.content.decode()
    for speed, satisfaction in ((5, 4), (3, 5)):
        order = make_order(shop)
        case = open_for(order, type="refund_only")
        services.agree(case.id, staff_actor(shop, "agent"))
        services.confirm_refund(case.id, staff_actor(shop, "admin"))
        services.rate(case.id, buyer(order), speed=speed, satisfaction=satisfaction)
    rating = client.get(f"/help/{shop.code}/").context["rating"]
    assert (rating["count"], rating["speed"], rating["satisfaction"]) == (2, 4.0, 4.5)
    assert rating["completed"] == 2 and rating["on_time_pct"] == 100
    assert client.get(f"/help/{other_shop.code}/").context["rating"]["count"] == 0


def test_help_in_english(client, shop):
    client.cookies["django_language"] = "en"  # what the language switch sets
    response = client.get(f"/help/{shop.code}/")
    html = response.content.decode()
    assert "Return policy" in html and "How it works" in html
    assert "agreed automatically" in html and "超时将自动同意" not in html
