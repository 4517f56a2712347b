"""The Django admin shows phones and addresses masked, on lists and change pages alike."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from shouhou.cases.models import ReturnAddress
from tests.factories import make_customer, make_order

pytestmark = pytest.mark.django_db

PHONE, ADDRESS = "13044556677", "内蒙古自治区呼和浩特市新城区青城巷 12 号"


def test_admin_pages_mask_personal_data(shop):
    customer = make_customer(shop, name="拓跋云", phone=PHONE, address=ADDRESS)
    order = make_order(shop, customer)
    order.receiver_name, order.receiver_phone, order.receiver_address = "拓跋云", PHONE, ADDRESS
    order.save()
    ra = ReturnAddress.objects.create(
        shop=shop, label="北仓", contact_name="仓管", phone="18800001234", address=ADDRESS
    )
    user = get_user_model().objects.create_superuser("root-admin", "r@example.com", "x")
    client = Client()
    client.force_login(user)
    pages = [
        "/admin/customers/customer/",
        f"/admin/customers/customer/{customer.id}/change/",
        "/admin/orders/order/",
        f"/admin/orders/order/{order.id}/change/",
        "/admin/cases/returnaddress/",
        f"/admin/cases/returnaddress/{ra.id}/change/",
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert "青城巷" not in body and PHONE not in body and "18800001234" not in body, url
        assert "拓跋云" not in body, url
    assert "130****6677" in client.get(pages[1]).content.decode()
    assert "188****1234" in client.get(pages[5]).content.decode()
