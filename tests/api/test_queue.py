"""The case queue: order (deadline soonest first, none last, then id), filters, keyset pages
that never repeat or skip a case, and queries built for the queue indexes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shouhou.cases import services
from shouhou.cases.models import Case
from shouhou.core import clock
from tests.conftest import is_postgres
from tests.factories import buyer as buyer_actor
from tests.factories import make_order, make_staff

from .support import key_api, staff_api

FULL_SORT = re.compile(r"(^|->)\s*Sort\s+\(", re.MULTILINE)
TYPES = ["return_refund", "refund_only", "exchange"]
REASON_FOR = {"return_refund": "quality", "refund_only": "not_as_described", "exchange": "quality"}


@pytest.fixture
def many_cases(shop):
    """36 cases: shared deadlines (ties), some without a deadline, some closed."""
    agent = make_staff(shop, "agent")
    now = clock.now()
    ids = []
    for i in range(36):
        order = make_order(shop, lines=[(1, 1000 + i)])
        case_type = TYPES[i % 3]
        case = services.open_case(
            shop,
            buyer_actor(order),
            order=order,
            type=case_type,
            reason=REASON_FOR[case_type],
            lines=[services.LineRequest(order.lines.get().id, 1)],
            channel=["portal", "taobao"][i % 2],
        )
        ids.append(case.id)
        update = {"priority": i % 3, "assignee": agent if i % 4 == 0 else None}
        if i % 6 == 5:
            update.update(status="closed", is_open=False, deadline_at=None, deadline_action="")
        elif i % 5 == 0:
            update.update(deadline_at=None, deadline_action="")
        else:
            # Four cases share each deadline, so page cuts fall inside ties.
            update["deadline_at"] = now + timedelta(hours=(i % 7) + 1)
        if i % 9 == 0 and update.get("is_open", True):
            update["status"] = "rejected"
        Case.objects.filter(pk=case.id).update(**update)
    return {"ids": ids, "agent": agent}


def sort_ids(qs) -> list[int]:
    rows = list(qs.values_list("deadline_at", "id"))
    dated = sorted((r for r in rows if r[0] is not None), key=lambda r: (r[0], r[1]))
    undated = sorted((r for r in rows if r[0] is None), key=lambda r: r[1])
    return [r[1] for r in dated + undated]


def walk(api, params: dict, limit: int) -> list[int]:
    seen, cursor = [], None
    for _ in range(100):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        resp = api.get("/cases", query)
        assert resp.status_code == 200, resp.content
        page = resp.json()
        assert len(page["items"]) <= limit
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ended")


@pytest.mark.parametrize("limit", [1, 7])
@pytest.mark.parametrize(
    ("params", "filter_kw"),
    [
        ({}, {"is_open": True}),
        ({"scope": "all"}, {}),
        ({"scope": "closed"}, {"is_open": False}),
        (
            {"status": ["awaiting_merchant", "rejected"]},
            {"status__in": ["awaiting_merchant", "rejected"]},
        ),
        ({"status": "awaiting_merchant"}, {"status": "awaiting_merchant"}),
        (
            {"type": ["refund_only", "exchange"]},
            {"is_open": True, "type__in": ["refund_only", "exchange"]},
        ),
        (
            {"priority": [2], "channel": "taobao"},
            {"is_open": True, "priority": 2, "channel": "taobao"},
        ),
    ],
)
def test_pages_follow_the_queue_order(shop, many_cases, params, filter_kw, limit):
    api = key_api(shop)
    assert walk(api, params, limit) == sort_ids(Case.objects.filter(shop=shop, **filter_kw))


def test_assignee_and_deadline_filters(shop, many_cases):
    api = staff_api(shop, "agent", staff=many_cases["agent"])
    mine = walk(api, {"assignee": "me"}, 5)
    assert mine == sort_ids(
        Case.objects.filter(shop=shop, is_open=True, assignee=many_cases["agent"])
    )
    nobody = walk(api, {"assignee": "none"}, 5)
    assert nobody == sort_ids(Case.objects.filter(shop=shop, is_open=True, assignee__isnull=True))
    soon = clock.now() + timedelta(hours=3, minutes=30)
    due = walk(api, {"deadline_before": soon.isoformat()}, 4)
    assert due == sort_ids(Case.objects.filter(shop=shop, deadline_at__lt=soon))
    assert due  # the fixture has deadlines in the next three hours


def test_summary_fields_and_labels(shop, many_cases):
    item = key_api(shop).get("/cases", {"limit": 1}).json()["items"][0]
    assert item["status_label"] and item["type_label"] and item["reason_label"]
    assert isinstance(item["refund_fen"], int) and item["version"] >= 1
    assert item["order_external_id"].startswith("O")


def test_no_offset_and_no_count(shop, many_cases):
    api = key_api(shop)
    cursor = api.get("/cases", {"limit": 5}).json()["next_cursor"]
    with CaptureQueriesContext(connection) as ctx:
        assert (
            api.get(
                "/cases",
                {"limit": 5, "cursor": cursor, "status": ["rejected", "awaiting_merchant"]},
            ).status_code
            == 200
        )
    queue_sql = [q["sql"] for q in ctx.captured_queries if '"cases_case"' in q["sql"]]
    assert queue_sql
    for sql in queue_sql:
        assert "OFFSET" not in sql.upper()
        assert "COUNT(" not in sql.upper()
        assert '"description"' not in sql  # only the summary's columns are read


def test_bad_cursor_and_filters_are_422(shop):
    api = key_api(shop)
    assert api.get("/cases", {"cursor": "bm9wZQ"}).json()["code"] == "validation_error"
    assert api.get("/cases", {"status": "nope"}).status_code == 422
    assert api.get("/cases", {"limit": 201}).status_code == 422
    assert api.get("/cases", {"assignee": "x y"}).status_code == 422


@pytest.mark.postgres
def test_queue_queries_are_index_ranges_without_a_sort(shop):
    """Each queue query is served in order by an index — no full Sort, no Seq Scan — so a
    page reads about `limit` index entries however many cases the shop has."""
    order = make_order(shop)
    now = clock.now()
    statuses = ["awaiting_merchant", "rejected", "refunding", "in_arbitration", "completed"]
    rows = []
    for i in range(8000):
        status = statuses[i % len(statuses)]
        closed = status == "completed"
        rows.append(
            Case(
                shop=shop,
                number=f"BULK{i:08d}",
                order=order,
                customer_id=order.customer_id,
                type="refund_only",
                path="refund_only",
                reason="quality",
                status=status,
                channel="api",
                is_open=not closed,
                deadline_at=None if closed or i % 7 == 0 else now + timedelta(minutes=i),
                opened_at=now,
                updated_at=now,
            )
        )
    Case.objects.bulk_create(rows, batch_size=2000)
    with connection.cursor() as cur:
        cur.execute("ANALYZE cases_case")
    api = key_api(shop)
    for params in (
        {},
        {"scope": "all"},
        {"status": "awaiting_merchant"},
        {"status": ["rejected", "awaiting_merchant"]},
    ):
        cursor = api.get("/cases", {**params, "limit": 50}).json()["next_cursor"]
        for _ in range(2):  # a page in the dated part, then one deep in the undated part
            with CaptureQueriesContext(connection) as ctx:
                page = api.get("/cases", {**params, "limit": 50, "cursor": cursor}).json()
            queue_sql = [q["sql"] for q in ctx.captured_queries if 'FROM "cases_case"' in q["sql"]]
            assert queue_sql
            with connection.cursor() as cur:
                for sql in queue_sql:
                    cur.execute("EXPLAIN " + sql)
                    plan = "\n".join(row[0] for row in cur.fetchall())
                    # An index on the deadline (case_queue, case_shop_status_dl, or the
                    # sweep's case_due in a one-shop database) hands rows over in order;
                    # at most ties on the deadline get sorted (Incremental Sort).
                    assert not FULL_SORT.search(plan), plan
                    assert "Seq Scan on cases_case" not in plan, plan
                    assert "Index" in plan, plan
            cursor = page["next_cursor"]
            last = Case.objects.filter(deadline_at__isnull=True, is_open=True).order_by("id")[200]
            from shouhou.cases.selectors import Cursor

            cursor = Cursor(None, last.id).encode()
    assert is_postgres()
