"""The Content-Security-Policy holds on the pages people use, with no 'unsafe-eval': nothing
is refused by the policy, and the chat and conversation pollers still send the id of the
last message shown (added in app.js now that hx-vals="js:…" is gone)."""

from __future__ import annotations

import re

import pytest

from shouhou.assistant import nlp, retrieval
from shouhou.assistant.models import Conversation
from shouhou.portal.links import order_link
from tests.browser.conftest import login
from tests.factories import make_customer, make_order, make_staff

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def watched(open_page, **kw):
    page = open_page(**kw)
    page.add_init_script(WATCH)
    page.console_csp = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda m: "Content Security Policy" in m.text and page.console_csp.append(m.text),
    )
    return page


def violations(page) -> list[str]:
    return list(page.evaluate("window.__csp || []")) + list(page.console_csp)


@pytest.fixture(autouse=True)
def _models_loaded(db, shop):
    retrieval.install_default_faq(shop)
    nlp.intent("你好")
    nlp.sentiment("你好")


def test_the_policy_forbids_eval_and_the_pollers_still_send_their_position(db, shop, open_page):
    make_staff(shop, "agent", username="xiaowang")
    customer = make_customer(shop, nickname="小美", phone="13812345678")
    order = make_order(shop, customer, status="paid", lines=[(1, 8800)])

    buyer = watched(open_page, phone=True)
    buyer.goto(order_link(order))
    buyer.wait_for_url("**/portal/order/")
    header = buyer.evaluate(
        "fetch(location.href).then(r => r.headers.get('content-security-policy'))"
    )
    assert "script-src" in header and "unsafe-eval" not in header
    buyer.click("[data-testid=open-chat]")
    buyer.wait_for_url("**/portal/chat/")
    buyer.fill("[data-testid=chat-text]", "什么时候发货")
    with buyer.expect_response(lambda r: "/portal/chat/send/" in r.url) as sent:
        buyer.click("[data-testid=chat-send]")
    body = sent.value.request.post_data or ""
    buyer.wait_for_load_state("networkidle")
    assert "after=" in body and "conv=" in body

    conversation = Conversation.objects.get(order=order)
    last_id = conversation.messages.order_by("-id").values_list("id", flat=True).first()
    # The poller asks for what came after the last bubble on the page, in this conversation.
    with buyer.expect_request(lambda r: "/portal/chat/messages/" in r.url, timeout=10_000) as poll:
        pass
    url = poll.value.url
    assert re.search(rf"[?&]after={last_id}(&|$)", url), url
    assert f"conv={conversation.id}" in url
    assert violations(buyer) == [] and buyer.shouhou_errors == []

    desk = watched(open_page)
    login(desk, "xiaowang")
    desk.goto(f"/wb/conversations/{conversation.id}/")
    with desk.expect_request(lambda r: "/messages/" in r.url, timeout=10_000) as poll:
        pass
    assert re.search(rf"[?&]after={last_id}(&|$)", poll.value.url), poll.value.url
    for path in ("/wb/", "/wb/conversations/"):
        desk.goto(path)
        desk.wait_for_load_state("networkidle")
    assert violations(desk) == [] and desk.shouhou_errors == []
