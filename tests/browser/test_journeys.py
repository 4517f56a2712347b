"""Each role's main journey through the real pages, as the issue lists them.

Every step is a person in a browser: a buyer on a phone (375 px), staff at a desk. No step
calls a service directly except setting up the shop, its staff and the buyer's order — and
`shouhou tick`, which is the command a person runs. A screenshot is saved per page.
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from PIL import Image

from shouhou.cases.models import Case, RefundInstruction
from shouhou.portal.links import order_link
from tests.browser.conftest import login
from tests.factories import make_order, make_staff

CASE_URL = re.compile(r".*/portal/case/(\d+)/$")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def team(shop):
    return {
        role: make_staff(shop, role, username=f"{role}-{shop.code}")
        for role in ("agent", "warehouse", "finance", "admin", "arbiter")
    }


def _photo(tmp_path) -> str:
    path = tmp_path / "cracked.jpg"
    Image.new("RGB", (480, 360), "steelblue").save(path, format="JPEG")
    return str(path)


def buyer_applies(page, shot, order, *, type, reason, photo=None, amount=None) -> int:
    """The buyer follows the order link, opens a request and lands on its page."""
    page.goto(order_link(order))
    page.wait_for_url("**/portal/order/")
    shot(page, "buyer-order")
    page.click("[data-testid=open-request]")
    page.wait_for_url("**/portal/order/apply/")
    page.select_option("[data-testid=apply-reason]", reason)
    page.select_option("[data-testid=apply-type]", type)
    page.fill("[data-testid=apply-description]", "收到时外壳有裂纹，拍照为证")
    if photo:
        page.set_input_files("[data-testid=apply-photos]", photo)
        page.locator("[data-testid=photos-preview] img").wait_for()
    shot(page, "buyer-apply")
    page.click("[data-testid=apply-submit]")
    page.wait_for_url(CASE_URL)
    shot(page, "buyer-case-opened")
    return int(CASE_URL.match(page.url).group(1))


def staff_opens_case(page, shot, case: Case, name: str) -> None:
    page.goto("/wb/")
    row = page.locator(f"[data-testid=row-{case.number}]")
    row.wait_for()
    shot(page, f"{name}-queue")
    page.click(f"[data-testid=open-{case.number}]")
    page.wait_for_url(f"**/wb/cases/{case.id}/")
    shot(page, f"{name}-case")


def status_of(case_id: int) -> str:
    return Case.objects.values_list("status", flat=True).get(pk=case_id)


def test_return_refund_from_photo_to_rating(db, shop, team, media, open_page, shot, tmp_path):
    order = make_order(shop, lines=[(1, 12900)])
    buyer_page = open_page(phone=True)
    case_id = buyer_applies(
        buyer_page, shot, order, type="return_refund", reason="damaged", photo=_photo(tmp_path)
    )
    case = Case.objects.get(pk=case_id)
    assert case.status == "awaiting_merchant" and case.evidence.count() == 1
    assert re.search(
        r"商家将在 .+ 内处理，超时将自动同意", buyer_page.inner_text("[data-testid=next-step]")
    )

    # The agent finds it in the queue, sees the photo and the masked customer, and agrees.
    agent = open_page()
    login(agent, team["agent"].user.username)
    staff_opens_case(agent, shot, case, "agent")
    assert agent.locator("[data-testid=case-evidence] [data-testid^=thumb-]").count() == 1
    phone = agent.inner_text("[data-testid=customer-phone]")
    assert "****" in phone and order.customer.phone not in agent.content()
    agent.click("[data-testid=do-agree]")
    agent.wait_for_load_state("networkidle")
    shot(agent, "agent-agreed")
    assert status_of(case_id) == "awaiting_buyer_return"

    # The buyer sees where to send it, and ships with a carrier and a tracking number.
    buyer_page.reload()
    assert "文一西路" in buyer_page.inner_text("[data-testid=return-address]")
    shot(buyer_page, "buyer-must-ship")
    buyer_page.select_option("[data-testid=carrier]", index=0)
    buyer_page.fill("[data-testid=tracking-no]", "SF1234567890")
    buyer_page.click("[data-testid=ship-submit]")
    buyer_page.wait_for_load_state("networkidle")
    shot(buyer_page, "buyer-shipped")
    assert status_of(case_id) == "awaiting_merchant_receipt"

    # The warehouse confirms the parcel; the refund instruction goes out.
    warehouse = open_page()
    login(warehouse, team["warehouse"].user.username)
    assert warehouse.url.endswith("/wb/warehouse/")
    shot(warehouse, "warehouse-receipts")
    assert "SF1234567890" in warehouse.inner_text(f"[data-testid=receipt-{case.number}]")
    warehouse.click(f"[data-testid=receive-{case.number}]")
    warehouse.wait_for_load_state("networkidle")
    shot(warehouse, "warehouse-received")
    assert status_of(case_id) == "refunding"

    # Finance sees the money leave (manual gateway) and confirms it arrived.
    finance = open_page()
    login(finance, team["finance"].user.username)
    shot(finance, "finance")
    finance.click(f"[data-testid=refunded-{case.number}]")
    finance.wait_for_load_state("networkidle")
    shot(finance, "finance-confirmed")
    assert status_of(case_id) == "completed"
    refund = RefundInstruction.objects.get(case_id=case_id)
    assert (refund.amount_fen, refund.status) == (12900, "confirmed")

    # The buyer rates the handling.
    buyer_page.reload()
    assert "售后已完成" in buyer_page.inner_text("[data-testid=next-step]")
    buyer_page.check("[data-testid=speed-5]")
    buyer_page.check("[data-testid=satisfaction-4]")
    buyer_page.fill("[data-testid=rate-comment]", "处理很快，谢谢")
    buyer_page.click("[data-testid=rate-submit]")
    buyer_page.wait_for_load_state("networkidle")
    shot(buyer_page, "buyer-rated")
    assert buyer_page.locator("[data-testid=my-rating]").count() == 1
    assert Case.objects.get(pk=case_id).rating.satisfaction == 4


def test_rejection_escalated_and_ruled_for_the_buyer(db, shop, team, media, open_page, shot):
    order = make_order(shop, lines=[(1, 8800)])
    buyer_page = open_page(phone=True)
    case_id = buyer_applies(buyer_page, shot, order, type="refund_only", reason="not_as_described")
    case = Case.objects.get(pk=case_id)

    agent = open_page()
    login(agent, team["agent"].user.username)
    staff_opens_case(agent, shot, case, "agent")
    agent.click("[data-testid=action-reject] summary")
    agent.fill("[data-testid=reject-reason]", "商品与描述一致，详见商品页第三张图")
    agent.click("[data-testid=do-reject]")
    agent.wait_for_load_state("networkidle")
    shot(agent, "agent-rejected")
    assert status_of(case_id) == "rejected"

    buyer_page.reload()
    assert "商品与描述一致" in buyer_page.inner_text("[data-testid=rejection-reason]")
    shot(buyer_page, "buyer-rejected")
    buyer_page.click("[data-testid=escalate-open]")
    buyer_page.fill("[data-testid=escalate-statement]", "实物颜色与图片明显不同，请平台介入")
    buyer_page.click("[data-testid=escalate-submit]")
    buyer_page.wait_for_load_state("networkidle")
    shot(buyer_page, "buyer-escalated")
    assert status_of(case_id) == "in_arbitration"

    arbiter = open_page()
    login(arbiter, team["arbiter"].user.username)
    assert arbiter.url.endswith("/wb/arbitration/")
    shot(arbiter, "arbiter-disputes")
    arbiter.click(f"[data-testid=dispute-{case.number}] [data-testid=open-dispute]")
    arbiter.wait_for_url(f"**/wb/arbitration/{case_id}/")
    assert "实物颜色与图片明显不同" in arbiter.inner_text("[data-testid=buyer-side]")
    assert "商品与描述一致" in arbiter.inner_text("[data-testid=shop-side]")
    shot(arbiter, "arbiter-dispute")
    arbiter.check("[data-testid=rule-buyer]")
    arbiter.fill("[data-testid=rule-reason]", "买家照片显示颜色差异明显，支持买家退款")
    arbiter.click("[data-testid=rule-submit]")
    arbiter.wait_for_load_state("networkidle")
    shot(arbiter, "arbiter-ruled")
    after = Case.objects.get(pk=case_id)
    assert after.ruling == "for_buyer" and after.status == "refunding"

    buyer_page.reload()
    assert "支持买家退款" in buyer_page.inner_text("[data-testid=timeline]")
    shot(buyer_page, "buyer-ruling")


def test_a_timeout_auto_agree_shows_after_shouhou_tick(db, shop, team, media, open_page, shot):
    order = make_order(shop, status="paid", lines=[(1, 5900)])  # not shipped: 24 h to decide
    buyer_page = open_page(phone=True)
    case_id = buyer_applies(
        buyer_page, shot, order, type="refund_only", reason="changed_mind_unshipped"
    )
    assert status_of(case_id) == "awaiting_merchant"

    call_command("tick", hours=25)  # what `shouhou tick --hours 25` runs

    assert status_of(case_id) == "refunding"
    buyer_page.reload()
    shot(buyer_page, "buyer-after-timeout")
    timeline = buyer_page.inner_text("[data-testid=timeline]")
    assert "系统" in timeline and "同意" in timeline
    agent = open_page()
    login(agent, team["agent"].user.username)
    agent.goto(f"/wb/cases/{case_id}/")
    shot(agent, "agent-after-timeout")
    assert "超时" in agent.inner_text("[data-testid=case-timeline]")


def test_admin_switches_on_fast_refund_and_the_next_unshipped_refund_is_agreed_at_once(
    db, shop, team, media, open_page, shot
):
    admin = open_page()
    login(admin, team["admin"].user.username)
    admin.goto("/wb/settings/rules/")
    card = admin.locator("[data-testid=rule-fast_refund]")
    assert card.locator("[data-testid=rule-state]").inner_text() == "未启用"
    shot(admin, "admin-rules-off")
    card.locator("[data-testid=rule-switch]").click()
    admin.wait_for_load_state("networkidle")
    card = admin.locator("[data-testid=rule-fast_refund]")
    assert card.locator("[data-testid=rule-state]").inner_text() == "已启用"
    shot(admin, "admin-rules-on")

    order = make_order(shop, status="paid", lines=[(1, 3900)])
    buyer_page = open_page(phone=True)
    case_id = buyer_applies(
        buyer_page, shot, order, type="refund_only", reason="changed_mind_unshipped"
    )
    assert status_of(case_id) == "refunding"
    assert "极速退款" in buyer_page.inner_text("[data-testid=timeline]") or "同意" in (
        buyer_page.inner_text("[data-testid=timeline]")
    )
    agent = open_page()
    login(agent, team["agent"].user.username)
    agent.goto(f"/wb/cases/{case_id}/")
    assert "极速退款" in agent.inner_text("[data-testid=case-timeline]")
    shot(agent, "agent-sees-rule")
