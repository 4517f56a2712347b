"""One send has one time budget in total (notify/channels.py `_post`).

urllib's timeout is per socket operation: a receiver that drips a byte well inside it, over
and over, used to hold the delivery (and the huey worker) for as long as it liked. These
receivers drip for up to DRIP_FOR seconds — far beyond SHOUHOU_OUTBOX_TIMEOUT — and the
send must give up with a timeout error, not wait for them to stop.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from shouhou.notify import channels
from shouhou.notify import services as outbox
from shouhou.notify.models import Channel, Endpoint, MessageStatus, OutboxMessage
from tests.cases.support import open_case
from tests.factories import make_order

pytestmark = pytest.mark.django_db

DRIP_EVERY = 0.1  # seconds between bytes: far inside the per-operation timeout
DRIP_FOR = 15.0  # how long a dripper keeps at it before giving up


class Dripper:
    """A raw TCP receiver that reads the request and then answers one byte at a time."""

    def __init__(self, head: bytes, drip: bytes) -> None:
        self.head, self.drip = head, drip
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.connections = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1)
            try:
                conn.recv(65536)  # the request (small enough for one read)
                conn.sendall(self.head)
                until = time.monotonic() + DRIP_FOR
                while time.monotonic() < until and not self.stopped.is_set():
                    conn.sendall(self.drip)
                    time.sleep(DRIP_EVERY)
            except OSError:
                return  # the client hung up: what a deadline looks like from here

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


@pytest.fixture
def short_budget(settings):
    settings.SHOUHOU_OUTBOX_TIMEOUT = 1
    return settings


@pytest.fixture
def dripping_headers():
    d = Dripper(b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a")
    yield d
    d.close()


@pytest.fixture
def dripping_body():
    d = Dripper(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", b" ")
    yield d
    d.close()


def send(url: str) -> channels.DeliveryError:
    env = channels.Envelope(
        message_id="m-1", topic="case.opened", shop_code="demo", created_at="2024-01-01", data={}
    )
    with pytest.raises(channels.DeliveryError) as caught:
        channels.send_webhook(url, "secret", env)
    return caught.value


def test_a_receiver_dripping_its_headers_is_given_up_on(short_budget, dripping_headers):
    error = send(dripping_headers.url)
    assert "超时" in str(error) and "1 s" in str(error)


def test_a_receiver_dripping_its_body_is_given_up_on(short_budget, dripping_body):
    error = send(dripping_body.url)
    assert "超时" in str(error)


def test_a_dripping_receiver_is_a_retry_not_a_stuck_worker(shop, short_budget, dripping_body):
    """Through the outbox: the message is failed with the timeout and backed off, so the
    deliverer moves on to the next one instead of sitting on this one past its lease."""
    Endpoint.objects.create(
        shop=shop, name="慢 ERP", channel=Channel.WEBHOOK, url=dripping_body.url, secret="s"
    )
    open_case(shop, make_order(shop), "refund_only")
    result = outbox.deliver_all(max_batches=1)
    assert (result.delivered, result.failed) == (0, 1)
    msg = OutboxMessage.objects.get(shop=shop)
    assert msg.status == MessageStatus.PENDING and msg.attempts == 1
    assert "超时" in msg.last_error


def test_a_prompt_receiver_is_unaffected(shop, short_budget, receiver):
    """The budget covers slow answers only: a normal receiver's answer is read whole."""
    receiver.reply = b'{"ok": true, "pad": "' + b"x" * 20000 + b'"}'
    receiver.require_signature = False
    status, answer = channels._post(receiver.url, b"{}", {"Content-Type": "application/json"})
    assert status == 200 and answer == receiver.reply
