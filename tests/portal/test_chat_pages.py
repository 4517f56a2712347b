"""The buyer's chat pages (/portal/chat/…) through the Django client: the page, sending with
and without htmx, a resend landing once, 转人工, polling, the end of a conversation, bad
input refused with nothing stored, markup shown as text, and no other buyer's messages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from shouhou.assistant import chat
from shouhou.assistant.models import Conversation, ConversationStatus, Message, MessageAuthor
from shouhou.core import clock
from shouhou.orders.models import Shipment, ShipmentDirection
from tests.factories import make_customer, make_order, make_staff, staff_actor
from tests.portal.support import enter, open_for

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def paid(shop, customer=None):
    return make_order(shop, customer or make_customer(shop), status="paid")


def shipped(shop, carrier="顺丰速运", tracking="SF1234567890"):
    order = make_order(shop, status="shipped")
    Shipment.objects.create(
        shop=shop,
        order=order,
        direction=ShipmentDirection.OUTBOUND,
        carrier=carrier,
        tracking_no=tracking,
        shipped_at=clock.now() - timedelta(days=1),
    )
    return order


def token_of(html: str) -> str:
    found = re.search(r'name="client_token" id="chat-token" value="([^"]+)"', html)
    assert found, "the page carries a client token"
    return found.group(1)


def page(client) -> str:
    response = client.get("/portal/chat/")
    assert response.status_code == 200
    return response.content.decode()


def send(client, text, *, token=None, htmx=False, **extra):
    data = {"text": text, "client_token": token or token_of(page(client)), **extra}
    return client.post("/portal/chat/send/", data, **(HX if htmx else {}))


def bodies(order) -> list[tuple[str, str]]:
    return list(
        Message.objects.filter(conversation__order=order)
        .order_by("id")
        .values_list("author_kind", "body")
    )


# --- reaching the chat --------------------------------------------------------------------
def test_without_an_order_in_the_session_every_chat_url_goes_to_the_lookup(client, shop):
    for method, url in (
        ("get", "/portal/chat/"),
        ("get", "/portal/chat/messages/"),
        ("post", "/portal/chat/send/"),
        ("post", "/portal/chat/human/"),
    ):
        response = getattr(client, method)(url, {"text": "你好"} if method == "post" else {})
        assert response.status_code == 302 and response.url == "/portal/", url
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_the_order_and_case_pages_link_to_the_chat(client, shop):
    order = make_order(shop)
    case = open_for(order)
    enter(client, order)
    for url in ("/portal/order/", f"/portal/case/{case.id}/"):
        html = client.get(url).content.decode()
        assert 'href="/portal/chat/" data-testid="open-chat"' in html, url


def test_the_page_greets_and_starts_nothing_until_the_buyer_writes(client, shop):
    order = paid(shop)
    enter(client, order)
    html = page(client)
    assert 'data-testid="chat-welcome"' in html
    assert "智能客服接待中" in html
    for chip in ("什么时候发货", "物流到哪了", "怎么退货", "运费谁出", "开发票"):
        assert f'value="{chip}"' in html
    assert 'hx-trigger="every 3s"' in html
    assert token_of(html) != token_of(page(client))  # a fresh token per render
    assert not Conversation.objects.exists()


def test_get_only_pages_and_post_only_actions(client, shop):
    enter(client, paid(shop))
    assert client.post("/portal/chat/", {}).status_code == 405
    assert client.get("/portal/chat/send/").status_code == 405
    assert client.get("/portal/chat/human/").status_code == 405


# --- sending ------------------------------------------------------------------------------
def test_send_without_javascript_redirects_back_and_shows_the_answer(client, shop):
    order = paid(shop)
    enter(client, order)
    response = send(client, "什么时候发货")
    assert response.status_code == 302 and response.url == "/portal/chat/#chat-compose"
    said = bodies(order)
    assert [k for k, _ in said] == ["assistant", "buyer", "assistant"]  # welcome, ask, answer
    answer = said[2][1]
    assert order.external_id in answer and "还未发货" in answer
    html = page(client)
    assert "什么时候发货" in html and answer.split("。")[0] in html
    assert 'data-testid="chat-welcome"' not in html  # the conversation's own welcome now


def test_where_is_my_parcel_answers_with_carrier_and_tracking(client, shop):
    order = shipped(shop, carrier="中通快递", tracking="ZT998877665544")
    enter(client, order)
    html = send(client, "物流到哪了", htmx=True).content.decode()
    assert "中通快递" in html and "ZT998877665544" in html


def test_a_chip_sends_its_question(client, shop):
    order = paid(shop)
    enter(client, order)
    token = token_of(page(client))
    client.post("/portal/chat/send/", {"quick": "什么时候发货", "text": "", "client_token": token})
    assert ("buyer", "什么时候发货") in bodies(order)


def test_htmx_send_answers_with_the_new_messages_status_and_a_fresh_token(client, shop):
    order = paid(shop)
    enter(client, order)
    token = token_of(page(client))
    response = send(client, "什么时候发货", token=token, htmx=True, after="0")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "chat-sent"
    html = response.content.decode()
    assert html.count('class="bubble ') == len(bodies(order)) >= 3
    assert 'id="chat-status"' in html and 'hx-swap-oob="true"' in html
    fresh = re.search(r'id="chat-token" value="([^"]+)"', html).group(1)
    assert fresh != token
    assert 'id="chat-welcome" hx-swap-oob="delete"' in html
    # Only what is newer than the page's last message comes back the next time.
    last = Message.objects.filter(conversation__order=order).order_by("-id").first()
    again = send(client, "物流到哪了", token=fresh, htmx=True, after=str(last.id))
    assert f'data-id="{last.id}"' not in again.content.decode()
    assert "物流到哪了" in again.content.decode()


def test_a_resent_message_lands_once(client, shop):
    order = paid(shop)
    enter(client, order)
    token = token_of(page(client))
    send(client, "什么时候发货", token=token)
    first = bodies(order)
    send(client, "什么时候发货", token=token)
    send(client, "什么时候发货", token=token, htmx=True)
    assert bodies(order) == first
    assert [b for k, b in first if k == "buyer"] == ["什么时候发货"]


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", "好" * 2001],
    ids=["empty", "whitespace", "too-long"],
)
def test_bad_messages_are_refused_and_nothing_is_stored(client, shop, text):
    order = paid(shop)
    enter(client, order)
    response = send(client, text)
    assert response.status_code == 302
    html = page(client)
    assert 'data-code="validation_error"' in html
    assert not Conversation.objects.exists() and not Message.objects.exists()
    hx = send(client, text, htmx=True)
    assert hx.status_code == 200 and "HX-Trigger" not in hx
    assert 'data-code="validation_error"' in hx.content.decode()
    assert not Message.objects.exists()


def test_a_malformed_client_token_is_refused(client, shop):
    enter(client, paid(shop))
    response = send(client, "你好", token="<bad token>", htmx=True)
    html = response.content.decode()
    assert 'data-code="validation_error"' in html
    assert not Message.objects.filter(author_kind=MessageAuthor.BUYER).exists()
    # Refused before the conversation opens, and the page gets a fresh token to send with.
    assert not Conversation.objects.exists()
    assert token_of(html) != "<bad token>"


def test_a_reused_token_with_other_text_is_refused_and_the_page_gets_a_new_one(client, shop):
    enter(client, paid(shop))
    token = token_of(page(client))
    send(client, "什么时候发货", token=token, htmx=True)
    response = send(client, "我要退款", token=token, htmx=True)
    html = response.content.decode()
    assert 'data-code="validation_error"' in html
    assert token_of(html) != token
    assert [
        b
        for k, b in Message.objects.filter(author_kind=MessageAuthor.BUYER).values_list(
            "author_kind", "body"
        )
    ] == ["什么时候发货"]


def test_markup_is_shown_as_text(client, shop):
    order = paid(shop)
    enter(client, order)
    send(client, "<script>alert(1)</script><b>粗体</b>")
    html = page(client)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;粗体&lt;/b&gt;" in html
    assert "<script>alert(1)" not in html and "<b>粗体" not in html
    hx = client.get("/portal/chat/messages/", {"after": 0}, **HX).content.decode()
    assert "&lt;script&gt;alert(1)" in hx and "<script>alert(1)" not in hx


# --- who answers --------------------------------------------------------------------------
def test_talk_to_a_person_hands_over_and_the_status_says_so(client, shop):
    order = paid(shop)
    enter(client, order)
    response = client.post("/portal/chat/human/", {"after": 0}, **HX)
    html = response.content.decode()
    conversation = Conversation.objects.get(order=order)
    assert conversation.status == ConversationStatus.WAITING
    assert "正在为您转接人工客服" in html and "已为您转接人工客服" in html
    assert client.post("/portal/chat/human/").status_code == 302  # twice is harmless
    assert "正在为您转接人工客服" in page(client)


def test_the_poll_brings_the_agents_reply_and_name(client, shop):
    order = paid(shop)
    member = make_staff(shop, "agent", username="xiaowang")
    member.display_name = "小王"
    member.save()
    enter(client, order)
    client.post("/portal/chat/human/")
    conversation = Conversation.objects.get(order=order)
    last = Message.objects.filter(conversation=conversation).order_by("-id").first()
    nothing_new = client.get("/portal/chat/messages/", {"after": last.id}, **HX)
    assert 'class="bubble ' not in nothing_new.content.decode()
    chat.agent_says(conversation.id, staff_actor(shop, "agent", member), "您好，我是小王")
    html = client.get("/portal/chat/messages/", {"after": last.id}, **HX).content.decode()
    assert "您好，我是小王" in html and "客服 小王" in html
    assert "客服 小王 为您服务" in html  # the status, out of band
    assert 'id="chat-poller"' not in html  # still polling: the poller is left alone


def test_a_closed_conversation_shows_its_notice_and_stops_the_poll(client, shop):
    order = paid(shop)
    enter(client, order)
    client.post("/portal/chat/human/")
    conversation = Conversation.objects.get(order=order)
    last = Message.objects.filter(conversation=conversation).order_by("-id").first()
    chat.close(conversation.id, staff_actor(shop, "agent"))
    html = client.get(
        "/portal/chat/messages/", {"after": last.id, "conv": conversation.id}, **HX
    ).content.decode()
    assert chat.CLOSED_NOTICE in html and "会话已结束" in html
    assert 'data-polling="0"' in html
    # A new message starts a new conversation about the same order.
    send(client, "你好")
    assert Conversation.objects.filter(order=order).count() == 2


def test_another_buyers_conversation_never_shows(client, shop):
    customer = make_customer(shop)
    mine, theirs = paid(shop, customer), paid(shop)
    other = chat.open_conversation(shop, theirs.customer, order=theirs)
    chat.agent_says(other.id, staff_actor(shop, "agent"), "给别人的回复 SECRET")
    same_buyer_other_order = paid(shop, customer)
    own_elsewhere = chat.open_conversation(shop, customer, order=same_buyer_other_order)
    chat.agent_says(own_elsewhere.id, staff_actor(shop, "agent"), "另一订单 ELSEWHERE")
    enter(client, mine)
    assert "SECRET" not in page(client) and "ELSEWHERE" not in page(client)
    for conv in (other.id, own_elsewhere.id, 10**17):
        html = client.get(
            "/portal/chat/messages/", {"after": 0, "conv": conv}, **HX
        ).content.decode()
        assert "SECRET" not in html and "ELSEWHERE" not in html


def test_an_answer_naming_the_apply_page_gets_the_apply_button(client, shop):
    order = make_order(shop)  # delivered: the buyer may apply
    enter(client, order)
    conversation = chat.open_conversation(shop, order.customer, order=order)
    Message.objects.create(
        shop=shop,
        conversation=conversation,
        author_kind=MessageAuthor.ASSISTANT,
        body="您可以在订单页点击「申请售后」（/portal/order/apply/），选择商品后提交。",
        created_at=clock.now(),
    )
    html = page(client)
    assert html.count('data-testid="chat-apply"') == 1
    assert 'href="/portal/order/apply/" data-testid="chat-apply"' in html
