"""Erasure against opening a case: nothing is opened for an erased person (a buyer token
issued before the erasure still authenticates), and an erasure racing an open never lets
both through — the open takes the customer's row lock, as the erasure does."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from shouhou.cases import services
from shouhou.cases.models import Case
from shouhou.core.errors import ShouhouError
from shouhou.customers import privacy
from shouhou.customers.models import Customer
from tests.api.support import buyer_api
from tests.cases.support import Staff, open_case
from tests.factories import make_customer, make_order, make_shop


@pytest.mark.django_db
def test_no_case_is_opened_for_an_erased_customer(shop, staff):
    order = make_order(shop, make_customer(shop, phone="13612340000"))
    api = buyer_api(order)  # the token was issued before the erasure
    privacy.erase_customer(staff.admin, order.customer_id)
    resp = api.post(
        "/cases",
        {
            "order_id": order.id,
            "type": "refund_only",
            "reason": "quality",
            "lines": [{"order_line_id": order.lines.first().id, "quantity": 1}],
        },
    )
    assert resp.status_code == 409, resp.content
    assert resp.json()["code"] == "customer_erased"
    with pytest.raises(ShouhouError) as err:
        open_case(shop, order, "refund_only")  # staff opening it on the desk, too
    assert err.value.code == "customer_erased"
    assert not Case.objects.filter(order=order).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_erasure_while_a_case_is_being_opened(monkeypatch):
    """The open is held inside its transaction (after its locks) while the erasure runs on
    another connection. Before the open locked the customer, the erasure saw no open case,
    erased, and the open then committed a case for the erased person."""
    shop = make_shop()
    staff = Staff.of(shop)
    order = make_order(shop, make_customer(shop, phone="13612340001"))
    in_open, release = threading.Event(), threading.Event()
    real = services._price_lines

    def held(*args, **kwargs):
        out = real(*args, **kwargs)
        in_open.set()
        release.wait(timeout=1.0)  # the erasure either finishes or blocks meanwhile
        return out

    monkeypatch.setattr(services, "_price_lines", held)
    results: dict[str, object] = {}

    def run(name, fn):
        try:
            results[name] = fn()
        except BaseException as exc:  # noqa: BLE001 — reported to the test thread
            results[name] = exc
        finally:
            connection.close()

    opener = threading.Thread(
        target=run, args=("open", lambda: open_case(shop, order, "refund_only"))
    )
    eraser = threading.Thread(
        target=run, args=("erase", lambda: privacy.erase_customer(staff.admin, order.customer_id))
    )
    opener.start()
    assert in_open.wait(timeout=30)
    eraser.start()
    eraser.join(timeout=1.0)
    release.set()
    for t in (opener, eraser):
        t.join(timeout=60)
        assert not t.is_alive(), "deadlock"
    erased = Customer.objects.get(pk=order.customer_id).erased_at is not None
    open_cases = Case.objects.filter(customer_id=order.customer_id, is_open=True).count()
    assert not (erased and open_cases), results
    # The open held the customer first, so it wins and the erasure is refused.
    assert isinstance(results["open"], Case), results
    assert isinstance(results["erase"], ShouhouError), results
    assert results["erase"].code == "customer_has_open_cases"
