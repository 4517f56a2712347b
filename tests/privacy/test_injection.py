"""A client-chosen string that looks like ciphertext ("enc1:<kid>:…") is stored encrypted
like any other text and reads back literally: it neither lands in a column raw (where every
read of the row and every key rotation would fail on its unknown key id) nor passes as a
value of ours. Only `crypto.Ciphertext`, made by our own code, passes the field unencrypted.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from shouhou.cases.models import ReturnAddress
from shouhou.core import crypto
from shouhou.core.management.commands import keys
from shouhou.customers.models import Customer
from shouhou.orders.models import Order
from tests.api.support import key_api
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

LOOKALIKE = "enc1:zz:AAAA"


def raw(model, pk, column):
    with connection.cursor() as cur:
        table = connection.ops.quote_name(model._meta.db_table)
        cur.execute(f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk])
        return cur.fetchone()[0]


def test_lookalike_ciphertext_through_the_api_round_trips_as_text(shop):
    resp = key_api(shop).post(
        "/orders",
        {
            "external_id": "INJ-1",
            "status": "delivered",
            "receiver_name": "enc1:s1:",
            "receiver_address": LOOKALIKE,
            "customer": {"external_id": "inj-b", "address": LOOKALIKE, "name": LOOKALIKE},
            "lines": [{"external_id": "1", "title": "t", "quantity": 1, "unit_price_fen": 100}],
        },
    )
    assert resp.status_code == 201, resp.content
    order = Order.objects.get(shop=shop, external_id="INJ-1")
    customer = Customer.objects.get(pk=order.customer_id)
    assert order.receiver_address == LOOKALIKE
    assert order.receiver_name == "enc1:s1:"
    assert customer.address == customer.name == LOOKALIKE
    current = crypto.key_ring()[0]
    stored = raw(Order, order.pk, "receiver_address")
    assert stored != LOOKALIKE and crypto.stored_key_id(stored) == current
    # A rotation goes through (it aborted on the unknown key id "zz"), values unchanged.
    out = keys.rotate()
    assert out["left"] == 0
    order.refresh_from_db()
    assert order.receiver_address == LOOKALIKE
    assert crypto.stored_key_id(raw(Order, order.pk, "receiver_address")) == out["current"]


def test_lookalike_on_the_return_address_page(shop):
    client = Client()
    client.force_login(make_staff(shop, "admin").user)
    resp = client.post(
        "/wb/settings/addresses/",
        {"label": "仓", "contact_name": "仓管", "phone": "0571-88886666", "address": LOOKALIKE},
    )
    assert resp.status_code == 302, resp.content.decode()[:500]
    ra = ReturnAddress.objects.get(shop=shop, label="仓")
    assert ra.address == LOOKALIKE
    assert crypto.stored_key_id(raw(ReturnAddress, ra.pk, "address")) == crypto.key_ring()[0]


def test_only_our_ciphertext_type_passes_the_field(shop):
    field = Order._meta.get_field("receiver_address")
    ours = crypto.encrypt("杭州市")
    assert isinstance(ours, crypto.Ciphertext)
    assert field.get_prep_value(ours) == ours
    lookalike = field.get_prep_value(str(ours))  # the same text, but as a plain str
    assert lookalike != ours and crypto.decrypt(lookalike) == str(ours)
