"""The notification settings in a real browser: a signed webhook added, its secret shown once
(a reload shows the list, not the secret), a test message queued, a dead letter retried —
and the pages at phone width and in English without sideways scrolling."""

from __future__ import annotations

from shouhou.notify.models import Endpoint, MessageStatus, OutboxMessage
from tests.browser.conftest import login
from tests.factories import make_staff

PAGES = ["", "new/", "dead/"]


def test_admin_adds_a_webhook_sees_its_secret_once_and_queues_a_test(db, shop, open_page, shot):
    make_staff(shop, "admin", username="dianzhang")
    page = open_page()
    login(page, "dianzhang")
    page.goto("/wb/settings/")
    page.get_by_test_id("settings-nav").get_by_text("消息通知").click()
    page.wait_for_url("**/wb/settings/notifications/")
    shot(page, "empty")
    page.get_by_test_id("notify-add").click()
    page.fill("[data-testid=notify-name]", "ERP 回调")
    page.fill("[data-testid=notify-url]", "ftp://erp.example.com/hook")
    page.click("[data-testid=notify-save]")
    assert page.locator(".msg-error").get_attribute("data-code") == "notify_url_scheme"
    shot(page, "refused")
    page.fill("[data-testid=notify-url]", "https://erp.example.com/hook")
    page.uncheck("[data-testid='notify-topic-case.status_changed']")
    page.click("[data-testid=notify-save]")
    secret = page.get_by_test_id("notify-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    shot(page, "secret-once")
    ep = Endpoint.objects.get(shop=shop)
    assert ep.secret == secret and ep.topics == ["case.opened", "refund.issued"]
    # The entry became the list's GET: a reload shows the list, not the secret again.
    page.reload()
    assert secret not in page.content()
    assert page.get_by_test_id(f"notify-endpoint-{ep.id}").is_visible()
    page.get_by_test_id(f"notify-endpoint-{ep.id}").get_by_test_id("notify-test").click()
    page.wait_for_load_state("networkidle")
    assert "测试消息已进入发送队列" in page.locator(".msg-success").inner_text()
    assert OutboxMessage.objects.filter(endpoint=ep, topic="test.ping").count() == 1
    shot(page, "test-queued")
    page.get_by_test_id(f"notify-endpoint-{ep.id}").get_by_test_id("notify-edit").click()
    assert secret not in page.content()
    assert secret[-4:] in page.get_by_test_id("notify-secret-mask").first.inner_text()
    shot(page, "edit")


def test_pages_at_phone_width_in_both_languages_and_a_dead_letter_retried(
    db, shop, open_page, shot
):
    make_staff(shop, "admin", username="dianzhang")
    ep = Endpoint.objects.create(
        shop=shop,
        name="企业微信售后群",
        channel="wecom",
        url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
    )
    Endpoint.objects.create(
        shop=shop, name="主管邮箱", channel="email", recipients="zhang.wei@example.com"
    )
    dead = OutboxMessage.objects.create(
        shop=shop,
        endpoint=ep,
        topic="refund.issued",
        dedupe_key="RF-1",
        status=MessageStatus.DEAD,
        attempts=10,
        last_error="robot errcode 93000: invalid webhook url, hint: [1700000000_a_very_long_token]",
    )
    for lang in ("zh-CN", "en-US"):
        page = open_page(phone=True, lang=lang)
        login(page, "dianzhang")
        if lang.startswith("en"):
            page.context.add_cookies([{"name": "django_language", "value": "en", "url": page.url}])
        for path in PAGES + [f"{ep.id}/"]:
            page.goto(f"/wb/settings/notifications/{path}")
            shot(page, f"{lang}-{path.strip('/') or 'list'}")
    page.goto("/wb/settings/notifications/dead/")
    assert "Dead letters" in page.content()
    page.get_by_test_id(f"notify-dead-{dead.id}").get_by_test_id("notify-retry").click()
    page.wait_for_load_state("networkidle")
    assert "Queued 1" in page.locator(".msg-success").inner_text()
    dead.refresh_from_db()
    assert dead.status == MessageStatus.PENDING and dead.attempts == 0
