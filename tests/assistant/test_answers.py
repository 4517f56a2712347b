"""The assistant's replies: every fact from the database, none from the buyer's words.

`answers.compose` takes what the models read (an intent label, the FAQ match); these tests
give it those directly, so each fact rule is checked on its own. The end-to-end path with
the real models is in test_chat.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from shouhou.assistant import answers, retrieval
from shouhou.assistant.models import FaqEntry
from shouhou.assistant.nlp import Label
from shouhou.assistant.retrieval import FaqMatch
from shouhou.cases import services as case_services
from shouhou.core import clock
from shouhou.orders.models import OrderStatus
from tests.assistant.chat_support import chat_about, paid_order, ship
from tests.factories import buyer, make_order

pytestmark = pytest.mark.django_db


def sure(code: str) -> Label:
    return Label(code, 0.95)


def compose(conversation, code, faq=None, score=0.95):
    conversation.refresh_from_db()
    return answers.compose(conversation, intent=Label(code, score), faq=faq)


def entry(shop, question, category="other", answer="答案"):
    return FaqEntry.objects.create(shop=shop, category=category, question=question, answer=answer)


def test_greeting_names_the_shop(shop):
    reply = compose(chat_about(paid_order(shop)), "greeting")
    assert reply.kind == "greeting" and shop.name in reply.body


def test_not_shipped_states_when_it_was_paid_and_no_promise_without_faq(shop):
    order = paid_order(shop)
    reply = compose(chat_about(order), "shipping_time")
    paid = timezone.localtime(order.paid_at).strftime("%m月%d日 %H:%M")
    assert order.external_id in reply.body and paid in reply.body and "还未发货" in reply.body
    assert "尽快安排发货" in reply.body and reply.faq_entry is None


def test_not_shipped_quotes_the_shops_own_dispatch_promise(shop):
    promise = entry(shop, "下单后多久发货？", "shipping", "付款后 48 小时内发货。")
    reply = compose(chat_about(paid_order(shop)), "logistics_tracking")
    assert "付款后 48 小时内发货" in reply.body and reply.faq_entry == promise


def test_not_shipped_keeps_the_promise_apart_from_the_faq_answer(shop):
    promise = entry(shop, "下单后多久发货？", "shipping", "付款后 48 小时内发货。")
    stuck = entry(shop, "物流好几天没更新怎么办？", "shipping", "超过 3 天没更新请联系客服。")
    reply = compose(chat_about(paid_order(shop)), "logistics_tracking", FaqMatch(stuck, 0.9, True))
    facts, faq = reply.body.split("\n")
    assert "本店发货说明：付款后 48 小时内发货。" in facts and "3 天" not in facts
    assert faq == "关于「物流好几天没更新怎么办？」：超过 3 天没更新请联系客服。"
    assert reply.faq_entry == stuck and promise.id != stuck.id


def test_thanks_get_a_you_are_welcome(shop):
    conversation = chat_about(paid_order(shop))
    conversation.refresh_from_db()
    thanks = answers.compose(conversation, intent=sure("greeting"), faq=None, thanks=True)
    assert thanks.body.startswith("不客气") and shop.name not in thanks.body


def test_shipped_in_transit_and_delivered(shop):
    order = paid_order(shop)
    ship(order, carrier="圆通速递", tracking="YT5566778899")
    reply = compose(chat_about(order), "logistics_tracking")
    assert "圆通速递" in reply.body and "YT5566778899" in reply.body and "运输途中" in reply.body
    delivered = paid_order(shop)
    ship(delivered, carrier="顺丰速运", tracking="SF0001112223", delivered=True)
    reply = compose(chat_about(delivered), "shipping_time")
    assert "SF0001112223" in reply.body and "签收" in reply.body and "运输途中" not in reply.body


def test_facts_come_first_then_the_faq_answer_to_what_was_asked(shop):
    order = paid_order(shop)
    ship(order, carrier="韵达快递", tracking="YD1234512345")
    couriers = entry(shop, "默认发什么快递？", "shipping", "默认发中通或圆通。")
    reply = compose(chat_about(order), "shipping_time", FaqMatch(couriers, 0.9, True))
    facts, faq = reply.body.split("\n")
    assert "韵达快递" in facts and "YD1234512345" in facts
    assert faq == "关于「默认发什么快递？」：默认发中通或圆通。"
    assert reply.faq_entry == couriers and reply.faq_score == 0.9
    # An unsure match is not quoted.
    reply = compose(chat_about(order), "shipping_time", FaqMatch(couriers, 0.3, False))
    assert "中通" not in reply.body and reply.faq_entry is None


def test_shipped_without_a_parcel_record_and_unpaid_and_cancelled(shop):
    shipped = make_order(shop, status=OrderStatus.SHIPPED)
    reply = compose(chat_about(shipped), "logistics_tracking")
    assert "发货" in reply.body and "暂时还没有运单信息" in reply.body
    for status, words in ((OrderStatus.UNPAID, "还未付款"), (OrderStatus.CANCELLED, "已取消")):
        order = make_order(shop, status=status)
        assert words in compose(chat_about(order), "shipping_time").body


def test_open_case_status_next_step_and_deadline(shop):
    order = make_order(shop)
    with clock.frozen(timezone.now()) as frozen:
        case = case_services.open_case(
            shop,
            buyer(order),
            order=order,
            type="return_refund",
            reason="quality",
            lines=[case_services.LineRequest(order.lines.first().id, 1)],
        )
        frozen.advance(timedelta(hours=1))
        reply = compose(chat_about(order), "return_refund")
    assert case.number in reply.body and "退货退款" in reply.body and "待商家处理" in reply.body
    # 72 h from opening, one hour gone: the words of cases.wording for the buyer.
    assert "商家将在 2天23小时 内处理，超时将自动同意" in reply.body
    deadline = timezone.localtime(case.deadline_at).strftime("%m月%d日 %H:%M")
    assert f"截止 {deadline}" in reply.body


def test_no_case_explains_how_to_apply_and_cites_the_faq(shop):
    order = make_order(shop)
    how = entry(shop, "怎么申请退货退款？", "process", "在订单页点击申请售后。")
    reply = compose(chat_about(order), "return_refund", FaqMatch(how, 0.9, True))
    assert "没有进行中的售后单" in reply.body and answers.apply_url() in reply.body
    assert "在订单页点击申请售后。" in reply.body and reply.faq_entry == how
    bare = compose(chat_about(make_order(shop)), "return_refund")
    assert "申请售后" in bare.body and bare.faq_entry is None


def test_faq_intents_need_a_confident_match(shop):
    conversation = chat_about(paid_order(shop))
    coupon = entry(shop, "优惠券怎么用？", "promotion", "下单时自动抵扣。")
    reply = compose(conversation, "promotion_price", FaqMatch(coupon, 0.8, True))
    assert reply.kind == "faq" and "下单时自动抵扣" in reply.body and reply.faq_score == 0.8
    assert compose(conversation, "promotion_price", FaqMatch(coupon, 0.2, False)) is None
    assert compose(conversation, "product_inquiry") is None
    assert compose(conversation, "other") is None


def test_unsure_intent_answers_only_from_a_confident_faq(shop):
    order = paid_order(shop)
    conversation = chat_about(order)
    # A shipping question the intent model is unsure of: no order facts are guessed.
    assert compose(conversation, "shipping_time", score=0.2) is None
    invoice = entry(shop, "可以开发票吗？", "invoice", "可以，确认收货后申请。")
    reply = compose(conversation, "shipping_time", FaqMatch(invoice, 0.9, True), score=0.2)
    assert reply.kind == "faq" and reply.faq_entry == invoice


def test_order_facts_need_an_order(shop):
    order = paid_order(shop)
    from shouhou.assistant import chat

    plain = chat.open_conversation(shop, order.customer)
    assert compose(plain, "shipping_time") is None
    assert compose(plain, "return_refund") is None


def test_long_faq_answers_fit_a_message(shop):
    long = entry(shop, "很长的问题", "other", "长" * 3900)
    reply = compose(chat_about(paid_order(shop)), "other", FaqMatch(long, 0.9, True))
    assert len(reply.body) == answers.MAX_BODY and reply.body.endswith("…")


def test_default_faq_installs_with_a_shipping_promise(shop):
    retrieval.install_default_faq(shop)
    reply = compose(chat_about(paid_order(shop)), "shipping_time")
    assert reply.faq_entry is not None and reply.faq_entry.category == "shipping"
