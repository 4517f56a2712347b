"""The shop admin's notification pages (/wb/settings/notifications/…) through Django's test
client: who may open them, what bad input says (stable codes, both languages), a webhook
secret shown once then masked, a test message through the real outbox to a real receiver,
dead letters retried, every write in the audit log, another shop's ids a 404."""

from __future__ import annotations

import re

import pytest

from shouhou.core.models import AuditLog
from shouhou.notify import services as notify
from shouhou.notify.channels import SIGNATURE_HEADER
from shouhou.notify.models import Channel, Endpoint, MessageStatus, OutboxMessage, Topic
from tests.factories import make_staff
from tests.notify.receiver import Receiver

pytestmark = pytest.mark.django_db

BASE = "/wb/settings/notifications/"
ALL_TOPICS = ["case.opened", "case.status_changed", "refund.issued"]


@pytest.fixture
def admin(shop):
    return make_staff(shop, "admin", username="dianzhang-notify")


@pytest.fixture
def c(client, admin):
    client.force_login(admin.user)
    return client


def _text(resp) -> str:
    return resp.content.decode()


def _codes(resp) -> list[str]:
    return re.findall(r'data-code="([^"]*)"', _text(resp))


def _add(c, **over):
    data = {
        "name": "ERP 回调",
        "channel": "webhook",
        "url": "https://erp.example.com/hooks/shouhou",
        "topics": ALL_TOPICS,
    }
    data.update(over)
    return c.post(f"{BASE}new/", data)


def _shown_secret(resp) -> str:
    m = re.search(r'data-testid="notify-secret">([^<]+)<', _text(resp))
    assert m, _text(resp)[:2000]
    return m.group(1)


def _endpoint(shop, **kw) -> Endpoint:
    kw.setdefault("name", "售后群")
    kw.setdefault("channel", Channel.WECOM)
    kw.setdefault("url", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd-1234-wxyz")
    return Endpoint.objects.create(shop=shop, **kw)


def _message(ep: Endpoint, status=MessageStatus.DEAD, **kw) -> OutboxMessage:
    kw.setdefault("attempts", 10)
    kw.setdefault("last_error", "HTTP 500: down")
    return OutboxMessage.objects.create(
        shop=ep.shop,
        endpoint=ep,
        topic=Topic.REFUND_ISSUED,
        payload={"reference": "RF-1"},
        dedupe_key=f"k{OutboxMessage.objects.count()}",
        status=status,
        **kw,
    )


def _audit(shop, action: str) -> list[AuditLog]:
    return list(AuditLog.objects.filter(shop=shop, action=action).order_by("id"))


# --- who may open what -------------------------------------------------------------------
def _pages(ep: Endpoint) -> list[str]:
    return [BASE, f"{BASE}new/", f"{BASE}{ep.id}/", f"{BASE}dead/"]


def _posts(ep: Endpoint, dead: OutboxMessage) -> list[tuple[str, dict]]:
    return [
        (f"{BASE}new/", {"name": "x", "channel": "webhook", "url": "https://a.example/"}),
        (f"{BASE}{ep.id}/", {"name": "改名", "url": "https://b.example/", "topics": ALL_TOPICS}),
        (f"{BASE}{ep.id}/active/", {"active": "0"}),
        (f"{BASE}{ep.id}/test/", {}),
        (f"{BASE}{ep.id}/rotate/", {}),
        (f"{BASE}{ep.id}/delete/", {"drop_pending": "1"}),
        (f"{BASE}dead/{dead.id}/retry/", {}),
        (f"{BASE}dead/retry/", {}),
    ]


def _state(shop):
    return (
        list(
            Endpoint.objects.filter(shop=shop).values_list("id", "name", "url", "active", "secret")
        ),
        list(OutboxMessage.objects.filter(shop=shop).values_list("id", "status", "attempts")),
        AuditLog.objects.filter(shop=shop).count(),
    )


@pytest.mark.parametrize("role", ["agent", "warehouse", "finance", "arbiter"])
def test_other_roles_get_403_and_change_nothing(client, shop, role):
    ep = _endpoint(shop, channel=Channel.WEBHOOK, url="https://erp.example/h", secret="whsec_x")
    dead = _message(ep)
    client.force_login(make_staff(shop, role).user)
    for path in _pages(ep):
        resp = client.get(path)
        assert resp.status_code == 403, path
        assert "无权访问" in _text(resp)
    before = _state(shop)
    for path, data in _posts(ep, dead):
        assert client.post(path, data).status_code == 403, path
    assert _state(shop) == before


def test_anonymous_visitors_are_sent_to_log_in(client, shop):
    ep = _endpoint(shop)
    for path in _pages(ep):
        resp = client.get(path)
        assert resp.status_code == 302 and "/login/" in resp["Location"], path


def test_the_admin_opens_every_page_and_the_nav_links_it(c, shop):
    ep = _endpoint(shop)
    for path in _pages(ep):
        assert c.get(path).status_code == 200, path
    nav = _text(c.get("/wb/settings/")).split('data-testid="settings-nav"', 1)[1].split("</nav>")[0]
    assert f'href="{BASE}"' in nav
    link = re.search(rf'<a href="{BASE}"[^>]*>', _text(c.get(BASE))).group(0)
    assert 'aria-current="page"' in link


def test_another_shops_ids_are_404_and_nothing_changes(c, shop, other_shop):
    theirs = _endpoint(other_shop, channel=Channel.WEBHOOK, url="https://x.example/", secret="s")
    dead = _message(theirs)
    before = _state(other_shop)
    assert c.get(f"{BASE}{theirs.id}/").status_code == 404
    for path, data in _posts(theirs, dead):
        if path.endswith(("/new/", "/dead/retry/")):
            continue  # not about an id: acts on the admin's own shop
        assert c.post(path, data).status_code == 404, path
    # "Retry all" of this shop leaves the other shop's dead letters alone.
    c.post(f"{BASE}dead/retry/", {"ids": [dead.id]})
    assert _state(other_shop) == before
    page = _text(c.get(BASE)) + _text(c.get(f"{BASE}dead/"))
    assert theirs.name not in page and "x.example" not in page


# --- add: signed webhook, secret shown once ---------------------------------------------
def test_a_webhook_secret_is_generated_shown_once_then_masked(c, shop):
    resp = _add(c)
    assert resp.status_code == 200
    assert resp["Cache-Control"] == "no-store"
    secret = _shown_secret(resp)
    assert secret.startswith("whsec_") and len(secret) > 40
    page = _text(resp)
    assert SIGNATURE_HEADER in page and "compare_digest" in page  # header + verify snippet
    ep = Endpoint.objects.get(shop=shop)
    assert ep.secret == secret and ep.channel == "webhook" and ep.topics == ALL_TOPICS
    # Never again: not on the list, not on the edit page (masked there), not in the audit.
    listing, edit = _text(c.get(BASE)), _text(c.get(f"{BASE}{ep.id}/"))
    assert secret not in listing and secret not in edit
    assert f"••••••••{secret[-4:]}" in edit
    rows = _audit(shop, "notify.endpoint_add")
    assert len(rows) == 1 and rows[0].data["channel"] == "webhook"
    assert rows[0].data["host"] == "erp.example.com"
    assert secret not in str(rows[0].data) and secret not in _text(c.get("/wb/settings/audit/"))
    # Encrypted at rest: the raw column is not the secret.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT secret FROM notify_endpoint WHERE id = %s", [ep.id])
        raw = cur.fetchone()[0]
    assert secret not in raw


def test_a_rotated_secret_is_new_shown_once_and_the_old_one_stops(c, shop):
    old = _shown_secret(_add(c))
    ep = Endpoint.objects.get(shop=shop)
    resp = c.post(f"{BASE}{ep.id}/rotate/")
    assert resp.status_code == 200 and resp["Cache-Control"] == "no-store"
    new = _shown_secret(resp)
    assert new != old and new.startswith("whsec_")
    ep.refresh_from_db()
    assert ep.secret == new
    assert new not in _text(c.get(f"{BASE}{ep.id}/"))
    assert len(_audit(shop, "notify.secret_rotate")) == 1


def test_only_a_webhook_has_a_secret_to_rotate(c, shop):
    ep = _endpoint(shop)
    resp = c.post(f"{BASE}{ep.id}/rotate/", follow=True)
    assert "validation_error" in _codes(resp)
    ep.refresh_from_db()
    assert ep.secret == "" and not _audit(shop, "notify.secret_rotate")


def test_a_test_message_goes_through_the_real_outbox_signed_with_the_shown_secret(c, shop):
    with Receiver() as receiver:
        receiver.secret = _shown_secret(_add(c, url=receiver.url))
        ep = Endpoint.objects.get(shop=shop)
        resp = c.post(f"{BASE}{ep.id}/test/", follow=True)
        assert "测试消息已进入发送队列" in _text(resp)
        msg = OutboxMessage.objects.get(shop=shop)
        assert (msg.endpoint_id, msg.topic, msg.status) == (ep.id, "test.ping", "pending")
        row = _audit(shop, "notify.test")[0]
        assert row.data["message_id"] == str(msg.message_id)
        result = notify.deliver_all()
        assert result.delivered == 1, result
        assert len(receiver.arrivals) == 1
        arrival = receiver.arrivals[0]
        assert arrival.signature_ok and arrival.message_id == str(msg.message_id)
        assert arrival.json["topic"] == "test.ping"
    msg.refresh_from_db()
    assert msg.status == "delivered"
    listing = _text(c.get(BASE))
    row_html = listing.split(f'data-testid="notify-endpoint-{ep.id}"', 1)[1].split("</tr>")[0]
    assert "已送达" in row_html and "0 / 1 / 0" in row_html


def test_a_switched_off_endpoint_gets_no_test_and_no_events(c, shop):
    ep = _endpoint(shop)
    resp = c.post(f"{BASE}{ep.id}/active/", {"active": "0"}, follow=True)
    assert "已停用" in _text(resp)
    ep.refresh_from_db()
    assert not ep.active
    resp = c.post(f"{BASE}{ep.id}/test/", follow=True)
    assert "notify_endpoint_inactive" in _codes(resp)
    assert notify.enqueue(shop.id, "case.opened", {}, dedupe_key="case:1") == 0
    assert not OutboxMessage.objects.exists()
    c.post(f"{BASE}{ep.id}/active/", {"active": "1"})
    ep.refresh_from_db()
    assert ep.active
    assert notify.enqueue(shop.id, "case.opened", {}, dedupe_key="case:1") == 1
    assert [a.action for a in AuditLog.objects.filter(shop=shop).order_by("id")] == [
        "notify.endpoint_off",
        "notify.endpoint_on",
    ]


# --- add: other channels, masking ---------------------------------------------------------
def test_email_recipients_are_masked_on_the_list(c, shop):
    resp = _add(
        c,
        name="售后主管邮箱",
        channel="email",
        url="",
        recipients="zhang.wei@example.com; li@example.org\nzhang.wei@example.com",
        topics=["refund.issued"],
    )
    assert resp.status_code == 302
    ep = Endpoint.objects.get(shop=shop)
    assert ep.recipient_list == ["zhang.wei@example.com", "li@example.org"]
    assert ep.topics == ["refund.issued"] and ep.secret == "" and ep.url == ""
    listing = _text(c.get(BASE))
    assert "zhang.wei@example.com" not in listing and "z***@example.com" in listing
    row = _audit(shop, "notify.endpoint_add")[0]
    assert row.data["recipients"] == 2 and "example.com" not in str(row.data)


def test_a_robot_url_key_is_masked_on_the_list(c, shop):
    url = (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    )
    assert _add(c, name="企业微信群", channel="wecom", url=url).status_code == 302
    listing = _text(c.get(BASE))
    assert "693a91f6" not in listing and "key=••••5aaa" in listing
    assert Endpoint.objects.get(shop=shop).url == url


def test_a_dingtalk_secret_is_kept_changed_or_removed_and_never_shown(c, shop):
    url = "https://oapi.dingtalk.com/robot/send?access_token=t0k3n"
    resp = _add(c, name="钉钉群", channel="dingtalk", url=url, secret="SECabcdef0123456789xyz")
    assert resp.status_code == 302  # nothing to show once: the admin typed it
    ep = Endpoint.objects.get(shop=shop)
    assert ep.secret == "SECabcdef0123456789xyz"
    edit = _text(c.get(f"{BASE}{ep.id}/"))
    assert "SECabcdef0123456789xyz" not in edit and "••••••••9xyz" in edit
    data = {"name": "钉钉群", "url": url, "topics": ALL_TOPICS}
    c.post(f"{BASE}{ep.id}/", {**data, "secret": ""})  # blank keeps it
    ep.refresh_from_db()
    assert ep.secret == "SECabcdef0123456789xyz"
    c.post(f"{BASE}{ep.id}/", {**data, "secret": "SECnew"})
    ep.refresh_from_db()
    assert ep.secret == "SECnew"
    c.post(f"{BASE}{ep.id}/", {**data, "clear_secret": "1"})
    ep.refresh_from_db()
    assert ep.secret == ""
    changes = [r.data["changed"] for r in _audit(shop, "notify.endpoint_edit")]
    assert changes == [[], ["secret"], ["secret_removed"]]
    assert "SEC" not in str([r.data for r in AuditLog.objects.filter(shop=shop)])


# --- validation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url, code, zh",
    [
        ("ftp://files.example.com/in", "notify_url_scheme", "只能以 http:// 或 https:// 开头"),
        ("javascript:alert(1)", "notify_url_scheme", "「javascript」"),
        ("file:///etc/passwd", "notify_url_scheme", "「file」"),
        ("https://bob:hunter2@erp.example.com/h", "notify_url_credentials", "用户名或密码"),
        ("https://token@erp.example.com/h", "notify_url_credentials", "用户名或密码"),
        ("https://", "notify_url_invalid", "缺少主机名"),
        ("", "notify_url_invalid", "地址为空"),
        ("https://erp.example.com/a b", "notify_url_invalid", "空格"),
        ("https://erp.example.com:99999/", "notify_url_invalid", "格式无法识别"),
        ("https://erp.example.com/" + "a" * 500, "notify_url_invalid", "500"),
    ],
)
def test_bad_urls_are_refused_with_a_stable_code(c, shop, url, code, zh):
    resp = _add(c, url=url)
    assert resp.status_code == 422
    assert code in _codes(resp)
    assert zh in _text(resp)
    assert not Endpoint.objects.exists() and not AuditLog.objects.exists()


def test_url_errors_read_in_english_too(c, shop):
    c.cookies["django_language"] = "en"
    resp = _add(c, url="https://bob:pw@erp.example.com/")
    assert resp.status_code == 422 and "notify_url_credentials" in _codes(resp)
    assert "must not contain a user name or password" in _text(resp)
    resp = _add(c, url="gopher://x")
    assert "must start with http:// or https:// (got &#x27;gopher&#x27;)" in _text(resp)


@pytest.mark.parametrize(
    "over, code",
    [
        ({"topics": []}, "notify_topics_invalid"),
        ({"topics": ["case.opened", "shop.deleted"]}, "notify_topics_invalid"),
        ({"topics": ["test.ping"]}, "notify_topics_invalid"),
        ({"channel": "email", "recipients": "not-an-address"}, "notify_recipients_invalid"),
        ({"channel": "email", "recipients": " , ;"}, "notify_recipients_invalid"),
        (
            {"channel": "email", "recipients": ",".join(f"u{i}@example.com" for i in range(21))},
            "notify_recipients_invalid",
        ),
        ({"name": "   "}, "form_invalid"),
        ({"channel": "carrier-pigeon"}, "form_invalid"),
    ],
)
def test_bad_input_says_what_and_adds_nothing(c, shop, over, code):
    resp = _add(c, **over)
    assert resp.status_code == 422
    assert code in _codes(resp), _codes(resp)
    assert not Endpoint.objects.exists() and not AuditLog.objects.exists()
    if code == "notify_topics_invalid" and over["topics"]:
        assert "shop.deleted" in _text(resp) or "test.ping" in _text(resp)


def test_a_refused_edit_leaves_the_endpoint_as_it_was(c, shop):
    ep = _endpoint(shop, channel=Channel.WEBHOOK, url="https://erp.example/h", secret="s" * 20)
    resp = c.post(f"{BASE}{ep.id}/", {"name": "新名", "url": "ftp://x/", "topics": ALL_TOPICS})
    assert resp.status_code == 422 and "notify_url_scheme" in _codes(resp)
    ep.refresh_from_db()
    assert (ep.name, ep.url) == ("售后群", "https://erp.example/h")
    assert not AuditLog.objects.exists()


def test_edit_changes_name_url_and_topics_but_not_the_channel(c, shop):
    ep = _endpoint(shop)
    resp = c.post(
        f"{BASE}{ep.id}/",
        {
            "name": "退款群",
            "channel": "email",  # ignored: the channel is fixed
            "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=new",
            "topics": ["refund.issued"],
        },
    )
    assert resp.status_code == 302
    ep.refresh_from_db()
    assert (ep.name, ep.channel, ep.topics) == ("退款群", "wecom", ["refund.issued"])
    assert ep.url.endswith("key=new")
    row = _audit(shop, "notify.endpoint_edit")[0]
    assert row.target == "退款群" and set(row.data["changed"]) == {"name", "url", "topics"}
    assert "key=new" not in str(row.data)


def test_an_endpoint_for_every_topic_shows_all_boxes_ticked(c, shop):
    ep = _endpoint(shop, topics=[])
    edit = _text(c.get(f"{BASE}{ep.id}/"))
    for topic in ALL_TOPICS:
        box = re.search(rf'<input[^>]*value="{re.escape(topic)}"[^>]*>', edit).group(0)
        assert "checked" in box, topic


# --- delete -------------------------------------------------------------------------------
def test_delete_without_pending_messages_keeps_the_history(c, shop):
    ep = _endpoint(shop)
    delivered = _message(ep, status=MessageStatus.DELIVERED, attempts=1, last_error="")
    resp = c.post(f"{BASE}{ep.id}/delete/", follow=True)
    assert "已删除通知端点" in _text(resp)
    assert not Endpoint.objects.filter(pk=ep.pk).exists()
    delivered.refresh_from_db()
    assert delivered.endpoint_id is None and delivered.status == "delivered"
    row = _audit(shop, "notify.endpoint_delete")[0]
    assert row.data["dropped"] == 0 and row.target == "售后群"


def test_delete_with_pending_messages_is_refused_unless_they_go_to_the_dead_letters(c, shop):
    ep = _endpoint(shop)
    pending = [_message(ep, status=MessageStatus.PENDING, attempts=0) for _ in range(2)]
    listing = _text(c.get(BASE))
    assert 'data-testid="notify-drop-pending"' in listing
    resp = c.post(f"{BASE}{ep.id}/delete/", follow=True)
    assert "notify_endpoint_has_pending" in _codes(resp) and "2 条待发送消息" in _text(resp)
    assert Endpoint.objects.filter(pk=ep.pk).exists()
    assert not _audit(shop, "notify.endpoint_delete")
    resp = c.post(f"{BASE}{ep.id}/delete/", {"drop_pending": "1"}, follow=True)
    assert "2 条待发送消息已转入死信" in _text(resp)
    assert not Endpoint.objects.filter(pk=ep.pk).exists()
    for msg in pending:
        msg.refresh_from_db()
        assert msg.status == "dead" and msg.endpoint_id is None and "removed" in msg.last_error
    assert _audit(shop, "notify.endpoint_delete")[0].data["dropped"] == 2
    # The deliverer finds nothing to send for them.
    assert notify.deliver_all().claimed == 0
    dead = _text(c.get(f"{BASE}dead/"))
    assert "端点已删除" in dead and 'data-testid="notify-retry"' not in dead


# --- dead letters -------------------------------------------------------------------------
def test_retry_moves_one_dead_message_back_to_pending(c, shop):
    ep = _endpoint(shop)
    one, two = _message(ep), _message(ep, last_error="HTTP 500 to ops@example.com")
    page = _text(c.get(f"{BASE}dead/"))
    assert f'data-testid="notify-dead-{one.id}"' in page and "HTTP 500: down" in page
    assert "ops@example.com" not in page and "o***@example.com" in page
    resp = c.post(f"{BASE}dead/{one.id}/retry/", follow=True)
    assert "已重新排队 1 条" in _text(resp)
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, one.attempts) == ("pending", 0) and two.status == "dead"
    assert one.message_id == OutboxMessage.objects.get(pk=one.pk).message_id  # same id
    row = _audit(shop, "notify.retry_dead")[0]
    assert row.data == {"queued": 1, "left": 0, "ids": [one.id]}
    # Retrying it again: no longer a dead letter.
    assert c.post(f"{BASE}dead/{one.id}/retry/").status_code == 404


def test_retry_all_requeues_what_can_be_sent_and_says_what_was_left(c, shop):
    ep = _endpoint(shop)
    off = _endpoint(shop, name="停用的", active=False)
    sendable = [_message(ep) for _ in range(3)]
    stuck = _message(off)
    resp = c.post(f"{BASE}dead/retry/", follow=True)
    assert "已重新排队 3 条" in _text(resp) and "1 条未重试" in _text(resp)
    assert all(OutboxMessage.objects.get(pk=m.pk).status == MessageStatus.PENDING for m in sendable)
    assert OutboxMessage.objects.get(pk=stuck.pk).status == MessageStatus.DEAD
    row = _audit(shop, "notify.retry_dead")[0]
    assert row.target == "all" and (row.data["queued"], row.data["left"]) == (3, 1)


def test_the_list_counts_messages_per_endpoint(c, shop):
    ep = _endpoint(shop)
    _message(ep, status=MessageStatus.PENDING, attempts=0)
    _message(ep, status=MessageStatus.DELIVERED, attempts=1, last_error="")
    _message(ep)
    _message(ep)
    listing = _text(c.get(BASE))
    row = listing.split(f'data-testid="notify-endpoint-{ep.id}"', 1)[1].split("</tr>")[0]
    assert "1 / 1 / 2" in row
    assert "死信（2）" in listing


# --- the services themselves refuse the wrong actor ---------------------------------------
def test_the_services_refuse_other_roles_and_other_shops(shop, other_shop):
    from shouhou.core.errors import ShouhouError
    from tests.factories import staff_actor

    ep = _endpoint(shop)
    dead = _message(ep)
    agent = staff_actor(shop, "agent", make_staff(shop, "agent"))
    stranger = staff_actor(other_shop, "admin", make_staff(other_shop, "admin"))
    calls = [
        lambda a: notify.add_endpoint(
            shop, a, name="x", channel="wecom", url="https://a.example/", topics=ALL_TOPICS
        ),
        lambda a: notify.update_endpoint(
            shop, a, ep.id, name="x", url="https://a.example/", topics=ALL_TOPICS
        ),
        lambda a: notify.set_endpoint_active(shop, a, ep.id, False),
        lambda a: notify.delete_endpoint(shop, a, ep.id, drop_pending=True),
        lambda a: notify.send_test_message(shop, a, ep.id),
        lambda a: notify.retry_dead_letters(shop, a),
    ]
    for actor, code in ((agent, "permission_denied"), (stranger, "not_found")):
        for call in calls:
            with pytest.raises(ShouhouError) as err:
                call(actor)
            assert err.value.code == code
    ep.refresh_from_db()
    dead.refresh_from_db()
    assert (ep.name, ep.active, dead.status) == ("售后群", True, "dead")
    assert OutboxMessage.objects.count() == 1 and not AuditLog.objects.exists()
