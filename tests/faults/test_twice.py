"""Every request twice (issue 5, faults): a return-refund walked through the API where
each request is sent twice — one after the other, and (PostgreSQL, real threads) both at
once. The second gets the same answer (an idempotent replay) or a clean refusal
(`case_conflict`, `action_not_allowed`, `duplicate_request`, `already_rated`); the case
moves once; exactly one refund instruction and one refund.issued message."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client

from shouhou.cases.models import Case, CaseRating, RefundInstruction, TimelineEvent
from shouhou.notify.models import Endpoint, OutboxMessage
from tests.api.support import Api, buyer_api, key_api, staff_api
from tests.factories import make_customer, make_order

REFUSALS = {"case_conflict", "action_not_allowed", "duplicate_request", "already_rated"}


def clone(api: Api) -> Api:
    """The same credentials on a client of its own (one per thread)."""
    client = Client()
    client.cookies = api.client.cookies
    twin = Api(client, **api.headers)
    return twin


def sequential(call: Callable[[Api], object], api: Api) -> list:
    return [call(api), call(api)]


def concurrent(call: Callable[[Api], object], api: Api) -> list:
    barrier = threading.Barrier(2)
    out: list = [None, None]

    def run(i: int) -> None:
        twin = clone(api)
        try:
            barrier.wait(timeout=10)
            out[i] = call(twin)
        except BaseException as exc:  # noqa: BLE001 — reported below
            out[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a request hung"
    for r in out:
        if isinstance(r, BaseException):
            raise r
    return out


def one_moved(responses: list, ok: int = 200) -> dict:
    """One answer moved the case; the other is a clean refusal. Returns the winner's body."""
    codes = sorted(r.status_code for r in responses)
    assert codes == sorted([ok, 409]) or codes == [ok, 422] or codes == [409, ok], [
        (r.status_code, r.content[:300]) for r in responses
    ]
    winner = next(r for r in responses if r.status_code == ok)
    loser = next(r for r in responses if r.status_code != ok)
    assert loser.json()["code"] in REFUSALS, loser.content
    return winner.json()


def walk(shop, send: Callable[[Callable[[Api], object], Api], list]) -> int:
    Endpoint.objects.create(shop=shop, name="ERP", channel="webhook", url="http://127.0.0.1:9/")
    order = make_order(shop, make_customer(shop), lines=[(2, 5000)])
    integration, agent = key_api(shop), staff_api(shop, "agent")
    warehouse, finance, buyer = (
        staff_api(shop, "warehouse"),
        staff_api(shop, "finance"),
        buyer_api(order),
    )
    line = order.lines.get()
    key = f"open-{uuid.uuid4()}"
    body = {
        "order_id": order.id,
        "type": "return_refund",
        "reason": "quality",
        "lines": [{"order_line_id": line.id, "quantity": 1}],
    }

    opened = send(lambda a: a.post("/cases", body, headers={"Idempotency-Key": key}), integration)
    created = [r for r in opened if r.status_code == 201]
    assert created, [(r.status_code, r.content) for r in opened]
    cid = created[0].json()["id"]
    for r in opened:
        if r.status_code == 201:
            assert r.json()["id"] == cid  # the replay: the same answer
        else:
            assert (r.status_code, r.json()["code"]) == (409, "duplicate_request"), r.content
    detail = created[0].json()

    def act(name: str, extra: dict | None = None):
        return lambda a: a.act(cid, name, {"version": detail["version"], **(extra or {})})

    for name, api, extra, status in [
        ("agree", agent, {"note": "请寄回"}, "awaiting_buyer_return"),
        (
            "ship_return",
            buyer,
            {"carrier": "顺丰", "tracking_no": "SF1234567890"},
            "awaiting_merchant_receipt",
        ),
        ("confirm_receipt", warehouse, {"note": "验货通过"}, "refunding"),
        ("confirm_refund", finance, None, "completed"),
    ]:
        detail = one_moved(send(act(name, extra), api))
        assert detail["status"] == status, (name, detail["status"])
        # A naive client's retry without the version: refused, nothing moves.
        again = api.act(cid, name, extra or {})
        assert again.status_code in {409, 422} and again.json()["code"] in REFUSALS, again.content

    rated = send(lambda a: a.post(f"/cases/{cid}/rating", {"speed": 5, "satisfaction": 4}), buyer)
    one_moved(rated, ok=201)
    return cid


def check_once(shop, cid: int) -> None:
    case = Case.objects.get(pk=cid)
    assert Case.objects.filter(shop=shop).count() == 1
    assert case.status == "completed"
    actions = Counter(TimelineEvent.objects.filter(case=case).values_list("action", flat=True))
    for action in (
        "open",
        "agree",
        "ship_return",
        "confirm_receipt",
        "refund_issued",
        "confirm_refund",
        "rate",
    ):
        assert actions[action] == 1, (action, actions)
    assert RefundInstruction.objects.filter(case=case).count() == 1
    refund = RefundInstruction.objects.get(case=case)
    assert CaseRating.objects.filter(case=case).count() == 1
    issued = OutboxMessage.objects.filter(shop=shop, topic="refund.issued")
    assert [m.dedupe_key for m in issued] == [refund.reference]
    assert OutboxMessage.objects.filter(shop=shop, topic="case.opened").count() == 1
    assert OutboxMessage.objects.filter(shop=shop, topic="case.status_changed").count() == 4


@pytest.mark.django_db
def test_every_request_twice_one_after_the_other(shop):
    check_once(shop, walk(shop, sequential))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_every_request_twice_at_the_same_time(shop):
    check_once(shop, walk(shop, concurrent))
