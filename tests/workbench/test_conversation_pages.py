"""The agent's conversation pages (/wb/conversations/…) through the Django client: every
URL by role and shop, the list (waiting first, how long, angry, intent, filters), one
conversation (what the assistant read, corrections, suggested and canned replies, reply,
take over, close, the archive, turning it into a case), bad input changing nothing, and
markup shown as text.

What the assistant read in a buyer message is set on the message here, so these page
tests show exactly what is stored and do not depend on the models' guesses."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from shouhou.assistant import chat
from shouhou.assistant.models import (
    AssistantCorrection,
    CannedReply,
    Conversation,
    ConversationStatus,
    FaqEntry,
    Message,
    MessageAuthor,
)
from shouhou.cases.models import Case
from shouhou.core import clock
from shouhou.orders.models import Shipment, ShipmentDirection
from tests.factories import make_customer, make_order, staff_actor

from .support import client_for

pytestmark = pytest.mark.django_db
ROLES = ("agent", "admin", "warehouse", "finance", "arbiter")
DESK = {"agent", "admin"}
ST = ConversationStatus


def conversation_with(shop, *, order=None, customer=None, texts=("我要退货，质量太差",), **read):
    """A conversation about a fresh order with buyer messages as stored by the assistant."""
    order = order or make_order(shop, customer or make_customer(shop))
    conversation = chat.open_conversation(shop, order.customer, order=order)
    for text in texts:
        say(conversation, text, **read)
    return conversation


def say(
    conversation,
    text,
    *,
    intent="return_refund",
    score=0.91,
    sentiment="negative",
    sentiment_score=0.83,
    faq=None,
    faq_score=None,
):
    Conversation.objects.filter(pk=conversation.pk).update(last_intent=intent)
    return Message.objects.create(
        shop_id=conversation.shop_id,
        conversation=conversation,
        author_kind=MessageAuthor.BUYER,
        body=text,
        intent=intent,
        intent_score=score,
        sentiment=sentiment,
        sentiment_score=sentiment_score,
        faq_entry=faq,
        faq_score=faq_score,
        created_at=clock.now(),
    )


def wait(conversation, minutes: int):
    """The conversation handed over `minutes` ago."""
    chat.ask_for_human(conversation.id)
    Conversation.objects.filter(pk=conversation.id).update(
        waiting_since=clock.now() - timedelta(minutes=minutes)
    )


def faq(shop, question="多久发货？", answer="付款后 48 小时内发货。"):
    return FaqEntry.objects.create(shop=shop, category="shipping", question=question, answer=answer)


def html_of(response) -> str:
    return response.content.decode()


def page_messages(response) -> list[tuple[str, str]]:
    return [(m.extra_tags, str(m)) for m in response.context["messages"]]


def follow(client, response):
    assert response.status_code == 302, response
    return client.get(response.url)


def counts():
    return (
        Message.objects.count(),
        AssistantCorrection.objects.count(),
        Case.objects.count(),
        list(Conversation.objects.order_by("id").values_list("status", flat=True)),
    )


# --- who may open what --------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_only_the_desk_pages(shop, team, role):
    conversation = conversation_with(shop)
    client = client_for(team.of(role))
    for url in (
        "/wb/conversations/",
        "/wb/conversations/waiting/",
        f"/wb/conversations/{conversation.id}/",
        f"/wb/conversations/{conversation.id}/messages/?after=0",
    ):
        response = client.get(url)
        if role in DESK:
            assert response.status_code == 200, url
        else:
            assert response.status_code == 403, url
            assert "我要退货" not in html_of(response)


@pytest.mark.parametrize("role", ["warehouse", "finance", "arbiter"])
def test_other_roles_change_nothing(shop, team, role):
    conversation = conversation_with(shop)
    message = conversation.messages.filter(author_kind="buyer").first()
    line = conversation.order.lines.first()
    client = client_for(team.of(role))
    before = counts()
    for url, data in (
        ("reply/", {"text": "你好"}),
        ("take/", {}),
        ("close/", {}),
        ("case/", {"case_type": "refund_only", "reason": "quality", "line": line.id}),
        (f"messages/{message.id}/correct/intent/", {"intent": "greeting"}),
        (f"messages/{message.id}/correct/faq/", {"faq": "none"}),
    ):
        response = client.post(f"/wb/conversations/{conversation.id}/{url}", data)
        assert response.status_code == 403, url
    assert counts() == before


@pytest.mark.parametrize("role", sorted(DESK))
def test_another_shops_conversation_is_the_404_page_and_changes_nothing(
    shop, other_shop, team, role
):
    theirs = conversation_with(other_shop, texts=("别家的秘密 SECRET",))
    message = theirs.messages.filter(author_kind="buyer").first()
    line = theirs.order.lines.first()
    client = client_for(team.of(role))
    for url in (
        f"/wb/conversations/{theirs.id}/",
        f"/wb/conversations/{theirs.id}/messages/?after=0",
        "/wb/conversations/999999999999999999/",
        "/wb/conversations/99999999999999999999999/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "SECRET" not in html_of(response)
    before = counts()
    for url, data in (
        ("reply/", {"text": "你好"}),
        ("take/", {}),
        ("close/", {}),
        ("case/", {"case_type": "refund_only", "reason": "quality", "line": line.id}),
        (f"messages/{message.id}/correct/intent/", {"intent": "greeting"}),
        (f"messages/{message.id}/correct/faq/", {"faq": "none"}),
    ):
        response = client.post(f"/wb/conversations/{theirs.id}/{url}", data)
        assert response.status_code == 404, url
    assert counts() == before
    assert "SECRET" not in html_of(client.get("/wb/conversations/?view=open"))


def test_a_message_of_another_conversation_is_404(shop, team):
    mine = conversation_with(shop)
    elsewhere = conversation_with(shop).messages.filter(author_kind="buyer").first()
    own_reply = chat.agent_says(mine.id, staff_actor(shop, "agent", team.agent), "您好")
    client = client_for(team.agent)
    for message_id in (elsewhere.id, own_reply.id):  # not this conversation's, not a buyer's
        response = client.post(
            f"/wb/conversations/{mine.id}/messages/{message_id}/correct/intent/",
            {"intent": "greeting"},
        )
        assert response.status_code == 404
    response = client.post(
        f"/wb/conversations/{mine.id}/messages/{elsewhere.id}/correct/nonsense/", {}
    )
    assert response.status_code == 404
    assert not AssistantCorrection.objects.exists()


def test_the_nav_shows_conversations_with_the_waiting_count_to_the_desk_only(shop, team):
    conversation_with(shop)
    wait(conversation_with(shop), 3)
    html = html_of(client_for(team.agent).get("/wb/"))
    assert 'href="/wb/conversations/" data-testid="nav-conversations"' in html
    assert 'hx-get="/wb/conversations/waiting/"' in html
    badge = html_of(client_for(team.admin).get("/wb/conversations/waiting/"))
    assert re.search(r'data-testid="nav-waiting-count"[^>]*>1<', badge)
    assert "nav-conversations" not in html_of(client_for(team.warehouse).get("/wb/warehouse/"))


# --- the list -----------------------------------------------------------------------------
def test_the_list_puts_waiting_buyers_first_with_how_long(shop, team):
    quiet = conversation_with(shop, texts=("你好",), intent="greeting", sentiment="positive")
    later = conversation_with(shop)
    longest = conversation_with(shop, texts=("质量太差了，我要投诉",), intent="quality_complaint")
    wait(later, 5)
    wait(longest, 90)
    Conversation.objects.filter(pk=longest.id).update(is_angry=True)
    response = client_for(team.agent).get("/wb/conversations/")
    html = html_of(response)
    order = [r["id"] for r in response.context["rows"]]
    assert order == [longest.id, later.id, quiet.id]
    row = html[html.index(f'data-testid="conv-row-{longest.id}"') :]
    row = row[: row.index("</tr>")]
    assert "1小时30分钟" in row
    assert 'data-testid="angry-' in row and "情绪激动" in row
    assert "质量问题/投诉" in row  # the last intent, labelled
    assert longest.customer.nickname in row and longest.order.external_id in row
    assert "5分钟" in html


def test_the_list_filters(shop, team):
    bot = conversation_with(shop)
    waiting = conversation_with(shop)
    wait(waiting, 1)
    mine = conversation_with(shop)
    chat.take_over(mine.id, staff_actor(shop, "agent", team.agent))
    theirs = conversation_with(shop)
    chat.take_over(theirs.id, staff_actor(shop, "agent", team.agent2))
    ended = conversation_with(shop)
    chat.close(ended.id, staff_actor(shop, "agent", team.agent))
    client = client_for(team.agent)

    def ids(view):
        return {r["id"] for r in client.get("/wb/conversations/", {"view": view}).context["rows"]}

    assert ids("open") == {bot.id, waiting.id, mine.id, theirs.id}
    assert ids("waiting") == {waiting.id}
    assert ids("mine") == {mine.id}
    assert ids("closed") == {ended.id}
    response = client.get("/wb/conversations/", {"view": "<script>"})
    assert {r["id"] for r in response.context["rows"]} == ids("open")
    assert any("未知的筛选条件" in text for _, text in page_messages(response))
    assert "<script>" not in html_of(response)
    assert 'hx-trigger="every 10s"' in html_of(response)  # it refreshes itself


# --- one conversation ---------------------------------------------------------------------
def test_the_page_shows_what_the_assistant_read_on_each_buyer_message(shop, team):
    entry = faq(shop)
    conversation = conversation_with(
        shop,
        texts=("多久能发货呀",),
        intent="shipping_time",
        score=0.87,
        sentiment="positive",
        sentiment_score=0.64,
        faq=entry,
        faq_score=0.72,
    )
    message = conversation.messages.filter(author_kind="buyer").get()
    html = html_of(client_for(team.agent).get(f"/wb/conversations/{conversation.id}/"))
    reading = html[html.index(f'data-testid="reading-{message.id}"') :]
    reading = reading[: reading.index("</div>")]
    assert "发货咨询/催发货" in reading and "0.87" in reading
    assert "正面" in reading and "0.64" in reading
    assert "多久发货？" in reading and "0.72" in reading
    assert f'data-testid="correct-intent-{message.id}"' in html
    assert f'<option value="{entry.id}" selected>' in html  # the match, preselected


def test_the_suggested_reply_is_the_corrected_or_a_confident_faq_answer(shop, team):
    entry = faq(shop)
    conversation = conversation_with(
        shop, texts=("你们老板属什么的",), intent="other", faq=entry, faq_score=0.12
    )
    message = conversation.messages.filter(author_kind="buyer").get()
    client = client_for(team.agent)
    html = html_of(client.get(f"/wb/conversations/{conversation.id}/"))
    assert 'data-testid="suggested-reply"' not in html  # a weak match suggests nothing
    client.post(
        f"/wb/conversations/{conversation.id}/messages/{message.id}/correct/faq/",
        {"faq": str(entry.id)},
    )
    html = html_of(client.get(f"/wb/conversations/{conversation.id}/"))
    assert 'data-testid="suggested-reply"' in html
    assert 'data-insert="付款后 48 小时内发货。"' in html


def test_correcting_an_intent_is_stored_and_shown(shop, team):
    conversation = conversation_with(shop, texts=("能改地址吗",), intent="logistics_tracking")
    message = conversation.messages.filter(author_kind="buyer").get()
    client = client_for(team.agent)
    url = f"/wb/conversations/{conversation.id}/messages/{message.id}/correct/intent/"
    response = client.post(url, {"intent": "order_change"})
    assert response.url == f"/wb/conversations/{conversation.id}/#m-{message.id}"
    correction = AssistantCorrection.objects.get()
    assert (correction.kind, correction.predicted, correction.corrected) == (
        "intent",
        "logistics_tracking",
        "order_change",
    )
    assert correction.text == "能改地址吗" and correction.corrected_by_id == team.agent.id
    html = html_of(client.get(response.url))
    assert "意图已纠正为 修改订单/取消订单" in html
    for bad in ("", "nonsense", "<script>"):
        after = follow(client, client.post(url, {"intent": bad}))
        assert any(code == "validation_error" for code, _ in page_messages(after))
    assert AssistantCorrection.objects.count() == 1


def test_correcting_an_faq_match(shop, other_shop, team):
    wrong, right = faq(shop), faq(shop, "可以开发票吗？", "可以，确认收货后在订单页申请电子发票。")
    theirs = faq(other_shop, "别家的问题", "别家的答案")
    conversation = conversation_with(
        shop, texts=("要发票",), intent="other", faq=wrong, faq_score=0.41
    )
    message = conversation.messages.filter(author_kind="buyer").get()
    client = client_for(team.agent)
    url = f"/wb/conversations/{conversation.id}/messages/{message.id}/correct/faq/"
    for bad, code in (
        ("abc", "validation_error"),
        (str(theirs.id), "not_found"),
        ("", "validation_error"),
    ):
        after = follow(client, client.post(url, {"faq": bad}))
        assert any(c == code for c, _ in page_messages(after)), bad
    assert not AssistantCorrection.objects.exists()
    client.post(url, {"faq": str(right.id)})
    client.post(url, {"faq": "none"})
    stored = list(AssistantCorrection.objects.order_by("id").values_list("kind", "corrected"))
    assert stored == [("faq", str(right.id)), ("faq", "")]
    html = html_of(client.get(f"/wb/conversations/{conversation.id}/"))
    assert "常见问题已纠正为 都不对" in html  # the latest correction


def test_canned_replies_are_ranked_and_filled_from_the_order(shop, team):
    order = make_order(shop, status="shipped")
    Shipment.objects.create(
        shop=shop,
        order=order,
        direction=ShipmentDirection.OUTBOUND,
        carrier="顺丰速运",
        tracking_no="SF5566778899",
        shipped_at=clock.now() - timedelta(days=1),
    )
    reply = CannedReply.objects.create(
        shop=shop, title="物流", body="{buyer}您好，订单 {order_no} 的运单：{tracking}（{shop}）"
    )
    CannedReply.objects.create(shop=shop, title="停用", body="不该出现", is_active=False)
    conversation = conversation_with(shop, order=order, texts=("到哪了",))
    html = html_of(client_for(team.agent).get(f"/wb/conversations/{conversation.id}/"))
    filled = (
        f"{order.customer.nickname}您好，订单 {order.external_id} 的运单：顺丰速运 SF5566778899"
        f"（{shop.name}）"
    )
    assert f'data-insert="{filled}" data-testid="canned-{reply.id}"' in html
    assert "不该出现" not in html


def test_replying_lands_once_and_bad_replies_store_nothing(shop, team):
    conversation = conversation_with(shop)
    client = client_for(team.agent)
    html = html_of(client.get(f"/wb/conversations/{conversation.id}/"))
    token = re.search(r'name="client_token" value="([^"]+)"', html).group(1)
    url = f"/wb/conversations/{conversation.id}/reply/"
    for _ in range(2):
        response = client.post(url, {"text": "您好，我来帮您处理", "client_token": token})
    replies = Message.objects.filter(conversation=conversation, author_kind="agent")
    assert replies.count() == 1
    assert response.url == f"/wb/conversations/{conversation.id}/#m-{replies.get().id}"
    conversation.refresh_from_db()
    assert conversation.status == ST.WITH_AGENT and conversation.assignee_id == team.agent.id
    before = counts()
    for bad in ("", "   ", "字" * 2001):
        after = follow(client, client.post(url, {"text": bad, "client_token": "x1"}))
        assert any(code == "validation_error" for code, _ in page_messages(after))
    assert counts() == before


def test_take_over_and_close(shop, team):
    conversation = conversation_with(shop)
    wait(conversation, 2)
    client = client_for(team.agent)
    page = follow(client, client.post(f"/wb/conversations/{conversation.id}/take/"))
    assert any("已接入会话" in text for _, text in page_messages(page))
    conversation.refresh_from_db()
    assert conversation.status == ST.WITH_AGENT and conversation.assignee_id == team.agent.id
    page = follow(client, client.post(f"/wb/conversations/{conversation.id}/close/"))
    conversation.refresh_from_db()
    assert conversation.status == ST.CLOSED
    html = html_of(page)
    assert 'data-testid="conversation-closed"' in html and 'data-testid="reply-box"' not in html
    # Closed: replying is refused with the service's words, nothing stored.
    before = counts()
    page = follow(
        client, client.post(f"/wb/conversations/{conversation.id}/reply/", {"text": "在吗"})
    )
    assert any("会话已结束" in text for _, text in page_messages(page))
    assert counts() == before


def test_the_archive_beside_the_conversation_is_masked(shop, team):
    customer = make_customer(shop, nickname="小美", phone="13812345678", tags=["老客户"])
    conversation = conversation_with(shop, customer=customer)
    html = html_of(client_for(team.agent).get(f"/wb/conversations/{conversation.id}/"))
    assert "138****5678" in html and "13812345678" not in html
    assert "老客户" in html and "小美" in html


def test_markup_in_messages_is_text_on_the_agent_pages(shop, team):
    conversation = conversation_with(
        shop, texts=("<script>alert(1)</script><img src=x onerror=alert(2)>",)
    )
    client = client_for(team.agent)
    for url in (
        f"/wb/conversations/{conversation.id}/",
        f"/wb/conversations/{conversation.id}/messages/?after=0",
        "/wb/conversations/",
    ):
        html = html_of(client.get(url))
        assert "<script>alert(1)" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


def test_the_poll_returns_only_newer_messages(shop, team):
    conversation = conversation_with(shop)
    last = conversation.messages.order_by("-id").first()
    client = client_for(team.agent)
    url = f"/wb/conversations/{conversation.id}/messages/"
    assert client.get(url, {"after": last.id}).status_code == 204
    newer = say(conversation, "还在吗？")
    html = html_of(client.get(url, {"after": last.id}))
    assert f'data-id="{newer.id}"' in html and f'data-id="{last.id}"' not in html
    assert client.get(url, {"after": "junk"}).status_code == 200  # from the start


# --- from a conversation to a case --------------------------------------------------------
def test_open_a_case_prefilled_from_the_conversation(shop, team):
    order = make_order(shop, lines=[(1, 5000), (2, 3000)])
    conversation = conversation_with(
        shop, order=order, texts=("收到的杯子裂了，质量太差，我要退货退款",)
    )
    client = client_for(team.agent)
    response = client.get(f"/wb/conversations/{conversation.id}/")
    suggestion = response.context["suggestion"]
    html = html_of(response)
    assert f'<option value="{suggestion["case_type"]}" selected>' in html
    assert f'<option value="{suggestion["reason"]}" selected>' in html
    assert "收到的杯子裂了，质量太差，我要退货退款</textarea>" in html
    line_ids = list(order.lines.order_by("id").values_list("id", flat=True))
    for line_id in line_ids:
        assert f'value="{line_id}" checked' in html
    response = client.post(
        f"/wb/conversations/{conversation.id}/case/",
        {
            "case_type": "return_refund",
            "reason": "quality",
            "line": [str(line_ids[1])],
            "description": "杯子裂了",
        },
    )
    case = Case.objects.get()
    assert response.url == f"/wb/cases/{case.id}/"
    assert (case.type, case.reason, case.description) == ("return_refund", "quality", "杯子裂了")
    assert list(case.lines.values_list("order_line_id", flat=True)) == [line_ids[1]]
    conversation.refresh_from_db()
    assert conversation.case_id == case.id
    page = client.get(response.url)
    assert page.status_code == 200 and case.number in html_of(page)
    html = html_of(client.get(f"/wb/conversations/{conversation.id}/"))
    assert 'data-testid="open-case"' not in html and f'href="/wb/cases/{case.id}/"' in html


@pytest.mark.parametrize(
    "data",
    [
        {"case_type": "", "reason": "quality", "line": "LINE"},
        {"case_type": "return_refund", "reason": "quality"},
        {"case_type": "return_refund", "reason": "quality", "line": "abc"},
        {"case_type": "teleport", "reason": "quality", "line": "LINE"},
        {"case_type": "return_refund", "reason": "bored", "line": "LINE"},
        {"case_type": "return_refund", "reason": "quality", "line": "999999"},
        {
            "case_type": "return_refund",
            "reason": "quality",
            "line": "LINE",
            "description": "长" * 2001,
        },
    ],
    ids=["no-type", "no-line", "junk-line", "bad-type", "bad-reason", "foreign-line", "long"],
)
def test_a_bad_case_form_shows_why_and_opens_nothing(shop, team, data):
    conversation = conversation_with(shop)
    line = conversation.order.lines.first()
    data = {k: (str(line.id) if v == "LINE" else v) for k, v in data.items()}
    client = client_for(team.agent)
    response = client.post(f"/wb/conversations/{conversation.id}/case/", data)
    assert response.url == f"/wb/conversations/{conversation.id}/#open-case"
    page = client.get(response.url)
    assert page_messages(page) and all(code for code, _ in page_messages(page))
    assert not Case.objects.exists()
    conversation.refresh_from_db()
    assert conversation.case_id is None


def test_english_pages(shop, team):
    conversation = conversation_with(shop, intent="quality_complaint")
    wait(conversation, 1)
    client = client_for(team.agent)
    client.post("/i18n/setlang/", {"language": "en", "next": "/wb/"})
    html = html_of(client.get("/wb/conversations/"))
    assert "Quality complaint" in html and "waiting for an agent" in html
    html = html_of(client.get(f"/wb/conversations/{conversation.id}/"))
    assert "Correct what the assistant read" in html and "Open a case" in html
