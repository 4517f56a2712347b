"""The transactional outbox (PRODUCT.md §6): what the case engine announces, and how it
reaches a real receiver — signed, at least once, with backoff and dead letters."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from shouhou.cases import deadlines, services
from shouhou.cases.models import RefundInstruction
from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.notify import channels
from shouhou.notify import services as outbox
from shouhou.notify.models import Endpoint, MessageStatus, OutboxMessage
from tests.cases.support import Staff, open_case
from tests.factories import buyer, make_order

from .conftest import webhook
from .receiver import Receiver, free_port

pytestmark = pytest.mark.django_db


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def topics(shop) -> list[str]:
    return list(
        OutboxMessage.objects.filter(shop=shop).order_by("id").values_list("topic", flat=True)
    )


# --- what gets announced ------------------------------------------------------------------
def test_case_actions_enqueue_in_their_own_transaction(shop, receiver):
    webhook(shop, receiver)
    staff = Staff.of(shop)
    case = open_case(shop, make_order(shop), "refund_only")
    services.agree(case.id, staff.agent)  # refund only: agree issues the refund
    refund = RefundInstruction.objects.get(case=case)

    assert topics(shop) == ["case.opened", "case.status_changed", "refund.issued"]
    issued = OutboxMessage.objects.get(shop=shop, topic="refund.issued")
    assert issued.dedupe_key == refund.reference
    assert issued.payload == {
        "case_id": case.id,
        "case_number": case.number,
        "reference": refund.reference,
        "amount_fen": refund.amount_fen,
    }
    changed = OutboxMessage.objects.get(shop=shop, topic="case.status_changed")
    assert changed.payload["from_status"] == "awaiting_merchant"
    assert changed.payload["to_status"] == "refunding"
    assert changed.dedupe_key == f"case:{case.id}:v{changed.payload['version']}"


def test_a_rolled_back_action_sends_nothing(shop, receiver):
    webhook(shop, receiver)
    order = make_order(shop)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        open_case(shop, order, "refund_only")
        assert OutboxMessage.objects.filter(shop=shop).count() == 1  # written, not committed
        raise Boom
    assert OutboxMessage.objects.filter(shop=shop).count() == 0

    case = open_case(shop, order, "refund_only")
    before = topics(shop)
    with pytest.raises(ShouhouError):  # the buyer may not agree: refused, nothing announced
        services.agree(case.id, buyer(order))
    assert topics(shop) == before
    assert outbox.deliver_all().delivered == 1
    assert len(receiver.effects) == 1


def test_topics_filter_inactive_endpoints_and_dedupe(shop, receiver):
    refunds_only = webhook(shop, receiver, name="财务", topics=["refund.issued"])
    webhook(shop, receiver, name="停用", active=False)
    assert outbox.enqueue(shop.id, "case.opened", {"x": 1}, dedupe_key="k1") == 0
    outbox.enqueue(shop.id, "refund.issued", {"x": 1}, dedupe_key="RF1")
    outbox.enqueue(shop.id, "refund.issued", {"x": 2}, dedupe_key="RF1")  # a repeat: dropped
    rows = list(OutboxMessage.objects.filter(shop=shop))
    assert [(m.endpoint_id, m.topic, m.payload) for m in rows] == [
        (refunds_only.id, "refund.issued", {"x": 1})
    ]


def test_other_shops_endpoints_hear_nothing(shop, other_shop, receiver):
    webhook(other_shop, receiver)
    open_case(shop, make_order(shop), "refund_only")
    assert OutboxMessage.objects.count() == 0


def test_the_batched_deadline_sweep_announces_its_refunds(shop, receiver):
    webhook(shop, receiver)
    cases = [open_case(shop, make_order(shop), "refund_only") for _ in range(3)]
    clock.move_to(clock.now() + timedelta(hours=80))
    result = deadlines.sweep(batch_size=10)
    assert result.applied == 3 and result.per_case == 0  # the batch path, not the fallback
    for case in cases:
        refund = RefundInstruction.objects.get(case=case)
        msg = OutboxMessage.objects.get(shop=shop, topic="refund.issued", payload__case_id=case.id)
        assert msg.dedupe_key == refund.reference
        assert msg.payload["amount_fen"] == refund.amount_fen
        changed = OutboxMessage.objects.filter(
            shop=shop, topic="case.status_changed", payload__case_id=case.id
        )
        case.refresh_from_db()
        assert [m.payload["version"] for m in changed] == [case.version]
        assert changed[0].payload["action"] == "agree"


# --- delivery -----------------------------------------------------------------------------
def test_signed_webhook_reaches_a_real_receiver(shop, receiver):
    webhook(shop, receiver)
    open_case(shop, make_order(shop), "refund_only")
    msg = OutboxMessage.objects.get(shop=shop)
    result = outbox.deliver_all()
    assert (result.delivered, result.failed) == (1, 0)

    [arrival] = receiver.arrivals
    assert arrival.signature_ok, "the receiver verified the HMAC with the shared secret"
    assert arrival.message_id == str(msg.message_id)
    assert arrival.headers[channels.MESSAGE_ID_HEADER] == str(msg.message_id)
    assert arrival.headers[channels.TOPIC_HEADER] == "case.opened"
    body = arrival.json
    assert body["id"] == str(msg.message_id) and body["topic"] == "case.opened"
    assert body["shop"] == shop.code and body["data"] == msg.payload
    msg.refresh_from_db()
    assert msg.status == MessageStatus.DELIVERED and msg.attempts == 1
    assert msg.claim_token is None and msg.delivered_at is not None
    assert outbox.deliver_all().claimed == 0  # delivered once, not again


def test_signature_check_refuses_tampering_and_stale_timestamps():
    body = b'{"a":1}'
    ts = int(time.time())
    sig = channels.sign("s3cret", ts, body)
    expected = hmac.new(b"s3cret", f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    assert sig == f"v1={expected}"
    assert channels.verify_signature("s3cret", body, str(ts), sig)
    assert not channels.verify_signature("s3cret", b'{"a":2}', str(ts), sig)
    assert not channels.verify_signature("other", body, str(ts), sig)
    assert not channels.verify_signature(
        "s3cret", body, str(ts - 3600), channels.sign("s3cret", ts - 3600, body)
    )
    assert not channels.verify_signature("s3cret", body, None, sig)
    assert not channels.verify_signature("s3cret", body, "soon", sig)


def test_a_receiver_down_then_up_loses_nothing(shop, fast_outbox):
    receiver = Receiver()  # not started: its port refuses connections
    webhook(shop, receiver)
    for _ in range(3):
        open_case(shop, make_order(shop), "refund_only")
    first = outbox.deliver_all()
    assert (first.delivered, first.failed, first.dead) == (0, 3, 0)
    for msg in OutboxMessage.objects.filter(shop=shop):
        assert msg.status == MessageStatus.PENDING and msg.attempts == 1
        assert "连接失败" in msg.last_error
        # Backed off: not due again before half the first delay, nor after all of it.
        wait = (msg.next_attempt_at - msg.updated_at).total_seconds()
        assert 5 <= wait <= 10
    assert outbox.deliver_all().claimed == 0  # nothing is due yet

    with receiver:
        result = outbox.deliver_due(now=later(11))
        assert (result.delivered, result.failed) == (3, 0)
        assert len(receiver.effects) == 3
    ids = {str(m) for m in OutboxMessage.objects.values_list("message_id", flat=True)}
    assert set(receiver.effects) == ids
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"delivered"}


def test_backoff_is_exponential_capped_and_jittered(fast_outbox):
    for attempts, full in [(1, 10), (2, 20), (3, 40), (4, 80), (8, 600), (30, 600)]:
        waits = [outbox.backoff(attempts).total_seconds() for _ in range(50)]
        assert all(full / 2 <= w <= full for w in waits), (attempts, waits)
        assert len(set(waits)) > 1, "jittered"


def test_failing_receiver_goes_to_dead_letters_and_can_be_retried(shop, receiver, fast_outbox):
    receiver.status = 500
    webhook(shop, receiver)
    outbox.enqueue(shop.id, "refund.issued", {"reference": "RF1"}, dedupe_key="RF1")
    at = timezone.now()
    for attempt in range(1, 5):
        result = outbox.deliver_due(now=at)
        assert result.claimed == 1
        msg = OutboxMessage.objects.get()
        assert msg.attempts == attempt and "HTTP 500" in msg.last_error
        at = msg.next_attempt_at + timedelta(seconds=1)
    assert msg.status == MessageStatus.DEAD and result.dead == 1
    assert outbox.deliver_due(now=later(10**6)).claimed == 0  # the dead stay dead
    assert outbox.summary()["dead"] == 1

    receiver.status = 200
    assert outbox.retry_dead(shop_id=shop.id) == 1
    assert outbox.deliver_all().delivered == 1
    msg.refresh_from_db()
    assert msg.status == MessageStatus.DELIVERED
    # Every attempt carried the same message id: one effect at the receiver.
    assert len(receiver.arrivals) == 5 and len(receiver.effects) == 1


def test_an_expired_lease_makes_the_row_due_again_with_the_same_id(shop, receiver, fast_outbox):
    webhook(shop, receiver)
    outbox.enqueue(shop.id, "refund.issued", {"reference": "RF2"}, dedupe_key="RF2")
    dead_token, ids = outbox.claim_due(10)  # a deliverer that then dies before sending
    assert len(ids) == 1
    assert outbox.deliver_all().claimed == 0, "leased: nobody else takes it meanwhile"

    result = outbox.deliver_due(now=later(61))  # the lease is over
    assert result.delivered == 1
    msg = OutboxMessage.objects.get()
    assert msg.attempts == 2 and receiver.ids() == [str(msg.message_id)]
    # The dead deliverer's late write (its token) changes nothing.
    assert OutboxMessage.objects.filter(claim_token=dead_token).count() == 0


def test_a_slow_deliverer_that_lost_its_lease_does_not_overwrite(shop, receiver, fast_outbox):
    webhook(shop, receiver)
    outbox.enqueue(shop.id, "case.opened", {"case_id": 1}, dedupe_key="case:1")
    token, _ = outbox.claim_due(10)
    outbox.claim_due(10, now=later(61))  # another deliverer took it after the lease ran out
    msg = OutboxMessage.objects.get()
    outbox._failed(msg, token, "late failure", outbox.DeliveryResult())
    msg.refresh_from_db()
    assert msg.claim_token is not None and msg.last_error == ""  # untouched


def test_a_removed_endpoint_sends_its_messages_to_the_dead_letters(shop, receiver, fast_outbox):
    ep = webhook(shop, receiver)
    outbox.enqueue(shop.id, "case.opened", {"case_id": 1}, dedupe_key="case:1")
    ep.delete()
    at = timezone.now()
    for _ in range(4):
        outbox.deliver_due(now=at)
        at = later(10**5)
    msg = OutboxMessage.objects.get()
    assert msg.status == MessageStatus.DEAD and "删除" in msg.last_error


def test_outbox_commands(shop, receiver, capsys):
    webhook(shop, receiver)
    outbox.enqueue(shop.id, "case.opened", {"case_id": 1}, dedupe_key="case:1")
    call_command("outbox", "status")
    assert "1" in capsys.readouterr().out
    call_command("outbox", "deliver", "--once")
    assert "delivered 1" in capsys.readouterr().out
    assert len(receiver.effects) == 1


# --- e-mail -------------------------------------------------------------------------------
def test_email_through_a_real_smtp_server(shop, settings):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Collect(Message):
        def handle_message(self, message):
            received.append(message)

    port = free_port()
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.SHOUHOU_SMTP_URL = f"smtp://127.0.0.1:{port}"
        Endpoint.objects.create(
            shop=shop, name="售后组", channel="email", recipients="a@shop.cn; b@shop.cn"
        )
        case = open_case(shop, make_order(shop), "refund_only")
        services.agree(case.id, Staff.of(shop).agent)
        result = outbox.deliver_all()
        assert result.delivered == 3 and result.failed == 0
    finally:
        controller.stop()
    by_topic = {m["X-Shouhou-Topic"]: m for m in received}
    assert set(by_topic) == {"case.opened", "case.status_changed", "refund.issued"}
    mail = by_topic["refund.issued"]
    msg = OutboxMessage.objects.get(topic="refund.issued")
    assert mail["Message-ID"] == f"<{msg.message_id}@shouhou>"
    assert mail["To"] == "a@shop.cn, b@shop.cn"
    from email.header import decode_header, make_header

    assert "退款指令已发出" in str(make_header(decode_header(mail["Subject"])))
    body = mail.get_payload(decode=True).decode()
    assert msg.payload["reference"] in body


def test_email_without_a_server_is_retried(shop, settings, fast_outbox):
    settings.SHOUHOU_SMTP_URL = f"smtp://127.0.0.1:{free_port()}"
    Endpoint.objects.create(shop=shop, name="售后组", channel="email", recipients="a@shop.cn")
    outbox.enqueue(shop.id, "case.opened", {"case_id": 1}, dedupe_key="case:1")
    assert outbox.deliver_all().failed == 1
    assert "SMTP" in OutboxMessage.objects.get().last_error


# --- group robots -------------------------------------------------------------------------
def test_wecom_robot_markdown_payload(shop, receiver):
    receiver.require_signature = False
    receiver.reply = b'{"errcode":0,"errmsg":"ok"}'
    Endpoint.objects.create(
        shop=shop, name="企业微信群", channel="wecom", url=receiver.url + "?key=abc-123"
    )
    outbox.enqueue(
        shop.id,
        "refund.issued",
        {"case_number": "S1", "reference": "RF9", "amount_fen": 12345},
        dedupe_key="RF9",
    )
    assert outbox.deliver_all().delivered == 1
    [arrival] = receiver.arrivals
    assert arrival.path.endswith("?key=abc-123")
    body = arrival.json
    # https://developer.work.weixin.qq.com/document/path/91770 — markdown message
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"content"}
    assert "RF9" in body["markdown"]["content"] and "123.45 元" in body["markdown"]["content"]


def test_robot_refusal_is_a_failure(shop, receiver, fast_outbox):
    receiver.require_signature = False
    receiver.reply = b'{"errcode":93000,"errmsg":"invalid webhook url"}'
    Endpoint.objects.create(shop=shop, name="群", channel="wecom", url=receiver.url)
    outbox.enqueue(shop.id, "case.opened", {"case_id": 1}, dedupe_key="case:1")
    assert outbox.deliver_all().failed == 1
    assert "93000" in OutboxMessage.objects.get().last_error


def test_dingtalk_robot_signed_url_and_markdown(shop, receiver):
    import base64
    from urllib.parse import parse_qs, urlparse

    receiver.require_signature = False
    receiver.reply = b'{"errcode":0,"errmsg":"ok"}'
    secret = "SEC0123456789abcdef"
    Endpoint.objects.create(
        shop=shop,
        name="钉钉群",
        channel="dingtalk",
        url=receiver.url + "?access_token=tok",
        secret=secret,
    )
    outbox.enqueue(shop.id, "case.opened", {"case_number": "S2"}, dedupe_key="case:2")
    assert outbox.deliver_all().delivered == 1
    [arrival] = receiver.arrivals
    query = parse_qs(urlparse(arrival.path).query)
    assert query["access_token"] == ["tok"]
    # https://open.dingtalk.com/document/robots/customize-robot-security-settings
    ts = query["timestamp"][0]
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected]  # parse_qs undid the URL encoding
    assert abs(int(ts) / 1000 - time.time()) < 3600
    body = arrival.json
    assert body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"title", "text"} and "S2" in body["markdown"]["text"]


# --- concurrency (PostgreSQL) -------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deliverers_deliver_each_message_once(shop, receiver):
    import threading

    assert connection.vendor == "postgresql"
    webhook(shop, receiver)
    for i in range(60):
        outbox.enqueue(shop.id, "refund.issued", {"i": i}, dedupe_key=f"RF{i}")
    barrier = threading.Barrier(2)
    delivered = [0, 0]
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            while True:
                r = outbox.deliver_due(batch=3)
                delivered[n] += r.delivered
                if r.claimed == 0:
                    break
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()
    assert not errors, errors
    assert sum(delivered) == 60 and all(delivered), delivered  # both worked, none twice
    ids = receiver.ids()
    assert len(ids) == 60 and len(set(ids)) == 60
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"delivered"}
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}
