"""The buyer portal as a buyer uses it, on a phone (375 px), with a screenshot per page."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image

from shouhou.cases import services
from shouhou.cases.models import Case
from shouhou.portal.links import order_link
from tests.factories import make_order, staff_actor
from tests.portal.support import open_for

NEXT_STEP = re.compile(r"商家将在 .+ 内处理，超时将自动同意")


def photo(tmp_path, name="damage.jpg", size=(320, 240)) -> str:
    path = tmp_path / name
    Image.new("RGB", size, "tomato").save(path, format="JPEG")
    return str(path)


def big_photo(tmp_path, at_least: int) -> str:
    """A real JPEG larger than `at_least` bytes (noise does not compress)."""
    side = 600
    while True:
        img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=95)
        if buf.tell() > at_least:
            path = tmp_path / "huge.jpg"
            path.write_bytes(buf.getvalue())
            return str(path)
        side *= 2


def via_link(page, order) -> None:
    page.goto(order_link(order))
    page.wait_for_url("**/portal/order/")


def fill_request(page, *, reason="quality", type="return_refund") -> None:
    page.select_option("[data-testid=apply-reason]", reason)
    page.select_option("[data-testid=apply-type]", type)
    page.fill("[data-testid=apply-description]", "收到时外壳裂了")


def error_code(page) -> str:
    return page.locator(".msg-error").first.get_attribute("data-code")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_lookup_wrong_then_right_and_open_a_return_with_a_photo(
    db, shop, media, open_page, shot, tmp_path
):
    order = make_order(shop)
    page = open_page(phone=True)
    page.goto(f"/portal/?shop={shop.code}")
    shot(page, "lookup")
    page.fill("[data-testid=lookup-order]", order.external_id)
    page.fill("[data-testid=lookup-phone]", "0000" if order.customer.phone_last4 != "0000" else "1")
    page.click("[data-testid=lookup-submit]")
    assert error_code(page) == "not_found"
    assert "手机号后四位不匹配" in page.locator(".msg-error").inner_text()
    shot(page, "lookup-wrong-digits")
    page.fill("[data-testid=lookup-phone]", order.customer.phone_last4)
    page.click("[data-testid=lookup-submit]")
    page.wait_for_url("**/portal/order/")
    assert order.external_id in page.locator("h1").inner_text()
    shot(page, "order")

    page.click("[data-testid=open-request]")
    page.wait_for_url("**/portal/order/apply/")
    shot(page, "apply")
    fill_request(page)
    page.set_input_files("[data-testid=apply-photos]", photo(tmp_path))
    page.locator("[data-testid=photos-preview] img").wait_for()
    shot(page, "apply-with-preview")
    page.click("[data-testid=apply-submit]")
    page.wait_for_url(re.compile(r".*/portal/case/\d+/$"))
    assert NEXT_STEP.search(page.locator("[data-testid=next-step]").inner_text())
    assert page.locator(".countdown").count() == 1
    assert page.locator("[data-testid=thumb]").count() == 1
    # The thumbnail really loads through the portal's evidence view.
    assert page.evaluate("() => document.querySelector('[data-testid=thumb]').naturalWidth") > 0
    shot(page, "case")
    case = Case.objects.get(order=order)
    assert case.status == "awaiting_merchant" and case.evidence.count() == 1

    page.goto("/portal/order/")
    assert page.locator(f"[data-testid=case-{case.number}]").count() == 1
    shot(page, "order-with-case")


def test_a_text_file_renamed_jpg_opens_nothing(db, shop, media, open_page, shot, tmp_path):
    order = make_order(shop)
    fake = tmp_path / "receipt.jpg"
    fake.write_text("这不是图片 not an image\n" * 20)
    page = open_page(phone=True)
    via_link(page, order)
    page.goto("/portal/order/apply/")
    fill_request(page)
    page.set_input_files("[data-testid=apply-photos]", str(fake))
    page.click("[data-testid=apply-submit]")
    page.locator(".msg-error").wait_for()
    assert error_code(page) == "evidence_invalid"
    assert "receipt.jpg" in page.locator(".msg-error").inner_text()
    assert "申请未提交" in page.locator(".msg-error").inner_text()
    shot(page, "apply-not-an-image")
    assert not Case.objects.filter(order=order).exists()


def test_an_oversized_photo_opens_nothing(db, shop, media, open_page, shot, tmp_path, settings):
    settings.SHOUHOU_MAX_EVIDENCE_BYTES = 1024 * 1024
    order = make_order(shop)
    page = open_page(phone=True)
    via_link(page, order)
    page.goto("/portal/order/apply/")
    fill_request(page)
    page.set_input_files("[data-testid=apply-photos]", big_photo(tmp_path, 1024 * 1024))
    page.click("[data-testid=apply-submit]")
    page.locator(".msg-error").wait_for()
    assert error_code(page) == "payload_too_large"
    assert "太大（上限 1 MB）" in page.locator(".msg-error").inner_text()
    shot(page, "apply-too-large")
    assert not Case.objects.filter(order=order).exists()


def test_a_double_clicked_submit_opens_one_case(db, shop, media, open_page, shot, tmp_path):
    order = make_order(shop)
    page = open_page(phone=True)
    via_link(page, order)
    page.goto("/portal/order/apply/")
    fill_request(page)
    page.set_input_files("[data-testid=apply-photos]", photo(tmp_path))
    page.dblclick("[data-testid=apply-submit]")
    page.wait_for_url(re.compile(r".*/portal/case/\d+/$"))
    page.wait_for_load_state("networkidle")
    shot(page, "case-after-double-click")
    assert Case.objects.filter(order=order).count() == 1
    assert page.locator(".msg-error").count() == 0


def test_too_many_photos_are_stopped_before_sending(db, shop, media, open_page, shot, tmp_path):
    order = make_order(shop)
    page = open_page(phone=True)
    via_link(page, order)
    page.goto("/portal/order/apply/")
    fill_request(page)
    files = [photo(tmp_path, f"p{i}.jpg") for i in range(10)]
    page.set_input_files("[data-testid=apply-photos]", files)
    assert page.locator("[data-testid=photos-error]").is_visible()
    shot(page, "apply-ten-photos")
    page.click("[data-testid=apply-submit]")
    assert page.url.endswith("/portal/order/apply/")
    assert not Case.objects.filter(order=order).exists()
    # The form is not left locked: with fewer photos it goes through.
    page.set_input_files("[data-testid=apply-photos]", files[:2])
    page.click("[data-testid=apply-submit]")
    page.wait_for_url(re.compile(r".*/portal/case/\d+/$"))
    assert Case.objects.get(order=order).evidence.count() == 2


def test_ship_a_return_junk_tracking_then_a_good_one(db, shop, open_page, shot):
    order = make_order(shop)
    case = open_for(order)
    services.agree(case.id, staff_actor(shop, "agent"))
    page = open_page(phone=True)
    via_link(page, order)
    page.goto(f"/portal/case/{case.id}/")
    assert "浙江省杭州市" in page.locator("[data-testid=return-address]").inner_text()
    shot(page, "case-ship-return")
    page.select_option("[data-testid=carrier]", "中通快递")
    page.fill("[data-testid=tracking-no]", "ZT-12 34!")
    page.click("[data-testid=ship-submit]")
    page.locator(".msg-error").wait_for()
    assert error_code(page) == "invalid_tracking"
    assert "物流单号格式不正确" in page.locator(".msg-error").inner_text()
    shot(page, "ship-junk-tracking")
    case.refresh_from_db()
    assert case.status == "awaiting_buyer_return"
    page.select_option("[data-testid=carrier]", "中通快递")
    page.fill("[data-testid=tracking-no]", "ZT7788990011")
    page.click("[data-testid=ship-submit]")
    page.locator(".msg-success").wait_for()
    assert page.locator("[data-testid=case-status]").inner_text() == "待商家收货"
    assert "ZT7788990011" in page.locator("[data-testid=shipments]").inner_text()
    shot(page, "shipped")


def test_accept_a_proposal(db, shop, open_page, shot):
    order = make_order(shop)
    case = open_for(order, type="refund_only")
    services.propose(
        case.id, staff_actor(shop, "agent"), kind="partial_refund", refund_fen=2000, note="补偿20元"
    )
    page = open_page(phone=True)
    via_link(page, order)
    page.goto(f"/portal/case/{case.id}/")
    assert "¥20.00" in page.locator("[data-testid=proposal]").inner_text()
    shot(page, "proposal")
    page.click("[data-testid=accept-proposal]")
    page.locator(".msg-success").wait_for()
    assert page.locator("[data-testid=case-status]").inner_text() == "退款中"
    shot(page, "proposal-accepted")


def test_modify_after_rejection(db, shop, open_page, shot):
    order = make_order(shop)
    case = open_for(order, type="refund_only")
    services.reject(case.id, staff_actor(shop, "agent"), reason="请补充商品照片")
    page = open_page(phone=True)
    via_link(page, order)
    page.goto(f"/portal/case/{case.id}/")
    assert page.locator("[data-testid=rejection-reason]").inner_text() == "请补充商品照片"
    shot(page, "rejected")
    page.select_option("[data-testid=modify-reason]", "damaged")
    page.fill("[data-testid=modify-description]", "外盒压坏，内件破损")
    page.fill("[data-testid=modify-amount]", "30")
    page.click("[data-testid=modify-submit]")
    page.locator(".msg-success").wait_for()
    assert page.locator("[data-testid=case-status]").inner_text() == "待商家处理"
    assert NEXT_STEP.search(page.locator("[data-testid=next-step]").inner_text())
    shot(page, "modified")
    case.refresh_from_db()
    assert (case.reason, case.requested_refund_fen) == ("damaged", 3000)


def test_escalate_after_rejection(db, shop, open_page, shot):
    order = make_order(shop)
    case = open_for(order, type="refund_only")
    services.reject(case.id, staff_actor(shop, "agent"), reason="不支持")
    page = open_page(phone=True)
    via_link(page, order)
    page.goto(f"/portal/case/{case.id}/")
    page.click("[data-testid=escalate-open]")
    page.fill("[data-testid=escalate-statement]", "照片已证明质量问题，请平台处理")
    shot(page, "escalate-form")
    page.click("[data-testid=escalate-submit]")
    page.locator(".msg-success").wait_for()
    assert page.locator("[data-testid=case-status]").inner_text() == "平台介入中"
    assert "照片已证明质量问题" in page.locator("[data-testid=timeline]").inner_text()
    shot(page, "escalated")


def test_cancel(db, shop, open_page, shot):
    order = make_order(shop)
    case = open_for(order)
    page = open_page(phone=True)
    via_link(page, order)
    page.goto(f"/portal/case/{case.id}/")
    page.click("[data-testid=cancel-open]")
    shot(page, "cancel-form")
    page.click("[data-testid=cancel-submit]")
    page.locator(".msg-success").wait_for()
    assert page.locator("[data-testid=case-status]").inner_text() == "已关闭"
    shot(page, "cancelled")


def test_rate_then_english(db, shop, open_page, shot):
    order = make_order(shop)
    case = open_for(order, type="refund_only")
    services.agree(case.id, staff_actor(shop, "agent"))
    services.confirm_refund(case.id, staff_actor(shop, "admin"))
    page = open_page(phone=True)
    via_link(page, order)
    page.goto(f"/portal/case/{case.id}/")
    shot(page, "completed")
    page.check("[data-testid=speed-4]")
    page.check("[data-testid=satisfaction-5]")
    page.fill("[data-testid=rate-comment]", "处理很快")
    page.click("[data-testid=rate-submit]")
    page.locator(".msg-success").wait_for()
    assert "满意度 5/5" in page.locator("[data-testid=my-rating]").inner_text()
    assert page.locator("[data-testid=rate]").count() == 0
    shot(page, "rated")
    page.click("[data-testid=lang-en]")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-testid=case-status]").inner_text() == "Completed"
    assert "Satisfaction 5/5" in page.locator("[data-testid=my-rating]").inner_text()
    shot(page, "rated-en")


def test_pages_at_desk_width(db, shop, media, open_page, shot):
    order = make_order(shop, lines=[(2, 5000), (1, 12900)])
    case = open_for(order)
    services.agree(case.id, staff_actor(shop, "agent"))
    page = open_page(phone=False)
    page.goto(f"/portal/?shop={shop.code}")
    shot(page, "desk-lookup")
    via_link(page, order)
    shot(page, "desk-order")
    page.goto("/portal/order/apply/")
    shot(page, "desk-apply")
    page.goto(f"/portal/case/{case.id}/")
    shot(page, "desk-case")
    page.goto("/portal/o/not-a-real-token/")
    assert "链接无效" in page.locator("[data-testid=link-invalid]").inner_text()
    shot(page, "desk-bad-link")
