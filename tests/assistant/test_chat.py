"""Conversations end to end on the real models: the buyer asks, the assistant answers with the
order's facts or hands over (one test per hand-over rule), the agent takes over, resent
messages land once, other shops' ids are not found, bad input is refused or handled, agent
corrections are stored and teach the FAQ at once, and a conversation becomes a case."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from shouhou.assistant import chat, retrieval
from shouhou.assistant import selectors as sel
from shouhou.assistant.models import (
    AssistantCorrection,
    Conversation,
    ConversationStatus,
    FaqEntry,
    HandoverReason,
    Message,
    MessageAuthor,
)
from shouhou.cases import services as case_services
from shouhou.cases.models import Case, Priority, TimelineEvent
from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.core.models import AuditLog
from tests.assistant.chat_support import bodies, chat_about, paid_order, ship
from tests.factories import buyer, make_customer, make_order, make_staff, staff_actor

pytestmark = pytest.mark.django_db
ST = ConversationStatus


@pytest.fixture
def faq_shop(shop):
    retrieval.install_default_faq(shop)
    return shop


@pytest.fixture
def agent(faq_shop):
    member = make_staff(faq_shop, "agent")
    return staff_actor(faq_shop, "agent", member)


def said(conversation, text, **kw) -> list[Message]:
    return chat.buyer_says(conversation.id, text, **kw)


def refused(code, fn, *args, **kwargs) -> ShouhouError:
    before = Message.objects.count(), Conversation.objects.count(), Case.objects.count()
    with pytest.raises(ShouhouError) as exc:
        fn(*args, **kwargs)
    assert exc.value.code == code, exc.value.as_dict()
    assert (Message.objects.count(), Conversation.objects.count(), Case.objects.count()) == before
    return exc.value


def assert_handed_over(conversation, out, reason):
    conversation.refresh_from_db()
    assert conversation.status == ST.WAITING, bodies(conversation)
    assert conversation.handover_reason == reason, (reason, out[0].intent, out[0].intent_score)
    assert conversation.waiting_since is not None
    assert [m.author_kind for m in out] == [MessageAuthor.BUYER, MessageAuthor.SYSTEM]
    assert chat.HANDOVER_NOTICE in out[1].body


# --- opening ------------------------------------------------------------------------------
def test_open_conversation_is_one_per_order_and_greets(faq_shop):
    order = paid_order(faq_shop)
    first = chat_about(order)
    again = chat_about(order)
    assert again.id == first.id and first.status == ST.BOT
    welcome = bodies(first)
    assert len(welcome) == 1 and welcome[0][0] == MessageAuthor.ASSISTANT
    assert faq_shop.name in welcome[0][1] and order.external_id in welcome[0][1]
    # Without an order: its own conversation, still one.
    plain = chat.open_conversation(faq_shop, order.customer)
    assert plain.id != first.id
    assert chat.open_conversation(faq_shop, order.customer).id == plain.id


def test_a_conversation_about_an_order_links_its_open_case(faq_shop):
    order = make_order(faq_shop)
    case = case_services.open_case(
        faq_shop,
        buyer(order),
        order=order,
        type="refund_only",
        reason="quality",
        lines=[case_services.LineRequest(order.lines.first().id, 1)],
    )
    assert chat_about(order).case_id == case.id
    assert chat_about(paid_order(faq_shop)).case_id is None


def test_open_conversation_refuses_other_shops_and_other_buyers(faq_shop, other_shop):
    order = paid_order(faq_shop)
    stranger = make_customer(other_shop)
    refused("not_found", chat.open_conversation, faq_shop, stranger)
    other_buyer = make_customer(faq_shop)
    refused("not_found", chat.open_conversation, faq_shop, other_buyer, order=order)
    foreign_order = make_order(other_shop, stranger)
    refused("not_found", chat.open_conversation, other_shop, stranger, order=order)
    refused("not_found", chat.open_conversation, faq_shop, order.customer, order=foreign_order)
    refused("validation_error", chat.open_conversation, faq_shop, order.customer, channel="fax")


# --- answers with the order's facts -------------------------------------------------------
def test_not_shipped_order_is_answered_with_its_facts(faq_shop):
    order = paid_order(faq_shop)
    conversation = chat_about(order)
    out = said(conversation, "亲，我的订单什么时候发货啊")
    assert [m.author_kind for m in out] == [MessageAuthor.BUYER, MessageAuthor.ASSISTANT]
    assert out[0].intent == "shipping_time"
    assert order.external_id in out[1].body and "还未发货" in out[1].body
    conversation.refresh_from_db()
    assert conversation.status == ST.BOT and conversation.last_intent == "shipping_time"


def test_shipped_order_is_answered_with_carrier_and_tracking(faq_shop):
    order = make_order(faq_shop, status="paid")
    ship(order, carrier="中通快递", tracking="ZT7788990011")
    conversation = chat_about(order)
    out = said(conversation, "我的快递到哪了？怎么还没到")
    assert out[0].intent == "logistics_tracking", out[0].intent_score
    answer = out[-1].body
    assert out[-1].author_kind == MessageAuthor.ASSISTANT
    assert "中通快递" in answer and "ZT7788990011" in answer and "运输途中" in answer


def test_open_case_is_answered_with_status_and_deadline(faq_shop):
    order = make_order(faq_shop)
    case = case_services.open_case(
        faq_shop,
        buyer(order),
        order=order,
        type="refund_only",
        reason="quality",
        lines=[case_services.LineRequest(order.lines.first().id, 1)],
    )
    conversation = chat_about(order)
    out = said(conversation, "我申请的退款怎么样了")
    assert out[0].intent == "return_refund"
    answer = out[-1].body
    assert case.number in answer and "待商家处理" in answer
    assert "超时将自动同意" in answer and "截止" in answer


def test_greeting_names_the_shop_and_faq_answers_cite_the_entry(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    hello = said(conversation, "亲 在吗")
    assert hello[0].intent == "greeting" and faq_shop.name in hello[1].body
    genuine = said(conversation, "你们家是正品吗")
    entry = genuine[1].faq_entry
    assert entry is not None and entry.question == "是正品吗？"
    assert entry.answer[:20] in genuine[1].body and genuine[1].faq_score > 0
    assert genuine[0].faq_entry_id == entry.id  # the buyer's message keeps its best match


def test_thanks_are_answered_not_repeated_greetings(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    said(conversation, "什么时候发货")
    out = said(conversation, "好的，谢谢亲")
    assert out[0].intent == "greeting" and out[1].body.startswith("不客气")


def test_a_different_question_after_an_answer_is_answered(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    first = said(conversation, "优惠券怎么用")
    second = said(conversation, "满减活动怎么算")
    assert first[0].intent == second[0].intent == "promotion_price"
    assert first[1].faq_entry_id != second[1].faq_entry_id
    assert second[1].author_kind == MessageAuthor.ASSISTANT


def test_traditional_chinese_is_read_like_simplified(faq_shop):
    order = paid_order(faq_shop)
    conversation = chat_about(order)
    out = said(conversation, "請問我的訂單什麼時候發貨？")
    assert out[0].intent == "shipping_time"
    assert out[0].body == "請問我的訂單什麼時候發貨？"  # stored as written
    assert order.external_id in out[1].body


# --- hand-over, one test per rule ---------------------------------------------------------
def test_asking_for_a_person_hands_over(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    assert_handed_over(conversation, said(conversation, "转人工"), HandoverReason.ASKED)
    other = chat_about(paid_order(faq_shop))
    assert_handed_over(other, said(other, "我要找真人客服，别用机器人回复我"), HandoverReason.ASKED)


def test_angry_buyer_hands_over_and_is_flagged(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    out = said(conversation, "什么破店，骗子！再不处理我就去12315投诉你们，给差评！")
    assert_handed_over(conversation, out, HandoverReason.ANGRY)
    assert out[0].sentiment == "negative"
    assert conversation.is_angry


def test_quality_complaint_hands_over(faq_shop):
    conversation = chat_about(make_order(faq_shop))
    out = said(conversation, "收到的杯子有一条裂缝，是质量问题吧")
    assert out[0].intent == "quality_complaint"
    assert_handed_over(conversation, out, HandoverReason.COMPLAINT)


def test_order_change_hands_over(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    out = said(conversation, "拍错了，能帮我改一下收货地址吗")
    assert out[0].intent == "order_change"
    assert_handed_over(conversation, out, HandoverReason.ORDER_CHANGE)


def test_low_confidence_and_english_hand_over(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    out = said(conversation, "Can I pay for this with bitcoin on the moon?")
    assert_handed_over(conversation, out, HandoverReason.LOW_CONFIDENCE)


def test_the_same_question_again_after_an_answer_hands_over(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    first = said(conversation, "什么时候发货")
    assert first[-1].author_kind == MessageAuthor.ASSISTANT
    out = said(conversation, "到底什么时候发货啊")
    assert_handed_over(conversation, out, HandoverReason.REPEATED)


def test_emoji_only_gets_a_gentle_prompt_then_a_hand_over(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    first = said(conversation, "😂😂😂")
    assert [m.author_kind for m in first] == [MessageAuthor.BUYER, MessageAuthor.ASSISTANT]
    assert "请用文字描述您的问题" in first[1].body
    conversation.refresh_from_db()
    assert conversation.status == ST.BOT
    out = said(conversation, "👍🙏")
    assert_handed_over(conversation, out, HandoverReason.UNREADABLE)


def test_words_after_the_prompt_are_answered(faq_shop):
    order = paid_order(faq_shop)
    conversation = chat_about(order)
    said(conversation, "？？？")
    out = said(conversation, "什么时候发货")
    assert out[-1].author_kind == MessageAuthor.ASSISTANT and order.external_id in out[-1].body


def test_ask_for_human_any_time_and_only_once(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    said(conversation, "什么时候发货")
    chat.ask_for_human(conversation.id)
    conversation.refresh_from_db()
    assert conversation.status == ST.WAITING and conversation.handover_reason == "asked"
    count = Message.objects.filter(conversation=conversation).count()
    chat.ask_for_human(conversation.id)  # a second tap changes nothing
    assert Message.objects.filter(conversation=conversation).count() == count


# --- the agent ----------------------------------------------------------------------------
def test_agent_takes_over_and_the_assistant_stays_quiet(faq_shop, agent):
    conversation = chat_about(paid_order(faq_shop))
    said(conversation, "转人工")
    taken = chat.take_over(conversation.id, agent)
    assert taken.status == ST.WITH_AGENT and taken.assignee_id == agent.staff_id
    reply = chat.agent_says(conversation.id, agent, "您好，我是客服小美，请问有什么可以帮您？")
    assert reply.author_kind == MessageAuthor.AGENT and reply.author_id == agent.staff_id
    out = said(conversation, "什么时候发货")
    assert len(out) == 1 and out[0].author_kind == MessageAuthor.BUYER
    assert out[0].intent == "shipping_time"  # still read, for the agent's panel
    conversation.refresh_from_db()
    assert conversation.status == ST.WITH_AGENT


def test_waiting_conversation_gets_no_more_assistant_answers(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    said(conversation, "转人工")
    out = said(conversation, "什么时候发货")
    assert len(out) == 1


def test_agent_reply_to_a_bot_conversation_takes_it_over(faq_shop, agent):
    conversation = chat_about(paid_order(faq_shop))
    chat.agent_says(conversation.id, agent, "您好")
    conversation.refresh_from_db()
    assert conversation.status == ST.WITH_AGENT and conversation.assignee_id == agent.staff_id


def test_closing_ends_the_conversation_and_a_new_one_starts(faq_shop, agent):
    order = paid_order(faq_shop)
    conversation = chat_about(order)
    chat.close(conversation.id, agent)
    chat.close(conversation.id, agent)  # twice is fine
    conversation.refresh_from_db()
    assert conversation.status == ST.CLOSED and conversation.closed_at
    refused("validation_error", said, conversation, "在吗")
    refused("validation_error", chat.agent_says, conversation.id, agent, "在")
    assert chat_about(order).id != conversation.id


def test_buyer_may_close_only_their_own(faq_shop):
    order = paid_order(faq_shop)
    conversation = chat_about(order)
    other = make_order(faq_shop)
    refused("not_found", chat.close, conversation.id, buyer(other))
    chat.close(conversation.id, buyer(order))


def test_staff_of_other_shops_and_other_roles_are_refused(faq_shop, other_shop, agent):
    conversation = chat_about(paid_order(faq_shop))
    outsider = staff_actor(other_shop, "agent", make_staff(other_shop, "agent"))
    refused("not_found", chat.take_over, conversation.id, outsider)
    refused("not_found", chat.agent_says, conversation.id, outsider, "你好")
    refused("not_found", chat.close, conversation.id, outsider)
    warehouse = staff_actor(faq_shop, "warehouse", make_staff(faq_shop, "warehouse"))
    refused("permission_denied", chat.take_over, conversation.id, warehouse)
    refused("not_found", chat.buyer_says, 999_999, "在吗")
    refused("not_found", sel.conversation_for_staff, other_shop, conversation.id)


# --- resent messages ----------------------------------------------------------------------
def test_resent_client_token_returns_the_same_messages_and_adds_nothing(faq_shop, agent):
    conversation = chat_about(paid_order(faq_shop))
    first = said(conversation, "什么时候发货", client_token="tok-1")
    count = Message.objects.count()
    again = said(conversation, "什么时候发货", client_token="tok-1")
    assert [m.id for m in again] == [m.id for m in first] and len(first) == 2
    assert Message.objects.count() == count
    handed = said(conversation, "转人工", client_token="tok-2")
    assert [m.id for m in said(conversation, "转人工", client_token="tok-2")] == [
        m.id for m in handed
    ]
    reply = chat.agent_says(conversation.id, agent, "您好", client_token="a-1")
    assert chat.agent_says(conversation.id, agent, "您好", client_token="a-1").id == reply.id
    refused("validation_error", chat.agent_says, conversation.id, agent, "x", client_token="tok-1")
    refused("validation_error", said, conversation, "在吗", client_token="bad token#1")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_token_sent_twice_at_once_lands_once():
    from tests.factories import make_shop

    shop = make_shop()
    retrieval.install_default_faq(shop)
    conversation = chat_about(paid_order(shop))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def send():
        try:
            barrier.wait()
            results.append([m.id for m in said(conversation, "什么时候发货", client_token="race")])
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results[0] == results[1]
    assert Message.objects.filter(conversation=conversation, author_kind="buyer").count() == 1


# --- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "   \n\t ", None, "x" * 100_000, "好" * 2001])
def test_empty_and_oversized_messages_are_refused(faq_shop, text):
    conversation = chat_about(paid_order(faq_shop))
    error = refused("validation_error", said, conversation, text)
    assert "2000" in error.message() or "空" in error.message()


def test_exactly_2000_characters_are_stored(faq_shop):
    conversation = chat_about(paid_order(faq_shop))
    out = said(conversation, "  " + "退" * 2000 + "  ")
    assert out[0].body == "退" * 2000


def test_markup_is_stored_as_text_and_never_echoed(faq_shop):
    order = paid_order(faq_shop)
    conversation = chat_about(order)
    text = "<script>alert('x')</script><b>什么时候发货</b>"
    out = said(conversation, text)
    assert out[0].body == text
    assert out[0].intent == "shipping_time"
    assert "<script>" not in out[-1].body and order.external_id in out[-1].body


# --- learning from the agent --------------------------------------------------------------
def test_intent_correction_is_stored_and_audited(faq_shop, agent):
    conversation = chat_about(paid_order(faq_shop))
    message = said(conversation, "这个锅能用电磁炉吗")[0]
    correction = chat.correct_intent(message.id, agent, intent="product_inquiry")
    assert correction.kind == "intent" and correction.text == "这个锅能用电磁炉吗"
    assert correction.predicted == message.intent and correction.corrected == "product_inquiry"
    assert correction.corrected_by_id == agent.staff_id
    assert AuditLog.objects.filter(shop=faq_shop, action="assistant.correct_intent").exists()
    refused("validation_error", chat.correct_intent, message.id, agent, intent="nonsense")
    answer = Message.objects.filter(conversation=conversation, author_kind="assistant").last()
    refused("validation_error", chat.correct_intent, answer.id, agent, intent="other")


def test_faq_correction_teaches_retrieval_at_once(faq_shop, agent):
    conversation = chat_about(paid_order(faq_shop))
    words = "宝贝能寄到我们村里不，地方比较偏"
    message = said(conversation, words)[0]
    entry = FaqEntry.objects.get(shop=faq_shop, question__startswith="偏远地区")
    before = retrieval.best(faq_shop, words)
    assert before is None or before.entry.id != entry.id or message.faq_entry_id == entry.id
    correction = chat.correct_faq(message.id, agent, faq_entry_id=entry.id)
    assert correction.faq_entry_id == entry.id and correction.corrected == str(entry.id)
    entry.refresh_from_db()
    assert entry.keywords.splitlines()[-1] == words
    learned = retrieval.best(faq_shop, words)
    assert learned is not None and learned.entry.id == entry.id
    # Correcting twice does not add the same phrasing twice.
    chat.correct_faq(message.id, agent, faq_entry_id=entry.id)
    entry.refresh_from_db()
    assert entry.keywords.count(words) == 1
    assert AuditLog.objects.filter(shop=faq_shop, action="assistant.correct_faq").count() == 2


def test_faq_correction_to_none_records_no_entry(faq_shop, agent, other_shop):
    conversation = chat_about(paid_order(faq_shop))
    message = said(conversation, "可以开发票吗")[0]
    correction = chat.correct_faq(message.id, agent, faq_entry_id=None)
    assert correction.corrected == "" and correction.faq_entry_id is None
    assert correction.predicted == str(message.faq_entry_id or "")
    retrieval.install_default_faq(other_shop)
    foreign = FaqEntry.objects.filter(shop=other_shop).first()
    refused("not_found", chat.correct_faq, message.id, agent, faq_entry_id=foreign.id)
    outsider = staff_actor(other_shop, "admin", make_staff(other_shop, "admin"))
    refused("not_found", chat.correct_intent, message.id, outsider, intent="other")
    finance = staff_actor(faq_shop, "finance", make_staff(faq_shop, "finance"))
    refused("permission_denied", chat.correct_intent, message.id, finance, intent="other")
    assert AssistantCorrection.objects.count() == 1


# --- from a conversation to a case --------------------------------------------------------
def test_conversation_becomes_a_case_with_the_suggested_type_and_reason(faq_shop, agent):
    order = make_order(faq_shop, lines=[(1, 8900), (2, 3990)])
    conversation = chat_about(order)
    said(conversation, "保温杯倒进热水两个小时就凉了，一点都不保温，质量有问题，我要退货退款")
    suggestion = chat.suggest_case(conversation.id)
    assert suggestion["reason"] == "quality"
    assert suggestion["case_type"] in {"return_refund", "refund_only", "exchange", "repair"}
    assert suggestion["line_ids"] == sorted(order.lines.values_list("id", flat=True))
    assert "保温" in suggestion["description"]
    case = chat.open_case_from_conversation(
        conversation.id,
        agent,
        case_type=suggestion["case_type"],
        reason=suggestion["reason"],
        line_ids=suggestion["line_ids"][:1],
        description=suggestion["description"],
    )
    assert case.channel == "chat" and case.order_id == order.id and case.reason == "quality"
    conversation.refresh_from_db()
    assert conversation.case_id == case.id
    assert bodies(conversation)[-1] == (MessageAuthor.SYSTEM, f"已为您创建售后单 {case.number}")
    assert sel.desk_conversations(faq_shop)[0]["case"]["number"] == case.number


def test_conversation_case_refuses_foreign_lines_and_orderless_chats(faq_shop, agent):
    order = make_order(faq_shop)
    conversation = chat_about(order)
    foreign_line = make_order(faq_shop).lines.first()
    refused(
        "unknown_order_line",
        chat.open_case_from_conversation,
        conversation.id,
        agent,
        case_type="refund_only",
        reason="quality",
        line_ids=[foreign_line.id],
        description="坏了",
    )
    plain = chat.open_conversation(faq_shop, order.customer)
    refused(
        "validation_error",
        chat.open_case_from_conversation,
        plain.id,
        agent,
        case_type="refund_only",
        reason="quality",
        line_ids=[order.lines.first().id],
        description="坏了",
    )


def test_angry_message_raises_the_linked_cases_priority(faq_shop, agent):
    order = make_order(faq_shop)
    conversation = chat_about(order)
    said(conversation, "杯子有裂缝")
    case = chat.open_case_from_conversation(
        conversation.id,
        agent,
        case_type="refund_only",
        reason="quality",
        line_ids=[order.lines.first().id],
        description="杯子有裂缝",
    )
    assert case.priority == Priority.NORMAL
    said(conversation, "你们这是什么垃圾服务，骗子！我要去12315投诉！")
    case.refresh_from_db()
    assert case.priority == Priority.HIGH
    note = TimelineEvent.objects.get(case=case, action="note")
    assert note.visibility == "internal" and "买家在会话中情绪激动" in note.message
    # Once high, more anger adds nothing more to the timeline.
    said(conversation, "骗子店铺，差评！")
    assert TimelineEvent.objects.filter(case=case, action="note").count() == 1


# --- the desk -----------------------------------------------------------------------------
def test_desk_lists_waiting_first_then_with_agent_then_bot(faq_shop, agent):
    with clock.frozen(timezone.now()) as tick:
        bot = chat_about(paid_order(faq_shop))
        said(bot, "什么时候发货")
        tick.advance(timedelta(minutes=1))
        waited_longest = chat_about(paid_order(faq_shop))
        said(waited_longest, "转人工")
        tick.advance(timedelta(minutes=5))
        waited_less = chat_about(paid_order(faq_shop))
        said(waited_less, "人工客服")
        tick.advance(timedelta(minutes=1))
        mine = chat_about(paid_order(faq_shop))
        chat.take_over(mine.id, agent)
        tick.advance(timedelta(minutes=1))
        said(bot, "你好")
    rows = sel.desk_conversations(faq_shop)
    assert [r["id"] for r in rows] == [waited_longest.id, waited_less.id, mine.id, bot.id]
    assert rows[0]["status"] == "waiting" and rows[0]["handover_reason"] == "asked"
    assert rows[0]["last_message"]["author_kind"] == "system"
    assert rows[3]["last_intent"] == "greeting"
    assert [r["id"] for r in sel.desk_conversations(faq_shop, mine=agent)] == [mine.id]
    assert [r["id"] for r in sel.desk_conversations(faq_shop, status="bot")] == [bot.id]
    assert sel.waiting_count(faq_shop) == 2
    chat.close(bot.id, agent)
    assert bot.id not in [r["id"] for r in sel.desk_conversations(faq_shop)]


def test_buyer_and_staff_reads_stay_in_their_shop(faq_shop, other_shop):
    order = paid_order(faq_shop)
    conversation = chat_about(order)
    out = said(conversation, "什么时候发货")
    assert sel.conversation_for_buyer(faq_shop, order.customer, order).id == conversation.id
    assert sel.conversation_for_buyer(faq_shop, make_customer(faq_shop), order) is None
    assert sel.conversation_for_buyer(other_shop, order.customer, order) is None
    assert [m.id for m in sel.messages_after(conversation, out[0].id)] == [out[1].id]
    assert sel.conversation_for_staff(faq_shop, conversation.id).id == conversation.id
    refused("not_found", sel.conversation_for_staff, faq_shop, "abc")


# --- found in review ----------------------------------------------------------------------
def test_a_case_opened_after_the_chat_began_is_linked_and_raised_by_anger(faq_shop):
    order = make_order(faq_shop)
    conversation = chat_about(order)
    said(conversation, "你好")
    case = case_services.open_case(
        faq_shop,
        buyer(order),
        order=order,
        type="refund_only",
        reason="quality",
        lines=[case_services.LineRequest(order.lines.first().id, 1)],
        description="杯盖漏水",
    )
    assert case.priority == Priority.NORMAL
    said(conversation, "你们这是什么垃圾服务，骗子！我要去12315投诉！")
    conversation.refresh_from_db()
    case.refresh_from_db()
    assert conversation.case_id == case.id
    assert case.priority == Priority.HIGH


def test_no_case_from_a_conversation_another_agent_closed(faq_shop, agent):
    order = make_order(faq_shop)
    conversation = chat_about(order)
    said(conversation, "杯子有裂缝")
    chat.close(conversation.id, agent)
    refused(
        "validation_error",
        chat.open_case_from_conversation,
        conversation.id,
        agent,
        case_type="refund_only",
        reason="quality",
        line_ids=[order.lines.first().id],
        description="杯子有裂缝",
    )


def test_a_reused_token_with_other_text_is_refused_not_dropped(faq_shop, agent):
    conversation = chat_about(paid_order(faq_shop))
    said(conversation, "什么时候发货", client_token="tok-9")
    count = Message.objects.count()
    refused("validation_error", said, conversation, "我要退款", client_token="tok-9")
    assert Message.objects.count() == count
    chat.agent_says(conversation.id, agent, "您好", client_token="a-9")
    refused("validation_error", chat.agent_says, conversation.id, agent, "再见", client_token="a-9")
