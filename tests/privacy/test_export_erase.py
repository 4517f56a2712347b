"""Per-customer export (everything held on the person) and erasure (the person goes, the
shop's accounting stays), for the shop admin only, each audited."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum
from django.test import Client
from PIL import Image

from shouhou.assistant.models import Conversation, Message
from shouhou.cases import services
from shouhou.cases.evidence import add_evidence
from shouhou.cases.models import Case, CaseRating, Evidence, RefundInstruction, TimelineEvent
from shouhou.core import clock
from shouhou.core.auth import open_buyer_session
from shouhou.core.errors import ShouhouError
from shouhou.core.models import AuditLog
from shouhou.customers import privacy
from shouhou.customers.models import Customer
from shouhou.customers.services import update_archive
from shouhou.orders.models import Order, OrderLine
from tests.cases.support import open_case
from tests.factories import buyer, make_customer, make_order, make_staff

pytestmark = pytest.mark.django_db

PHONE = "13566778899"
ADDRESS = "江苏省南京市鼓楼区中山北路 321 号 6 幢 808"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def history(shop, staff):
    """A customer with two orders, a completed refund with a photo and a rating, a second
    (closed) case, a chat, notes and tags."""
    customer = make_customer(
        shop,
        external_id="tb_buyer_42",
        nickname="小鹿",
        name="林小鹿",
        phone=PHONE,
        address=ADDRESS,
    )
    o1 = make_order(shop, customer, lines=[(2, 5000), (1, 3000)])
    o2 = make_order(shop, customer, lines=[(1, 8800)])
    for o in (o1, o2):
        o.receiver_name, o.receiver_phone, o.receiver_address = "林小鹿", PHONE, ADDRESS
        o.save()
    case = open_case(shop, o1, "refund_only", description="衣服起球严重，我的电话 " + PHONE)
    add_evidence(case.id, buyer(o1), SimpleUploadedFile("起球.png", png()), note="照片")
    services.agree(case.id, staff.agent)
    services.confirm_refund(case.id, staff.finance)
    services.rate(case.id, buyer(o1), speed=4, satisfaction=5, comment="处理很快，谢谢")
    other = open_case(shop, o2, "refund_only", description="不想要了")
    services.cancel(other.id, buyer(o2))
    now = clock.now()
    conv = Conversation.objects.create(
        shop=shop,
        customer=customer,
        order=o1,
        status="closed",
        started_at=now,
        last_message_at=now,
        closed_at=now,
    )
    Message.objects.create(
        shop=shop,
        conversation=conv,
        author_kind="buyer",
        body=f"我的地址是{ADDRESS}",
        created_at=now,
    )
    Message.objects.create(
        shop=shop, conversation=conv, author_kind="agent", body="好的，已记录", created_at=now
    )
    update_archive(staff.agent, customer.id, notes="老客户，电话常打不通", tags=["VIP"])
    return customer, [o1, o2], [case, other], conv


def accounting(shop):
    """What erasure must not touch: money, dates, statuses and counts."""
    return {
        "orders": list(
            Order.objects.filter(shop=shop)
            .order_by("id")
            .values_list("id", "external_id", "status", "total_paid_fen", "placed_at", "paid_at")
        ),
        "lines": list(
            OrderLine.objects.filter(shop=shop)
            .order_by("id")
            .values_list("id", "paid_fen", "refunded_fen", "quantity")
        ),
        "cases": list(
            Case.objects.filter(shop=shop)
            .order_by("id")
            .values_list("id", "number", "status", "refund_fen", "opened_at", "closed_at")
        ),
        "refunds": list(
            RefundInstruction.objects.filter(shop=shop)
            .order_by("id")
            .values_list("reference", "amount_fen", "status", "issued_at", "confirmed_at")
        ),
        "sums": (
            Order.objects.filter(shop=shop).aggregate(Sum("total_paid_fen"), Count("id")),
            RefundInstruction.objects.filter(shop=shop).aggregate(Sum("amount_fen"), Count("id")),
            Case.objects.filter(shop=shop).aggregate(Sum("refund_fen"), Count("id")),
        ),
        "ratings": list(CaseRating.objects.filter(shop=shop).values_list("speed", "satisfaction")),
        "timeline": TimelineEvent.objects.filter(shop=shop).count(),
        "evidence": Evidence.objects.filter(shop=shop).count(),
    }


def test_export_holds_everything_on_the_person(shop, staff, history):
    customer, orders, cases, conv = history
    data = privacy.export_customer(staff.admin, customer.id)
    json.dumps(data)  # JSON-able as is
    assert data["customer"]["phone"] == PHONE and data["customer"]["address"] == ADDRESS
    assert data["customer"]["name"] == "林小鹿" and data["customer"]["tags"] == ["VIP"]
    assert [o["external_id"] for o in data["orders"]] == [o.external_id for o in orders]
    assert data["orders"][0]["receiver_phone"] == PHONE
    assert [ln["paid_fen"] for ln in data["orders"][0]["lines"]] == [10000, 3000]
    first = next(c for c in data["cases"] if c["id"] == cases[0].id)
    assert first["description"].startswith("衣服起球严重")
    assert (
        first["refund"]["amount_fen"] == cases[0].__class__.objects.get(pk=cases[0].id).refund_fen
    )
    assert first["rating"]["comment"] == "处理很快，谢谢"
    assert first["evidence"][0]["original_name"].startswith("起球")
    assert any(ev["action"] == "open" for ev in first["timeline"])
    assert [m["body"] for m in data["conversations"][0]["messages"]] == [
        f"我的地址是{ADDRESS}",
        "好的，已记录",
    ]
    entry = AuditLog.objects.get(action="customer.exported")
    assert entry.target == f"customer:{customer.id}" and PHONE not in json.dumps(entry.data)


@pytest.mark.parametrize("role", ["agent", "warehouse", "finance", "integration"])
def test_only_the_admin_exports_and_erases(shop, staff, history, role):
    customer = history[0]
    for call in (privacy.export_customer, privacy.erase_customer):
        with pytest.raises(ShouhouError) as err:
            call(getattr(staff, role), customer.id)
        assert err.value.code == "permission_denied"
    assert not AuditLog.objects.filter(action__in=["customer.exported", "customer.erased"]).exists()


def test_erasure_removes_the_person_and_keeps_the_accounting(
    shop, staff, history, settings, django_capture_on_commit_callbacks
):
    customer, orders, cases, conv = history
    ev = Evidence.objects.get(case=cases[0])
    photo = Path(settings.MEDIA_ROOT) / ev.file.name
    assert photo.exists()
    # The buyer can reach the order with the last four digits before...
    open_buyer_session(
        shop_code=shop.code, order_external_id=orders[0].external_id, phone_last4="8899"
    )
    before = accounting(shop)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        counts = privacy.erase_customer(staff.admin, customer.id)
        assert photo.exists()  # the file goes only once the erasure is committed
    assert len(callbacks) == 1
    assert counts == {"orders": 2, "cases": 2, "messages": 1, "evidence": 1}

    assert accounting(shop) == before
    c = Customer.objects.get(pk=customer.id)
    assert (c.nickname, c.name, c.phone, c.address) == (privacy.ERASED, "", "", "")
    assert (c.phone_index, c.phone_last4, c.notes, c.tags) == ("", "", "", [])
    assert c.erased_at is not None
    assert c.external_id == "tb_buyer_42"  # the marketplace's id: the shop's accounting key
    for o in Order.objects.filter(customer=customer):
        assert (o.receiver_name, o.receiver_phone, o.receiver_address) == ("", "", "")
    assert set(Case.objects.filter(customer=customer).values_list("description", flat=True)) == {
        privacy.ERASED
    }
    buyer_words = TimelineEvent.objects.filter(case__in=cases, actor_role="buyer").exclude(
        message=""
    )
    assert set(buyer_words.values_list("message", flat=True)) == {privacy.ERASED}
    assert CaseRating.objects.get(case=cases[0]).comment == privacy.ERASED
    assert list(conv.messages.order_by("id").values_list("body", flat=True)) == [
        privacy.ERASED,
        "好的，已记录",
    ]
    ev.refresh_from_db()
    assert (ev.file.name, ev.original_name) == ("", privacy.ERASED)
    assert not photo.exists()
    archive_audit = AuditLog.objects.get(action="customer.archive_updated")
    assert "电话常打不通" not in json.dumps(archive_audit.data, ensure_ascii=False)
    erased = AuditLog.objects.get(action="customer.erased")
    assert erased.target == f"customer:{customer.id}"

    # ...and not after: the last four digits are gone with the phone.
    with pytest.raises(ShouhouError) as err:
        open_buyer_session(
            shop_code=shop.code, order_external_id=orders[0].external_id, phone_last4="8899"
        )
    assert err.value.code == "not_found"

    # A second erasure changes nothing and writes no second audit entry.
    snapshot = (accounting(shop), list(Customer.objects.filter(pk=c.pk).values()))
    assert privacy.erase_customer(staff.admin, customer.id) == {"already_erased": 1}
    assert (accounting(shop), list(Customer.objects.filter(pk=c.pk).values())) == snapshot
    assert AuditLog.objects.filter(action="customer.erased").count() == 1

    # The export after erasure holds no trace of the person either.
    exported = json.dumps(privacy.export_customer(staff.admin, customer.id), ensure_ascii=False)
    for trace in (PHONE, "南京市", "林小鹿", "小鹿", "起球严重", "电话常打不通"):
        assert trace not in exported


def test_erasure_refused_while_a_case_is_open(shop, staff):
    customer = make_customer(shop, phone=PHONE)
    order = make_order(shop, customer)
    case = open_case(shop, order, "refund_only")
    with pytest.raises(ShouhouError) as err:
        privacy.erase_customer(staff.admin, customer.id)
    assert err.value.code == "customer_has_open_cases" and err.value.params == {"count": 1}
    assert "1" in err.value.message("zh-hans") and "open case" in err.value.message("en")
    assert Customer.objects.get(pk=customer.id).phone == PHONE
    assert not AuditLog.objects.filter(action="customer.erased").exists()
    services.cancel(case.id, buyer(order))
    privacy.erase_customer(staff.admin, customer.id)
    assert Customer.objects.get(pk=customer.id).phone == ""


def test_customer_page_export_and_erase(shop, history):
    customer = history[0]
    member = make_staff(shop, "admin")
    admin = Client()
    admin.force_login(member.user)
    page = admin.get(f"/wb/customers/{customer.id}/").content.decode()
    assert "customer-erase-confirm" in page and PHONE not in page and "中山北路" not in page
    case_page = admin.get(f"/wb/cases/{history[2][0].id}/").content.decode()
    assert f'href="/wb/customers/{customer.id}/"' in case_page

    resp = admin.post(f"/wb/customers/{customer.id}/export/")
    assert resp.status_code == 200 and "attachment" in resp["Content-Disposition"]
    assert json.loads(resp.content)["customer"]["phone"] == PHONE

    wrong = admin.post(f"/wb/customers/{customer.id}/erase/", {"confirm": "someone-else"})
    assert wrong.status_code == 302
    assert Customer.objects.get(pk=customer.id).phone == PHONE
    ok = admin.post(f"/wb/customers/{customer.id}/erase/", {"confirm": "tb_buyer_42"})
    assert ok.status_code == 302
    assert Customer.objects.get(pk=customer.id).erased_at is not None
    page = admin.get(f"/wb/customers/{customer.id}/").content.decode()
    assert "customer-erased" in page and "customer-erase-confirm" not in page

    agent = Client()
    agent.force_login(make_staff(shop, "agent").user)
    for url in ("", "export/", "erase/"):
        method = agent.get if not url else agent.post
        assert method(f"/wb/customers/{customer.id}/{url}").status_code == 403


def test_cli_export_and_erase(shop, history, tmp_path):
    customer = history[0]
    out_file = tmp_path / "export.json"
    call_command(
        "customer", "export", "--shop", shop.code, "--buyer", "tb_buyer_42", "-o", str(out_file)
    )
    assert json.loads(out_file.read_text())["customer"]["phone"] == PHONE
    assert (out_file.stat().st_mode & 0o777) == 0o600
    with pytest.raises(CommandError, match="no customer"):
        call_command("customer", "erase", "--shop", shop.code, "--buyer", "nobody", "--yes")
    out = io.StringIO()
    call_command(
        "customer", "erase", "--shop", shop.code, "--buyer", "tb_buyer_42", "--yes", stdout=out
    )
    assert "erased" in out.getvalue()
    assert Customer.objects.get(pk=customer.id).phone == ""
    assert AuditLog.objects.get(action="customer.erased").actor == "命令行 CLI"
