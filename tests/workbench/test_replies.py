"""Canned replies: ranked for the case, variables filled, a sent reply counts one use."""

from __future__ import annotations

from shouhou.assistant import replies
from shouhou.assistant.models import CannedReply
from shouhou.cases import selectors, services
from shouhou.cases.models import TimelineEvent
from tests.factories import make_customer, staff_actor

from .support import client_for, open_case, refreshed


def _detail(shop, case):
    return selectors.case_detail(staff_actor(shop, "agent"), case.id)


def test_every_variable_is_filled_from_the_case(shop):
    customer = make_customer(shop, nickname="小美")
    case = open_case(shop, "return_refund", customer=customer)
    services.agree(case.id, staff_actor(shop, "agent"))
    body = (
        "{buyer}您好，订单{order_no}的售后{case_no}当前{status}，请在{deadline}前寄回，"
        "退款{refund}，地址{return_address}，{shop}。{tracking}{unknown}"
    )
    text = replies.fill(body, replies.case_variables(_detail(shop, case), shop))
    case = refreshed(case)
    assert text.startswith(
        f"小美您好，订单{case.order.external_id}的售后{case.number}当前待买家退货"
    )
    assert "¥50.00" in text and "余杭区仓前街道" in text and shop.name in text
    assert "{unknown}" in text and "{tracking}" not in text  # empty until a parcel exists
    assert "{deadline}" not in text and "{" not in text.replace("{unknown}", "")


def test_replies_for_the_case_type_and_status_come_first(shop):
    case = open_case(shop, "refund_only")
    general = CannedReply.objects.create(shop=shop, title="通用", body="您好", times_used=50)
    exact = CannedReply.objects.create(
        shop=shop,
        title="退款处理中",
        body="{buyer}",
        case_types=["refund_only"],
        statuses=["awaiting_merchant"],
    )
    by_type = CannedReply.objects.create(
        shop=shop, title="仅退款", body="x", case_types=["refund_only"]
    )
    other = CannedReply.objects.create(shop=shop, title="换货", body="y", case_types=["exchange"])
    CannedReply.objects.create(shop=shop, title="停用", body="z", is_active=False)
    ranked = replies.ranked_for_case(shop, _detail(shop, case))
    assert [r["id"] for r in ranked] == [exact.id, by_type.id, general.id, other.id]


def test_sending_a_canned_reply_posts_it_publicly_and_counts_the_use(shop, team):
    case = open_case(shop)
    reply = CannedReply.objects.create(
        shop=shop, title="已收到", body="{buyer}您好，已收到您的申请"
    )
    client = client_for(team.agent)
    page = client.get(f"/wb/cases/{case.id}/").content.decode()
    filled = f"{case.customer.nickname}您好，已收到您的申请"
    assert f'data-reply-text="{filled}"' in page
    client.post(
        f"/wb/cases/{case.id}/act/reply/",
        {"version": case.version, "text": filled, "canned": reply.id},
    )
    event = TimelineEvent.objects.get(case=case, action="reply")
    assert event.visibility == "public" and event.message == filled
    reply.refresh_from_db()
    assert reply.times_used == 1
    # Another shop's reply id: refused, nothing posted, nothing counted.
    from tests.factories import make_shop

    foreign = CannedReply.objects.create(shop=make_shop(), title="x", body="x")
    client.post(
        f"/wb/cases/{case.id}/act/reply/",
        {"version": refreshed(case).version, "text": "hi", "canned": foreign.id},
    )
    assert TimelineEvent.objects.filter(case=case, action="reply").count() == 1
    foreign.refresh_from_db()
    assert foreign.times_used == 0
