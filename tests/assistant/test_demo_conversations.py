"""The demo shops start with the default FAQ and a few conversations made by the chat
services: an angry buyer waiting for a person, answers by the assistant with the order's
facts, and a conversation an agent took over."""

from __future__ import annotations

import pytest

from shouhou import demo
from shouhou.assistant import retrieval
from shouhou.assistant.models import Conversation, FaqEntry, Message
from shouhou.cases.models import Priority, TimelineEvent
from shouhou.core.models import Shop
from shouhou.orders.models import Order, Shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    result = demo.build_demo(orders=80)
    assert not result.failures and not result.mismatches
    return result


def test_demo_shops_have_the_default_faq_and_real_conversations(built):
    main = Shop.objects.get(code=demo.MAIN_CODE)
    second = Shop.objects.get(code=demo.SECOND_CODE)
    for shop in (main, second):
        assert FaqEntry.objects.filter(shop=shop).count() == len(retrieval.default_faq())
    assert built.conversations == Conversation.objects.count() == 5

    angry = Conversation.objects.get(shop=main, status="waiting")
    assert angry.is_angry and angry.handover_reason == "angry" and angry.case_id
    assert angry.case.priority >= Priority.HIGH
    assert TimelineEvent.objects.filter(case=angry.case, action="note", actor_label="智能客服")

    with_agent = Conversation.objects.get(shop=main, status="with_agent")
    assert with_agent.handover_reason == "order_change" and with_agent.assignee_id
    assert with_agent.messages.filter(author_kind="agent").count() == 1

    answered = Conversation.objects.filter(shop=main, status="bot")
    assert answered.count() == 2
    for conversation in answered:
        assert not Message.objects.filter(conversation=conversation, author_kind="system")
        buyer = conversation.messages.filter(author_kind="buyer")
        assistant = conversation.messages.filter(author_kind="assistant")
        assert assistant.count() == buyer.count() + 1  # the welcome, then one answer each
    tracking = answered.get(messages__body=demo.DEMO_CHATS["tracking"][0])
    parcel = Shipment.objects.get(order=tracking.order, direction="outbound")
    assert parcel.tracking_no in tracking.messages.last().body
    assert Conversation.objects.filter(shop=second, status="bot").count() == 1
    # Every shipped order has its outbound parcel on record.
    shipped = Order.objects.filter(shipped_at__isnull=False)
    assert Shipment.objects.filter(direction="outbound").count() == shipped.count()
