"""The outbox posts to public addresses only (server-side request forgery guard), and never
follows a redirect. The suite allows private addresses for its 127.0.0.1 receivers; these
tests switch the guard back on."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shouhou.core.errors import ShouhouError
from shouhou.notify import netguard
from shouhou.notify import services as outbox
from shouhou.notify.models import MessageStatus, OutboxMessage
from tests.cases.support import Staff, open_case
from tests.factories import make_order

from .conftest import webhook
from .receiver import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def guarded(settings):
    settings.SHOUHOU_WEBHOOK_ALLOW_PRIVATE = False
    return settings


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.0.0.5/erp",
        "http://192.168.1.20/erp",
        "http://172.16.0.1/erp",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fd00::1]/hook",
    ],
)
def test_saving_a_private_or_local_address_is_refused(shop, guarded, url):
    staff = Staff.of(shop)
    with pytest.raises(ShouhouError) as err:
        outbox.add_endpoint(
            shop, staff.admin, name="内网", channel="webhook", topics=["case.opened"], url=url
        )
    assert err.value.code == "notify_url_private"


def test_a_public_address_is_accepted_when_saved(shop, guarded):
    staff = Staff.of(shop)
    endpoint, secret = outbox.add_endpoint(
        shop,
        staff.admin,
        name="ERP",
        channel="webhook",
        topics=["case.opened"],
        url="https://erp.example.com/hooks/shouhou",
    )
    assert endpoint.pk and secret


def test_the_operator_can_allow_private_addresses(shop, settings):
    settings.SHOUHOU_WEBHOOK_ALLOW_PRIVATE = True
    assert netguard.literal_refusal("10.0.0.5") is None
    settings.SHOUHOU_WEBHOOK_ALLOW_PRIVATE = False
    assert netguard.literal_refusal("10.0.0.5") == "10.0.0.5"


def test_delivery_to_an_address_that_turned_private_fails_and_sends_nothing(
    shop, receiver, guarded
):
    # Saved while allowed (or a name that resolves to a private address later): the
    # deliverer checks again after resolving, and the receiver hears nothing.
    webhook(shop, receiver)
    open_case(shop, make_order(shop), "refund_only")
    result = outbox.deliver_all()
    assert (result.delivered, result.failed) == (0, 1)
    assert receiver.arrivals == []
    msg = OutboxMessage.objects.get(shop=shop)
    assert msg.status == MessageStatus.PENDING and "127.0.0.1" in msg.last_error


def test_a_redirect_is_not_followed(shop, receiver):
    # A receiver that answers 307 to another address: the deliverer must not re-post the
    # signed body there (a redirect is how a public URL would reach an internal one).
    port = free_port()
    target = f"http://127.0.0.1:{receiver.port}/elsewhere"

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        webhook(shop, receiver, url=f"http://127.0.0.1:{port}/hook")
        open_case(shop, make_order(shop), "refund_only")
        result = outbox.deliver_all()
    finally:
        server.shutdown()
        server.server_close()
    assert (result.delivered, result.failed) == (0, 1)
    assert receiver.arrivals == []
    assert "307" in OutboxMessage.objects.get(shop=shop).last_error
