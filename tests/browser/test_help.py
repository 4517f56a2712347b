"""The shop's public help centre on a phone and a desk."""

from __future__ import annotations

from shouhou.assistant.models import FaqEntry


def test_help_centre(db, shop, open_page, shot):
    FaqEntry.objects.create(
        shop=shop, category="refund", question="退款多久到账？", answer="商家同意后 1–3 个工作日。"
    )
    FaqEntry.objects.create(
        shop=shop, category="process", question="怎么寄回商品？", answer="在售后单页面填写单号。"
    )
    page = open_page(phone=True)
    page.goto(f"/help/{shop.code}/")
    assert shop.name in page.locator("[data-testid=help-title]").inner_text()
    assert "七天" in page.content() or "天无理由退货" in page.content()
    page.locator("[data-testid=faq-entry] summary", has_text="退款多久到账").click()
    assert page.locator("text=1–3 个工作日").is_visible()
    shot(page, "help-phone")
    page.click("[data-testid=help-apply]")
    page.wait_for_url(f"**/portal/?shop={shop.code}")
    shot(page, "lookup-from-help")

    desk = open_page(phone=False)
    desk.goto(f"/help/{shop.code}/")
    shot(desk, "help-desk")
    desk.goto("/help/no-such-shop/")
    assert desk.locator("[data-testid=not-found]").count() == 1
    shot(desk, "help-unknown-shop")
