"""The arbiter's pages in a real browser: a dispute made through the case services (opened,
rejected, escalated, evidence from both sides), the two sides side by side, a ruling."""

from __future__ import annotations

from shouhou.cases.models import Case
from tests.browser.conftest import login
from tests.factories import make_staff
from tests.workbench_admin.disputes import make_dispute


def test_arbiter_sees_both_sides_and_rules_for_the_buyer(db, shop, open_page, shot):
    case = make_dispute(shop)
    make_staff(shop, "arbiter", username="xiaoer")
    page = open_page()
    login(page, "xiaoer")
    assert page.url.endswith("/wb/arbitration/")
    row = page.get_by_test_id(f"dispute-{case.number}")
    assert "¥129.90" in row.inner_text()
    shot(page, "disputes")
    row.get_by_test_id("open-dispute").click()
    page.wait_for_url(f"**/wb/arbitration/{case.id}/")
    buyer_side = page.get_by_test_id("buyer-side")
    shop_side = page.get_by_test_id("shop-side")
    assert "快递外箱也有破损" in buyer_side.inner_text()
    assert "疑似买家使用中摔裂" in shop_side.inner_text()
    assert buyer_side.locator("img").count() == 2 and shop_side.locator("img").count() == 1
    # Evidence images really load (naturalWidth > 0), not broken links.
    assert page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=sides] img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    left, right = buyer_side.bounding_box(), shop_side.bounding_box()
    assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 2
    assert "仅内部" not in page.content()
    assert page.get_by_test_id("money-asked").inner_text() == "¥129.90"
    shot(page, "dispute")

    page.check("[data-testid=rule-buyer]")
    page.fill("[data-testid=rule-reason]", "   ")
    page.evaluate("document.querySelector('[data-testid=ruling-form] form').noValidate = true")
    page.click("[data-testid=rule-submit]")
    assert "请填写裁定理由" in page.locator(".msg-error").inner_text()
    assert Case.objects.get(pk=case.id).status == "in_arbitration"
    shot(page, "ruling-refused")

    page.check("[data-testid=rule-buyer]")
    page.fill("[data-testid=rule-reason]", "外箱破损照片与签收时间吻合，支持买家退款。")
    page.click("[data-testid=rule-submit]")
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("case-status").inner_text() == "退款中"
    assert "支持买家" in page.get_by_test_id("ruling").inner_text()
    timeline = page.get_by_test_id("timeline").inner_text()
    assert "外箱破损照片与签收时间吻合" in timeline
    assert page.locator("[data-testid=timeline] li[data-action=rule_for_buyer]").count() == 1
    assert page.get_by_test_id("ruling-form").count() == 0
    shot(page, "ruled")
    case.refresh_from_db()
    assert case.status == "refunding" and case.ruling == "for_buyer"

    page.goto("/wb/arbitration/")
    assert page.get_by_test_id("no-disputes").is_visible()
    shot(page, "disputes-empty")


def test_dispute_page_at_phone_width_and_a_public_statement(db, shop, open_page, shot):
    case = make_dispute(shop)
    make_staff(shop, "arbiter", username="xiaoer")
    page = open_page(phone=True)
    login(page, "xiaoer")
    shot(page, "phone-disputes")
    page.goto(f"/wb/arbitration/{case.id}/")
    shot(page, "phone-dispute")
    page.fill("[data-testid=statement-text]", "请商家补充出库检测视频。")
    page.click("[data-testid=statement-submit]")
    page.wait_for_load_state("networkidle")
    assert "请商家补充出库检测视频" in page.get_by_test_id("platform-side").inner_text()
    shot(page, "phone-statement")
    page.check("[data-testid=rule-shop]")
    page.fill("[data-testid=rule-reason]", "买家未能证明运输破损。")
    page.click("[data-testid=rule-submit]")
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("case-status").inner_text() == "已关闭"
    shot(page, "phone-ruled-for-shop")


def test_admin_views_disputes_read_only(db, shop, open_page, shot):
    case = make_dispute(shop)
    make_staff(shop, "admin", username="dianzhang")
    page = open_page()
    login(page, "dianzhang")
    page.goto("/wb/arbitration/")
    assert page.get_by_test_id("read-only").is_visible()
    shot(page, "admin-disputes")
    page.goto(f"/wb/arbitration/{case.id}/")
    assert page.get_by_test_id("ruling-form").count() == 0
    shot(page, "admin-dispute")
