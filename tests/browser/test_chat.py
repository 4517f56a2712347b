"""The chat as buyers and agents use it: a buyer on a phone (375 px) asks the assistant about
the order, is handed to a person, and reads the agent's reply by polling; the agent sees
the waiting buyer first, corrects an intent, inserts a canned reply and turns the
conversation into a case. Markup typed by a buyer stays text everywhere. A screenshot per
step under test-artifacts/screenshots/<test>/."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shouhou.assistant import chat, nlp, retrieval
from shouhou.assistant.models import AssistantCorrection, CannedReply, Conversation
from shouhou.cases.models import Case
from shouhou.core import clock
from shouhou.orders.models import Shipment, ShipmentDirection
from shouhou.portal.links import order_link
from tests.browser.conftest import login
from tests.factories import make_customer, make_order, make_staff

ODD = "你们老板是属什么的，我想跟他聊聊人生"


@pytest.fixture(autouse=True)
def _models_loaded(db, shop):
    """Load the models and the shop's FAQ index before the pages: the first message of a
    process otherwise waits seconds for them, longer than the page waits are meant for."""
    retrieval.install_default_faq(shop)
    nlp.intent("你好")
    nlp.sentiment("你好")
    retrieval.match(shop, "你好")


def via_link(page, order) -> None:
    page.goto(order_link(order))
    page.wait_for_url("**/portal/order/")


def open_chat(page) -> None:
    page.click("[data-testid=open-chat]")
    page.wait_for_url("**/portal/chat/")


def last_bubble(page, author: str):
    return page.locator(f"#chat-thread [data-author={author}]").last


def ask(page, text: str) -> None:
    """Type and send; wait until the buyer's own bubble with this text is on the page."""
    before = page.locator("#chat-thread [data-author=buyer]").count()
    page.fill("[data-testid=chat-text]", text)
    page.click("[data-testid=chat-send]")
    page.wait_for_function(
        "n => document.querySelectorAll('#chat-thread [data-author=buyer]').length > n", arg=before
    )
    page.wait_for_load_state("networkidle")


def test_buyer_asks_is_handed_over_and_the_agent_answers_and_opens_a_case(
    db, shop, open_page, shot
):
    agent = make_staff(shop, "agent", username="xiaowang")
    agent.display_name = "小王"
    agent.save()
    canned = CannedReply.objects.create(
        shop=shop, title="马上处理", body="{buyer}您好，订单 {order_no} 我这边马上为您处理。"
    )
    customer = make_customer(shop, nickname="小美", phone="13812345678")
    order = make_order(shop, customer, status="paid", lines=[(1, 8800), (2, 1500)])

    buyer = open_page(phone=True)
    via_link(buyer, order)
    open_chat(buyer)
    assert buyer.locator("[data-testid=chat-status]").inner_text() == "智能客服接待中"
    shot(buyer, "buyer-chat-start")

    # A chip asks the common question; the answer carries the order's own facts.
    buyer.click("[data-testid=chip-1]")
    buyer.wait_for_function(
        "() => document.querySelectorAll('#chat-thread [data-author=buyer]').length === 1"
    )
    buyer.wait_for_load_state("networkidle")
    answer = last_bubble(buyer, "assistant").inner_text()
    assert order.external_id in answer and "还未发货" in answer
    assert buyer.locator("[data-testid=chat-text]").input_value() == ""
    shot(buyer, "buyer-asked-when-it-ships")

    # Something the assistant cannot answer goes to a person.
    ask(buyer, ODD)
    buyer.wait_for_function(
        "() => document.querySelector('[data-testid=chat-status]').dataset.status === 'waiting'"
    )
    assert "正在为您转接人工客服" in buyer.locator("[data-testid=chat-status]").inner_text()
    assert "已为您转接人工客服" in last_bubble(buyer, "system").inner_text()
    shot(buyer, "buyer-handed-over")
    conversation = Conversation.objects.get(order=order)
    odd = conversation.messages.get(body=ODD)

    # The agent: the waiting buyer is at the top of the list, with the intent.
    desk = open_page()
    login(desk, "xiaowang")
    desk.wait_for_function(
        "() => (document.querySelector('[data-testid=nav-waiting-count]') || {}).textContent === '1'"
    )
    desk.click("[data-testid=nav-conversations]")
    desk.wait_for_url("**/wb/conversations/")
    first = desk.locator("[data-testid=conversation-table] tbody tr").first
    assert first.get_attribute("data-testid") == f"conv-row-{conversation.id}"
    assert first.get_attribute("data-status") == "waiting"
    assert desk.locator(f"[data-testid=intent-{conversation.id}]").inner_text() not in {"", "—"}
    assert "小美" in first.inner_text() and order.external_id in first.inner_text()
    shot(desk, "agent-list")

    desk.click(f"[data-testid=open-conv-{conversation.id}]")
    desk.wait_for_url(f"**/wb/conversations/{conversation.id}/")
    assert desk.locator("[data-testid=customer-phone]").inner_text() == "138****5678"
    assert desk.locator(f"[data-testid=reading-{odd.id}]").is_visible()
    shot(desk, "agent-conversation")

    # Correct what the assistant read in the odd message.
    desk.click(f"[data-testid=correct-{odd.id}] summary")
    desk.select_option(f"[data-testid=correct-intent-{odd.id}]", "other")
    desk.click(f"[data-testid=do-correct-intent-{odd.id}]")
    desk.wait_for_load_state("networkidle")
    assert desk.locator(f"[data-testid=intent-fixed-{odd.id}]").is_visible()
    assert AssistantCorrection.objects.filter(message=odd, corrected="other").count() == 1
    shot(desk, "agent-corrected-intent")

    # Insert the canned reply (variables filled from the order) and send it.
    desk.click(f"[data-testid=canned-{canned.id}]")
    filled = f"小美您好，订单 {order.external_id} 我这边马上为您处理。"
    assert desk.locator("[data-testid=reply-text]").input_value() == filled
    desk.click("[data-testid=reply-send]")
    desk.wait_for_load_state("networkidle")
    assert desk.locator("[data-testid=conversation-status]").get_attribute("data-status") == (
        "with_agent"
    )
    shot(desk, "agent-replied")

    # The buyer's page shows the reply by polling, and who is answering now.
    buyer.wait_for_function(
        "t => [...document.querySelectorAll('#chat-thread [data-author=agent]')]"
        ".some(b => b.textContent.includes(t))",
        arg=filled,
    )
    assert "客服 小王" in last_bubble(buyer, "agent").inner_text()
    assert buyer.locator("[data-testid=chat-status]").inner_text() == "客服 小王 为您服务"
    shot(buyer, "buyer-sees-the-reply")

    # The agent turns the conversation into a case, type and reason filled in.
    form = desk.locator("[data-testid=open-case]")
    suggested = chat.suggest_case(conversation.id)
    assert form.locator("[data-testid=case-type]").input_value() == suggested["case_type"]
    assert form.locator("[data-testid=case-reason]").input_value() == suggested["reason"]
    assert "什么时候发货" in form.locator("[data-testid=case-description]").input_value()
    assert form.locator("input[name=line]:checked").count() == 2
    # The agent settles on what fits an order that has not shipped.
    desk.select_option("[data-testid=case-type]", "refund_only")
    desk.select_option("[data-testid=case-reason]", "changed_mind_unshipped")
    shot(desk, "agent-case-form")
    desk.click("[data-testid=open-case-submit]")
    desk.wait_for_url("**/wb/cases/*/")
    case = Case.objects.get(order=order)
    assert desk.url.endswith(f"/wb/cases/{case.id}/")
    assert case.number in desk.locator("[data-testid=case-header]").inner_text()
    assert case.channel == "chat"
    shot(desk, "agent-case-opened")


def test_parcel_question_markup_as_text_a_person_on_request_and_english(db, shop, open_page, shot):
    make_staff(shop, "agent", username="xiaowang")
    order = make_order(shop, status="shipped")
    Shipment.objects.create(
        shop=shop,
        order=order,
        direction=ShipmentDirection.OUTBOUND,
        carrier="中通快递",
        tracking_no="ZT998877665544",
        shipped_at=clock.now() - timedelta(days=1),
    )
    buyer = open_page(phone=True)
    dialogs: list[str] = []
    buyer.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    via_link(buyer, order)
    open_chat(buyer)

    ask(buyer, "物流到哪了")
    answer = last_bubble(buyer, "assistant").inner_text()
    assert "中通快递" in answer and "ZT998877665544" in answer
    shot(buyer, "buyer-parcel")

    buyer.click("[data-testid=chat-human]")
    buyer.wait_for_function(
        "() => document.querySelector('[data-testid=chat-status]').dataset.status === 'waiting'"
    )
    assert "已为您转接人工客服" in last_bubble(buyer, "system").inner_text()
    shot(buyer, "buyer-asked-for-a-person")

    # Markup is text, and a long unbroken message wraps instead of scrolling sideways.
    ask(buyer, "<script>alert(1)</script>")
    mine = last_bubble(buyer, "buyer")
    assert mine.locator("[data-testid=msg-body]").inner_text() == "<script>alert(1)</script>"
    ask(buyer, "退款" + "啊" * 300 + "x" * 200)
    shot(buyer, "buyer-markup-and-long-text")
    assert dialogs == []

    desk = open_page()
    desk.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(desk, "xiaowang")
    conversation = Conversation.objects.get(order=order)
    desk.goto(f"/wb/conversations/{conversation.id}/")
    bodies = desk.locator("[data-testid=conversation-thread] [data-testid=msg-body]")
    assert "<script>alert(1)</script>" in bodies.all_inner_texts()
    shot(desk, "agent-sees-markup-as-text")
    assert dialogs == []

    # The agent's pages work at phone width too.
    phone_desk = open_page(phone=True)
    login(phone_desk, "xiaowang")
    phone_desk.goto("/wb/conversations/?view=waiting")
    assert phone_desk.locator(f"[data-testid=conv-row-{conversation.id}]").is_visible()
    shot(phone_desk, "agent-list-phone")
    phone_desk.goto(f"/wb/conversations/{conversation.id}/")
    shot(phone_desk, "agent-conversation-phone")

    buyer.click("[data-testid=lang-en]")
    buyer.wait_for_url("**/portal/chat/")
    assert buyer.locator("[data-testid=chip-2]").inner_text() == "Where is my parcel?"
    assert buyer.locator("[data-testid=chat-status]").inner_text().startswith("Connecting you")
    assert last_bubble(buyer, "buyer").locator(".who").inner_text().startswith("Me")
    shot(buyer, "buyer-english")
