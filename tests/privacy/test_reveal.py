"""Reveal: admins and agents see a full phone / address on request, each time audited;
everyone else is refused, and the pages show the button only to those who may use it."""

from __future__ import annotations

import pytest
from django.test import Client

from shouhou.core.errors import ShouhouError
from shouhou.core.models import AuditLog
from shouhou.customers import privacy
from tests.cases.support import open_case
from tests.factories import make_customer, make_order, make_staff

pytestmark = pytest.mark.django_db

PHONE = "13987654321"
ADDRESS = "四川省成都市武侯区科华北路 188 号 7 栋 2 单元 1101"


@pytest.fixture
def customer(shop):
    return make_customer(shop, name="欧阳娜娜", phone=PHONE, address=ADDRESS)


@pytest.fixture
def case(shop, customer):
    order = make_order(shop, customer)
    order.receiver_phone, order.receiver_address = "13700001111", "广东省深圳市南山区粤海街道 1 号"
    order.save()
    return open_case(shop, order, "refund_only")


def client_for(shop, role):
    member = make_staff(shop, role)
    c = Client()
    c.force_login(member.user)
    return c


@pytest.mark.parametrize("role", ["admin", "agent"])
def test_admin_and_agent_reveal_and_it_is_audited(shop, staff, customer, role):
    actor = getattr(staff, role)
    assert privacy.reveal_customer(actor, customer.id, ["phone", "address"]) == {
        "phone": PHONE,
        "address": ADDRESS,
    }
    entry = AuditLog.objects.get(shop=shop, action="customer.revealed")
    assert entry.target == f"customer:{customer.id}"
    assert entry.data == {"fields": ["phone", "address"]}
    assert PHONE not in str(entry.data) and "科华北路" not in str(entry.data)
    assert entry.actor == actor.label


@pytest.mark.parametrize("role", ["warehouse", "finance", "arbiter", "integration", "system"])
def test_other_roles_may_not_reveal(shop, staff, customer, role):
    with pytest.raises(ShouhouError) as err:
        privacy.reveal_customer(getattr(staff, role), customer.id, ["phone"])
    assert err.value.code == "permission_denied"
    assert not AuditLog.objects.filter(action="customer.revealed").exists()


def test_reveal_checks_fields_and_shop(shop, other_shop, staff, customer):
    for bad in ([], ["phone_index"], ["notes"]):
        with pytest.raises(ShouhouError, match="not valid"):
            privacy.reveal_customer(staff.agent, customer.id, bad)
    stranger = make_customer(other_shop, phone="13600000000")
    with pytest.raises(ShouhouError) as err:
        privacy.reveal_customer(staff.agent, stranger.id, ["phone"])
    assert err.value.code == "not_found"
    assert not AuditLog.objects.filter(action="customer.revealed").exists()


def test_case_page_reveal_button_swaps_in_the_full_value(shop, case, customer):
    agent = client_for(shop, "agent")
    page = agent.get(f"/wb/cases/{case.id}/").content.decode()
    assert 'data-testid="reveal-phone"' in page and 'data-testid="reveal-address"' in page
    assert PHONE not in page and "科华北路" not in page
    assert "139****4321" in page
    url = f"/wb/customers/{customer.id}/reveal/phone/"
    assert f'hx-post="{url}"' in page

    resp = agent.post(url, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert resp.content.decode().strip() == f'<span data-testid="customer-phone">{PHONE}</span>'
    assert (
        AuditLog.objects.filter(action="customer.revealed", data={"fields": ["phone"]}).count() == 1
    )
    resp = agent.post(f"/wb/customers/{customer.id}/reveal/address/")  # without htmx: a page
    assert resp.status_code == 200 and ADDRESS in resp.content.decode()
    assert agent.get(url).status_code == 405  # reveal is a POST, never a link to follow


def test_reveal_needs_csrf(shop, customer):
    member = make_staff(shop, "agent")
    c = Client(enforce_csrf_checks=True)
    c.force_login(member.user)
    resp = c.post(f"/wb/customers/{customer.id}/reveal/phone/", headers={"HX-Request": "true"})
    assert resp.status_code == 403
    assert PHONE not in resp.content.decode()
    assert not AuditLog.objects.filter(action="customer.revealed").exists()


@pytest.mark.parametrize("role", ["warehouse", "finance"])
def test_warehouse_and_finance_get_no_button_and_403(shop, case, customer, role):
    c = client_for(shop, role)
    if role == "warehouse":  # the warehouse reaches the case page, without the button
        page = c.get(f"/wb/cases/{case.id}/").content.decode()
        assert "reveal-phone" not in page and PHONE not in page
    resp = c.post(f"/wb/customers/{customer.id}/reveal/phone/", headers={"HX-Request": "true"})
    assert resp.status_code == 403
    assert PHONE not in resp.content.decode()
    assert not AuditLog.objects.filter(action="customer.revealed").exists()


def test_conversation_page_has_the_reveal_buttons(shop, customer):
    from shouhou.assistant.models import Conversation

    now = __import__("shouhou.core.clock", fromlist=["now"]).now()
    conv = Conversation.objects.create(
        shop=shop, customer=customer, status="waiting", started_at=now, last_message_at=now
    )
    page = client_for(shop, "agent").get(f"/wb/conversations/{conv.id}/").content.decode()
    assert 'data-testid="reveal-phone"' in page and 'data-testid="reveal-address"' in page
    assert PHONE not in page


def test_order_receiver_reveal_on_the_customer_page(shop, case, customer):
    admin = client_for(shop, "admin")
    page = admin.get(f"/wb/customers/{customer.id}/").content.decode()
    assert "13700001111" not in page and "137****1111" in page
    assert "粤海街道" not in page
    order_id = case.order_id
    resp = admin.post(
        f"/wb/customers/{customer.id}/orders/{order_id}/reveal/phone/",
        headers={"HX-Request": "true"},
    )
    assert resp.status_code == 200 and "13700001111" in resp.content.decode()
    entry = AuditLog.objects.get(action="order.receiver_revealed")
    assert entry.target == f"order:{order_id}" and entry.data == {"fields": ["phone"]}
    # The customer page is the admin's: agents may not open it.
    assert client_for(shop, "agent").get(f"/wb/customers/{customer.id}/").status_code == 403


@pytest.mark.parametrize(
    "back,shown",
    [
        ("/wb/cases/7/?tab=info", True),
        ("//evil.example/phish", False),
        ("/\\evil.example/phish", False),
        ("https://evil.example/", False),
        ("javascript:alert(1)", False),
        ("", False),
    ],
)
def test_reveal_page_links_back_only_to_this_site(shop, customer, back, shown):
    agent = client_for(shop, "agent")
    resp = agent.post(f"/wb/customers/{customer.id}/reveal/phone/", {"next": back})
    assert resp.status_code == 200 and PHONE in resp.content.decode()
    html = resp.content.decode()
    assert ("← " in html) is shown
    assert "evil.example" not in html and "javascript:" not in html
    if shown:
        assert 'href="/wb/cases/7/?tab=info"' in html


@pytest.mark.parametrize("htmx", [True, False])
def test_revealed_values_and_the_export_are_never_cached(shop, case, customer, htmx):
    admin = client_for(shop, "admin")
    headers = {"HX-Request": "true"} if htmx else {}
    responses = [
        admin.post(f"/wb/customers/{customer.id}/reveal/phone/", headers=headers),
        admin.post(
            f"/wb/customers/{customer.id}/orders/{case.order_id}/reveal/address/", headers=headers
        ),
        admin.post(f"/wb/customers/{customer.id}/export/"),
    ]
    for resp in responses:
        assert resp.status_code == 200
        cache = {p.strip() for p in resp["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= cache, resp["Cache-Control"]
