"""After erasure the person is nowhere: every text, JSON and file column of every model
(encrypted ones read decrypted through the ORM) is searched for the buyer's distinctive
values — nickname, name, phone, address, a phrase from the case description, one from a
statement and one from a chat message — including the stored Idempotency-Key response of
the case opened through the API, the audit log of the agent's assistant corrections and
the FAQ phrasings learned from the buyer's words. The shop's accounting stays the same.
The search is shown to find every value before the erasure, so it cannot pass by looking
nowhere."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.db import models

from shouhou.assistant import chat, nlp
from shouhou.assistant.models import FaqEntry
from shouhou.cases import services
from shouhou.core.models import AuditLog
from shouhou.customers import privacy
from shouhou.orders.models import Order
from tests.api.support import buyer_api, key_api
from tests.factories import buyer

from .test_export_erase import accounting

pytestmark = pytest.mark.django_db

NICKNAME = "霁月清风鹿"
NAME = "欧阳霁月"
PHONE = "13877665544"
ADDRESS = "云南省大理市洱海巷 99 号 7 栋"
DESCRIPTION = "锁边线头全部崩开了"
STATEMENT = "快递员把箱子压扁"
CHAT = "珐琅纽扣镶嵌脱落"
TRACES = [NICKNAME, NAME, PHONE, ADDRESS, DESCRIPTION, STATEMENT, CHAT]


def everything() -> str:
    """Every text-like column of every model, as one string (JSON, non-ASCII kept)."""
    kinds = (models.CharField, models.TextField, models.JSONField, models.FileField)
    out = []
    for model in apps.get_models():
        names = [f.attname for f in model._meta.concrete_fields if isinstance(f, kinds)]
        if names:
            rows = model._base_manager.values_list(*names)
            out.append(json.dumps([model._meta.label, list(rows)], ensure_ascii=False, default=str))
    return "\n".join(out)


def found(text: str) -> dict[str, list[str]]:
    """Which traces occur, and in which models (the labels of the rows' lines)."""
    hits: dict[str, list[str]] = {}
    for line in text.splitlines():
        label = json.loads(line)[0]
        for t in TRACES:
            if t in line or t.encode("unicode_escape").decode() in line:
                hits.setdefault(t, []).append(label)
    return hits


def test_after_erasure_no_table_holds_the_person(shop, staff):
    resp = key_api(shop).post(
        "/orders",
        {
            "external_id": "ERASE-1",
            "status": "delivered",
            "receiver_name": NAME,
            "receiver_phone": PHONE,
            "receiver_address": ADDRESS,
            "customer": {
                "external_id": "erase-buyer",
                "nickname": NICKNAME,
                "name": NAME,
                "phone": PHONE,
                "address": ADDRESS,
            },
            "lines": [
                {"external_id": "1", "title": "羊毛衫", "quantity": 1, "unit_price_fen": 19900}
            ],
        },
    )
    assert resp.status_code == 201, resp.content
    order = Order.objects.get(shop=shop, external_id="ERASE-1")
    customer = order.customer
    line = order.lines.get()
    opened = buyer_api(order).post(
        "/cases",
        {
            "order_id": order.id,
            "type": "refund_only",
            "reason": "quality",
            "description": f"{DESCRIPTION}，联系 {NICKNAME} {PHONE}",
            "lines": [{"order_line_id": line.id, "quantity": 1}],
        },
        headers={"Idempotency-Key": "erase-k-1"},
    )
    assert opened.status_code == 201, opened.content
    case_id = opened.json()["id"]
    services.add_note(case_id, buyer(order), text=STATEMENT)
    services.agree(case_id, staff.agent)
    services.confirm_refund(case_id, staff.finance)

    conv = chat.open_conversation(shop, customer, order=order)
    said = chat.buyer_says(conv.id, f"{CHAT}，我的电话 {PHONE}")
    message = next(m for m in said if m.author_kind == "buyer")
    entry = FaqEntry.objects.create(shop=shop, question="纽扣掉了怎么办", answer="可以补寄")
    chat.correct_faq(message.id, staff.agent, faq_entry_id=entry.id)
    chat.correct_intent(message.id, staff.agent, intent=next(iter(nlp.INTENTS)))
    # Rows written before the target became `message:<id>` held the buyer's words.
    AuditLog.objects.filter(action="assistant.correct_intent").update(target=message.body[:120])
    entry.refresh_from_db()
    assert CHAT in entry.keywords  # learned from the buyer's words
    FaqEntry.objects.filter(pk=entry.pk).update(keywords="运费谁出\n" + entry.keywords)
    privacy.reveal_customer(staff.agent, customer.id, ["phone"])

    before = found(everything())
    assert set(before) == set(TRACES), before  # the search sees each value
    money = accounting(shop)

    privacy.erase_customer(staff.admin, customer.id)

    assert found(everything()) == {}
    assert accounting(shop) == money
    # What is not the person's stays: the shop's own phrasing, the corrections' targets.
    entry.refresh_from_db()
    assert entry.keywords.splitlines() == ["运费谁出"]
    targets = set(
        AuditLog.objects.filter(action__startswith="assistant.correct").values_list(
            "target", flat=True
        )
    )
    assert targets == {f"message:{message.id}"}
