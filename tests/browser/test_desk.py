"""The agent desk as staff use it: the queue, a case, bulk agree, the warehouse and finance
pages — on a desk screen, with the queue and a case page also at phone width."""

from __future__ import annotations

from shouhou.assistant.models import CannedReply
from shouhou.cases import evidence, services
from shouhou.cases.models import Case, TimelineEvent
from shouhou.cases.policies import update_policy
from tests.browser.conftest import login
from tests.factories import buyer, make_customer, make_staff, staff_actor
from tests.workbench.support import open_case


def _status(case: Case) -> str:
    case.refresh_from_db()
    return case.status


def test_agent_filters_the_queue_opens_a_case_and_agrees_a_return(
    db, shop, open_page, shot, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    make_staff(shop, "agent", username="xiaowang")
    customer = make_customer(shop, nickname="小美", phone="13812345678", tags=["老客户"])
    open_case(shop, "refund_only")
    open_case(shop, "exchange")
    earlier = open_case(shop, "refund_only", customer=customer)
    case = open_case(shop, "return_refund", customer=customer, description="鞋底开胶")
    page = open_page()
    login(page, "xiaowang")
    assert page.url.endswith("/wb/")
    assert page.locator("[data-testid=queue-table] tbody tr").count() == 4
    assert page.locator(f"[data-testid=row-{case.number}] .countdown").inner_text()
    shot(page, "queue")

    page.select_option("[data-testid=filter-type]", "return_refund")
    page.click("[data-testid=apply-filters]")
    page.wait_for_url("**/wb/?*type=return_refund*")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=queue-table] tbody tr').length === 1"
    )
    shot(page, "queue-filtered")

    page.click(f"[data-testid=open-{case.number}]")
    page.wait_for_url(f"**/wb/cases/{case.id}/")
    assert "请在" in page.locator("[data-testid=next-step]").inner_text()
    assert page.locator("[data-testid=next-step] .countdown").count() == 1
    archive = page.locator("[data-testid=customer-archive]")
    assert page.locator("[data-testid=customer-phone]").inner_text() == "138****5678"
    assert "13812345678" not in page.content()
    assert earlier.number in archive.inner_text() and "老客户" in archive.inner_text()
    shot(page, "case")

    page.click("[data-testid=do-agree]")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-testid=case-status]").inner_text() == "待买家退货"
    assert page.locator(".msg-success").count() == 1
    shot(page, "case-agreed")
    assert _status(case) == "awaiting_buyer_return"


def test_queue_and_case_page_at_phone_width(db, shop, open_page, shot):
    make_staff(shop, "agent", username="xiaowang")
    case = open_case(shop, "return_refund", description="尺码偏小，想退货")
    open_case(shop, "refund_only")
    CannedReply.objects.create(shop=shop, title="已收到", body="{buyer}您好，售后单{case_no}已收到")
    page = open_page(phone=True)
    login(page, "xiaowang")
    shot(page, "queue-phone")
    page.click(f"[data-testid=open-{case.number}]")
    page.wait_for_url(f"**/wb/cases/{case.id}/")
    shot(page, "case-phone")
    page.click("[data-testid=lang-en]")
    page.wait_for_load_state("networkidle")
    assert "Customer" in page.locator("[data-testid=customer-archive] h2").inner_text()
    shot(page, "case-phone-en")


def test_bulk_agree_three_refunds_and_one_exchange(db, shop, open_page, shot):
    make_staff(shop, "agent", username="xiaowang")
    refunds = [open_case(shop, "refund_only") for _ in range(3)]
    exchange = open_case(shop, "exchange")
    page = open_page()
    login(page, "xiaowang")
    page.check("[data-testid=check-all]")
    assert page.locator("input[name=case]:checked").count() == 4
    page.click("[data-testid=bulk-agree]")
    page.wait_for_load_state("networkidle")
    summary = page.locator("[data-testid=bulk-summary]")
    assert page.locator("[data-testid=bulk-counts]").inner_text() == "已同意 3，未同意 1"
    refused = page.locator("[data-testid=bulk-refused] li")
    assert refused.count() == 1
    assert exchange.number in refused.inner_text() and "换货" in refused.inner_text()
    assert all(r.number in summary.inner_text() for r in refunds)
    shot(page, "bulk-summary")
    assert [_status(c) for c in refunds] == ["refunding"] * 3
    assert _status(exchange) == "awaiting_merchant"


def test_warehouse_receives_a_return_and_finance_confirms_the_refund(db, shop, open_page, shot):
    make_staff(shop, "warehouse", username="laozhou")
    make_staff(shop, "finance", username="caiwu")
    case = open_case(shop, "return_refund")
    services.agree(case.id, staff_actor(shop, "agent"))
    services.ship_return(case.id, buyer(case.order), carrier="顺丰", tracking_no="SF1234567890")
    reship = open_case(shop, "reship")
    services.agree(reship.id, staff_actor(shop, "agent"))

    page = open_page()
    login(page, "laozhou")
    assert page.url.endswith("/wb/warehouse/")
    assert page.locator(f"[data-testid=tracking-{case.number}]").inner_text() == "SF1234567890"
    shot(page, "warehouse")
    # Junk tracking: a message, nothing shipped.
    page.fill(f"[data-testid=carrier-{reship.number}]", "圆通")
    page.fill(f"[data-testid=tracking-input-{reship.number}]", "YT-12 34")
    page.click(f"[data-testid=ship-{reship.number}]")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-code=invalid_tracking]").count() == 1
    shot(page, "warehouse-bad-tracking")
    assert _status(reship) == "awaiting_merchant_shipment"
    page.click(f"[data-testid=receive-{case.number}]")
    page.wait_for_load_state("networkidle")
    assert page.locator(f"[data-testid=receipt-{case.number}]").count() == 0
    shot(page, "warehouse-received")
    assert _status(case) == "refunding"

    page = open_page()
    login(page, "caiwu")
    assert page.url.endswith("/wb/finance/")
    page.click(f"[data-testid=refunded-{case.number}]")
    page.wait_for_load_state("networkidle")
    shot(page, "finance-refunded")
    assert _status(case) == "completed"


def test_finance_approves_an_over_limit_refund(db, shop, open_page, shot):
    update_policy(shop, finance_approval_limit_fen=3000)
    make_staff(shop, "agent", username="xiaowang")
    make_staff(shop, "finance", username="caiwu")
    case = open_case(shop, "refund_only")  # ¥50 > ¥30
    page = open_page()
    login(page, "xiaowang")
    page.goto(f"/wb/cases/{case.id}/")
    page.click("[data-testid=do-agree]")
    page.wait_for_load_state("networkidle")
    assert "财务审批" in page.locator(".msg-success").inner_text()
    assert page.locator("[data-testid=awaiting-finance]").count() == 1
    shot(page, "sent-to-finance")

    page = open_page()
    login(page, "caiwu")
    assert page.locator(f"[data-testid=amount-{case.number}]").inner_text() == "¥50.00"
    shot(page, "finance")
    page.click(f"[data-testid=approve-{case.number}]")
    page.wait_for_load_state("networkidle")
    assert page.locator(f"[data-testid=approval-{case.number}]").count() == 0
    assert page.locator(".msg-success").inner_text() == "已批准退款"
    assert page.locator(f"[data-testid=refunding-{case.number}]").count() == 1
    shot(page, "finance-approved")
    assert _status(case) == "refunding"
    # Finance may not open the queue.
    page.goto("/wb/")
    assert page.locator("[data-testid=forbidden]").count() == 1
    shot(page, "finance-forbidden-queue")


def test_internal_note_canned_reply_and_evidence_viewer(
    db, shop, open_page, shot, settings, tmp_path
):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path / "media"
    make_staff(shop, "agent", username="xiaowang")
    customer = make_customer(shop, nickname="小美")
    case = open_case(shop, "refund_only", customer=customer)
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (220, 80, 40)).save(buf, "JPEG")
    evidence.add_evidence(
        case.id, buyer(case.order), SimpleUploadedFile("破损.jpg", buf.getvalue()), "外盒压坏"
    )
    reply = CannedReply.objects.create(
        shop=shop,
        title="已收到申请",
        body="{buyer}您好，您的售后单{case_no}已收到，我们会在{deadline}前处理。",
        case_types=["refund_only"],
    )
    page = open_page()
    login(page, "xiaowang")
    page.goto(f"/wb/cases/{case.id}/")
    page.click("[data-testid=thumb-" + str(case.evidence.get().id) + "]")
    assert page.locator("[data-testid=viewer]").is_visible()
    shot(page, "evidence-viewer")
    page.click("[data-testid=viewer] button")

    page.click("[data-testid=action-note] summary")
    page.fill("[data-testid=note-text]", "买家电话确认外盒破损，可直接退款")
    page.click("[data-testid=do-note]")
    page.wait_for_load_state("networkidle")
    note = page.locator("[data-testid=event-note]")
    assert "外盒破损" in note.inner_text() and "internal" in note.get_attribute("class")

    page.click(f"[data-testid=canned-{reply.id}]")
    text = page.input_value("[data-testid=reply-text]")
    assert text.startswith(f"小美您好，您的售后单{case.number}已收到") and "{" not in text
    page.click("[data-testid=do-reply]")
    page.wait_for_load_state("networkidle")
    assert "小美您好" in page.locator("[data-testid=event-reply]").inner_text()
    shot(page, "note-and-reply")
    reply.refresh_from_db()
    assert reply.times_used == 1
    assert TimelineEvent.objects.get(case=case, action="reply").visibility == "public"


def test_warehouse_and_finance_pages_at_phone_width_and_in_english(db, shop, open_page, shot):
    update_policy(shop, finance_approval_limit_fen=3000)
    make_staff(shop, "admin", username="dianzhang")
    ret = open_case(shop, "return_refund")
    services.agree(ret.id, staff_actor(shop, "admin"))
    services.ship_return(ret.id, buyer(ret.order), carrier="中通快递", tracking_no="ZT7788990011")
    reship = open_case(shop, "reship")
    services.agree(reship.id, staff_actor(shop, "admin"))
    big = open_case(shop, "refund_only")
    services.agree(big.id, staff_actor(shop, "agent"))  # above the limit: to finance
    paid = open_case(shop, "refund_only", refund_fen=1000)
    services.agree(paid.id, staff_actor(shop, "admin"))
    page = open_page(phone=True)
    login(page, "dianzhang")  # the admin sees every desk page
    shot(page, "queue-admin-phone")
    page.goto("/wb/warehouse/")
    page.click(f"[data-testid=fail-open-{ret.number}]")
    shot(page, "warehouse-phone")
    page.goto("/wb/finance/")
    assert page.locator(f"[data-testid=approval-{big.number}]").count() == 1
    assert page.locator(f"[data-testid=refunding-{paid.number}]").count() == 1
    shot(page, "finance-phone")
    page.click("[data-testid=lang-en]")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "Finance approvals"
    shot(page, "finance-phone-en")
    page.goto("/wb/")
    assert "Agree selected" in page.locator("[data-testid=bulk-agree]").inner_text()
    shot(page, "queue-phone-en")
