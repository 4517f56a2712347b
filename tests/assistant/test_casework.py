"""The assistant reads every new case: an angry description raises the priority (inside
open_case's transaction, with a note saying why); a calm one changes nothing."""

from __future__ import annotations

import re

import pytest

from shouhou.assistant import casework
from shouhou.assistant.models import FaqEntry
from shouhou.cases import services
from shouhou.cases.models import Case, Priority, TimelineEvent
from shouhou.cases.policies import update_policy
from shouhou.core.errors import ShouhouError
from tests.factories import buyer, make_customer, make_order, make_staff, staff_actor

pytestmark = pytest.mark.django_db


def open_with(shop, description, *, order=None, actor=None, type="refund_only"):
    order = order or make_order(shop)
    return services.open_case(
        shop,
        actor or buyer(order),
        order=order,
        type=type,
        reason="quality",
        lines=[services.LineRequest(order.lines.first().id, 1)],
        description=description,
    )


def notes(case):
    return list(TimelineEvent.objects.filter(case=case, action="note").order_by("id"))


def test_angry_description_raises_priority_with_an_internal_note(shop):
    case = open_with(shop, "收到就是坏的，你们就是骗子！不给退款我就去12315投诉，必须差评！")
    assert case.priority == Priority.HIGH
    stored = Case.objects.get(pk=case.pk)
    assert stored.priority == Priority.HIGH
    # The returned object is current: the next action with its version succeeds.
    assert case.version == stored.version
    (note,) = notes(case)
    assert note.visibility == "internal" and note.actor_label == "智能客服"
    assert re.fullmatch(r"智能客服：买家情绪激动（负面 [01]\.\d\d），已提升优先级", note.message)
    agent = staff_actor(shop, "agent", make_staff(shop, "agent"))
    services.agree(case.id, agent, expected_version=case.version)


def test_calm_and_empty_descriptions_change_nothing(shop):
    for text in ("尺码小了一点，麻烦帮忙换大一号，谢谢", ""):
        case = open_with(shop, text)
        assert case.priority == Priority.NORMAL and notes(case) == []


def test_angry_vip_stays_urgent(shop):
    from shouhou.rules.services import install_templates, set_template_enabled

    install_templates(shop)
    set_template_enabled(shop, "vip_priority", True)
    customer = make_customer(shop, tier="vip")
    order = make_order(shop, customer)
    case = open_with(shop, "垃圾东西，骗子，我要投诉！", order=order)
    assert Case.objects.get(pk=case.pk).priority == Priority.URGENT  # the VIP rule, after


def test_an_explicit_higher_priority_is_never_lowered(shop):
    case = open_with(shop, "不保温")
    admin = staff_actor(shop, "admin", make_staff(shop, "admin"))
    services.set_priority(case.id, admin, priority=Priority.URGENT)
    casework.angry_message(case.id, 0.99)
    assert Case.objects.get(pk=case.pk).priority == Priority.URGENT
    assert notes(case) == []


def test_a_refused_case_leaves_no_note_behind(shop):
    order = make_order(shop)
    with pytest.raises(ShouhouError):
        services.open_case(
            shop,
            buyer(order),
            order=order,
            type="price_protect",  # quality does not allow price protection
            reason="quality",
            lines=[services.LineRequest(order.lines.first().id, 1)],
            description="骗子！投诉！",
        )
    assert not TimelineEvent.objects.filter(shop=shop).exists()


def test_allowed_type_follows_the_policy(shop):
    assert casework.allowed_type(shop, "quality", "exchange") == "exchange"
    assert casework.allowed_type(shop, "price_change", "return_refund") == "price_protect"
    assert casework.allowed_type(shop, "wrong_size", "refund_only") == "return_refund"
    update_policy(shop, reason_types={"quality": ["repair"]})
    assert casework.allowed_type(shop, "quality", "return_refund") == "repair"


def test_learn_phrasing_adds_once_and_never_overflows(shop):
    entry = FaqEntry.objects.create(
        shop=shop, question="退款多久到账？", answer="1–3 个工作日", keywords="钱什么时候退"
    )
    assert casework.learn_phrasing(entry, "  退的钱\n啥时候到  ")
    assert entry.keywords.splitlines() == ["钱什么时候退", "退的钱 啥时候到"]
    assert not casework.learn_phrasing(entry, "退的钱 啥时候到")
    assert not casework.learn_phrasing(entry, "退款多久到账？")  # the question itself
    assert not casework.learn_phrasing(entry, "   ")
    entry.keywords = "很" * 1990
    assert not casework.learn_phrasing(entry, "再加上这句话就超过两千字了")
