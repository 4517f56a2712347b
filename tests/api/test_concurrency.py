"""Races over HTTP on a real PostgreSQL: the duplicate submit and the two agents."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from shouhou.cases.models import Case, CaseLine, TimelineEvent
from shouhou.core.models import ApiKey
from tests.factories import make_customer, make_order, make_shop, make_staff

from .support import Api, staff_api

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_parallel(n: int, fn):
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            return fn(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_concurrent_duplicates_with_one_idempotency_key_make_one_case():
    shop = make_shop(code="race")
    order = make_order(shop, make_customer(shop), lines=[(3, 1000)])
    _, secret = ApiKey.issue(shop, "ERP")
    body = {
        "order_id": order.id,
        "type": "return_refund",
        "reason": "quality",
        "lines": [{"order_line_id": order.lines.get().id, "quantity": 1}],
    }

    def submit(_):
        resp = Api(Authorization=f"Bearer {secret}").post(
            "/cases", body, headers={"Idempotency-Key": "double-click"}
        )
        return resp.status_code, resp.json()

    results = in_parallel(6, submit)
    statuses = [s for s, _ in results]
    assert set(statuses) <= {201, 409}, results
    created = {b["id"] for s, b in results if s == 201}
    assert len(created) == 1
    assert all(b["code"] == "duplicate_request" for s, b in results if s == 409)
    assert Case.objects.filter(shop=shop).count() == 1
    assert CaseLine.objects.filter(shop=shop).count() == 1
    assert TimelineEvent.objects.filter(shop=shop).count() == 1
    again = submit(0)
    assert again == (201, next(b for s, b in results if s == 201))


def test_two_agents_acting_at_once_one_wins():
    shop = make_shop(code="race2")
    order = make_order(shop, make_customer(shop))
    _, secret = ApiKey.issue(shop, "ERP")
    owner = Api(Authorization=f"Bearer {secret}")
    case = owner.post(
        "/cases",
        {
            "order_id": order.id,
            "type": "return_refund",
            "reason": "quality",
            "lines": [{"order_line_id": order.lines.get().id, "quantity": 1}],
        },
    ).json()
    agents = [staff_api(shop, "agent", make_staff(shop, "agent")) for _ in range(2)]
    bodies = [
        ("agree", {"version": case["version"]}),
        ("reject", {"version": case["version"], "reason": "不同意"}),
    ]

    def act(i):
        action, body = bodies[i]
        resp = agents[i].act(case["id"], action, body)
        return resp.status_code, resp.json()

    results = in_parallel(2, act)
    assert sorted(s for s, _ in results) == [200, 409], results
    loser = next(b for s, b in results if s == 409)
    assert loser["code"] in {"case_conflict", "action_not_allowed"}
    final = owner.get(f"/cases/{case['id']}").json()
    assert final["version"] == case["version"] + 1
    assert [e["action"] for e in final["timeline"]].count("open") == 1
