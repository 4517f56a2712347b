"""Proof that no plain phone, address or name is stored or shown: personal data goes in
through the real API, the staff settings page and the buyer portal, and is then searched
for in the SQLite file bytes (and its WAL), a full PostgreSQL dump of every table, every GET
of the served OpenAPI with the shop's key, the agent's pages, and the logs at DEBUG (SQL
included). Each search is shown to find a value that is deliberately stored, served or
logged in clear, so a search that silently finds nothing cannot pass."""

from __future__ import annotations

import io
import logging
import re
import sqlite3
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from shouhou.core.logmask import MaskPhones
from shouhou.core.models import ApiKey
from shouhou.customers.models import Customer
from tests.api.support import Api, buyer_api, staff_api
from tests.factories import make_staff

pytestmark = pytest.mark.django_db(transaction=True)

# Distinctive values that occur nowhere else (not in fixtures, not in the demo).
BUYER_PHONE = "13761829457"
BUYER_ADDRESS = "青海省西宁市城中区玉树巷 73 号 9 单元 402 室"
BUYER_NAME = "司马翠微"
RECEIVER_PHONE = "15893172604"
RECEIVER_ADDRESS = "甘肃省天水市麦积区鸣凤巷 18 号院 3 号楼"
RECEIVER_NAME = "诸葛青萍"
RETURN_PHONE = "18620937715"
RETURN_ADDRESS = "宁夏回族自治区银川市兴庆区琉璃巷 55 号仓库"
SECRETS = [
    BUYER_PHONE,
    BUYER_ADDRESS,
    BUYER_NAME,
    RECEIVER_PHONE,
    RECEIVER_ADDRESS,
    RECEIVER_NAME,
    RETURN_PHONE,
    RETURN_ADDRESS,
]


def found_in(data: bytes | str) -> list[str]:
    raw = data if isinstance(data, bytes) else data.encode()
    # Also as JSON escapes (\uXXXX), in case a response or dump encodes non-ASCII that way.
    hits = []
    for s in SECRETS:
        escaped = s.encode("unicode_escape")
        if s.encode() in raw or escaped in raw or escaped.lower() in raw:
            hits.append(s)
    return hits


@pytest.fixture
def world(shop):
    return build_world(shop)


def build_world(shop):
    """Personal data entered the way it arrives in production."""
    from datetime import timedelta

    from shouhou.core import clock

    def ago(days: float) -> str:
        return (clock.now() - timedelta(days=days)).isoformat()

    _, secret = ApiKey.issue(shop, "ERP")
    key = Api(Authorization=f"Bearer {secret}")
    admin = make_staff(shop, "admin")
    admin_client = Client()
    admin_client.force_login(admin.user)
    resp = admin_client.post(
        "/wb/settings/addresses/",
        {
            "label": "西北仓",
            "contact_name": "仓管",
            "phone": RETURN_PHONE,
            "address": RETURN_ADDRESS,
            "make_default": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:500]
    order = key.post(
        "/orders",
        {
            "external_id": "PRIV-0001",
            "status": "delivered",
            "placed_at": ago(5),
            "paid_at": ago(5),
            "shipped_at": ago(3),
            "delivered_at": ago(1),
            "receiver_name": RECEIVER_NAME,
            "receiver_phone": RECEIVER_PHONE,
            "receiver_address": RECEIVER_ADDRESS,
            "customer": {
                "external_id": "priv-buyer",
                "nickname": "翠微",
                "name": BUYER_NAME,
                "phone": BUYER_PHONE,
                "address": BUYER_ADDRESS,
            },
            "lines": [
                {"external_id": "1", "title": "羊毛围巾", "quantity": 1, "unit_price_fen": 25900}
            ],
        },
    )
    assert order.status_code == 201, order.content
    assert not found_in(order.content)
    from shouhou.orders.models import Order

    order_row = Order.objects.get(shop=shop, external_id="PRIV-0001")
    # The buyer finds the order on the portal with the last four digits, and looks at it.
    portal = Client()
    resp = portal.post(
        "/portal/", {"shop": shop.code, "order_no": "PRIV-0001", "phone_last4": BUYER_PHONE[-4:]}
    )
    assert resp.status_code == 302, resp.content.decode()[:500]
    assert portal.get("/portal/order/").status_code == 200
    buyer = buyer_api(order_row)
    line_id = order_row.lines.get().id
    case = buyer.post(
        "/cases",
        {
            "order_id": order_row.id,
            "type": "return_refund",
            "reason": "quality",
            "description": "围巾掉色",
            "lines": [{"order_line_id": line_id, "quantity": 1}],
        },
    )
    assert case.status_code == 201, case.content
    case_id = case.json()["id"]
    agent = staff_api(shop, "agent")
    agreed = agent.act(case_id, "agree", {"version": case.json()["version"]})
    assert agreed.status_code == 200, agreed.content
    assert agreed.json()["return_address"]["phone"] == "186****7715"
    # The buyer, who must post the parcel there, sees the return address in full.
    assert buyer.get(f"/cases/{case_id}").json()["return_address"]["address"] == RETURN_ADDRESS
    return {"key": key, "agent": agent, "order": order_row, "case_id": case_id, "shop": shop}


# --- (a) the SQLite database file ---------------------------------------------------------
def sqlite_bytes(tmp_path: Path) -> bytes:
    """The database as stored: the file and its WAL after a checkpoint, or (for the
    in-memory test database) a page-for-page backup of it into a file."""
    connection.ensure_connection()
    name = connection.settings_dict["NAME"]
    path = Path(str(name))
    if connection.is_in_memory_db() or not path.exists():
        target = tmp_path / "copy.sqlite3"
        dest = sqlite3.connect(target)
        connection.connection.backup(dest)
        dest.close()
        return target.read_bytes()
    with connection.cursor() as cur:
        cur.execute("PRAGMA wal_checkpoint(FULL)")
    data = path.read_bytes()
    wal = Path(f"{path}-wal")
    if wal.exists():
        data += wal.read_bytes()
    return data


def database_bytes(tmp_path: Path) -> bytes:
    return sqlite_bytes(tmp_path) if connection.vendor == "sqlite" else pg_dump()


def test_database_holds_no_plain_value(world, tmp_path):
    """The SQLite file and WAL in the SQLite pass; every table's rows in the PostgreSQL one."""
    assert Customer.objects.get(external_id="priv-buyer").phone == BUYER_PHONE  # it is there
    stored = database_bytes(tmp_path)
    assert b"PRIV-0001" in stored and b"priv-buyer" in stored  # the rows are in what we read
    assert found_in(stored) == []
    # The search works: a value stored in clear is found.
    Customer.objects.filter(external_id="priv-buyer").update(notes=BUYER_PHONE + BUYER_ADDRESS)
    assert found_in(database_bytes(tmp_path)) == [BUYER_PHONE, BUYER_ADDRESS]


# --- (b) a PostgreSQL dump of every table -------------------------------------------------
def pg_dump() -> bytes:
    out = bytearray()
    raw = connection.connection
    with raw.cursor() as cur:
        for table in connection.introspection.table_names():
            with cur.copy(f"COPY {connection.ops.quote_name(table)} TO STDOUT") as copy:
                for chunk in copy:
                    out += bytes(chunk)
    return bytes(out)


@pytest.mark.postgres
def test_postgres_dump_holds_no_plain_value(world):
    connection.ensure_connection()
    dump = pg_dump()
    assert b"PRIV-0001" in dump  # the dump has the rows
    assert found_in(dump) == []
    Customer.objects.filter(external_id="priv-buyer").update(notes=RECEIVER_NAME)
    assert found_in(pg_dump()) == [RECEIVER_NAME]


# --- (c) every GET of the API, and the agent's pages -------------------------------------
def api_get_urls(client_api: Api, world) -> list[str]:
    schema = client_api.client.get("/api/v1/openapi.json").json()
    ids = {
        "order_id": world["order"].id,
        "case_id": world["case_id"],
        "customer_id": world["order"].customer_id,
    }
    from shouhou.cases.models import Evidence

    ev = Evidence.objects.filter(case_id=world["case_id"]).first()
    ids["evidence_id"] = ev.id if ev else 1
    urls = []
    for path, ops in schema["paths"].items():
        if "get" not in ops or path.endswith("openapi.json") or path.endswith("/docs"):
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
        urls.append(url)
        if "{" not in path:
            urls.append(url + "?scope=all&limit=200")
    return urls


def test_api_and_agent_pages_show_no_plain_value(world):
    key, agent = world["key"], world["agent"]
    checked = 0
    for who in (key, agent):
        for url in api_get_urls(key, world):
            resp = who.client.get(url, headers=who.headers)
            assert resp.status_code in {200, 404}, (url, resp.status_code)
            body = resp.content if not resp.streaming else b"".join(resp.streaming_content)
            assert found_in(body) == [], url
            checked += resp.status_code == 200
    assert checked >= 6
    pages = ["/wb/", "/wb/?scope=all", f"/wb/cases/{world['case_id']}/", "/wb/conversations/"]
    for url in pages:
        resp = agent.client.get(url)
        assert resp.status_code == 200, url
        assert found_in(resp.content) == [], url
    # The search works: what the agent reveals on purpose is in that response.
    customer_id = world["order"].customer_id
    revealed = agent.client.post(f"/wb/customers/{customer_id}/reveal/phone/")
    assert found_in(revealed.content) == [BUYER_PHONE]


# --- (d) the logs at DEBUG ---------------------------------------------------------------
def test_logs_at_debug_hold_no_plain_value(shop, settings):
    root = logging.getLogger()
    handlers = [h for h in root.handlers if any(isinstance(f, MaskPhones) for f in h.filters)]
    assert handlers, "settings.LOGGING puts the phone filter on the console handler"
    handler = handlers[0]
    stream = io.StringIO()
    old_stream, old_level, old_hlevel = handler.setStream(stream), root.level, handler.level
    root.setLevel(logging.DEBUG)
    handler.setLevel(logging.DEBUG)
    db_logger = logging.getLogger("django.db.backends")
    old_db_level = db_logger.level
    db_logger.setLevel(logging.DEBUG)
    connection.force_debug_cursor = True
    try:
        world = build_world(shop)
        Client().get("/portal/order/")  # a 302 for a stranger
        Client().post("/portal/", {"shop": shop.code, "order_no": "nope", "phone_last4": "0000"})
        # A careless log line with a phone in it is masked on the way out.
        logging.getLogger("shouhou.test").warning("buyer called from %s", BUYER_PHONE)
        logging.getLogger("shouhou.test").error("note: %s", f"tel {RECEIVER_PHONE}.")
    finally:
        connection.force_debug_cursor = False
        db_logger.setLevel(old_db_level)
        root.setLevel(old_level)
        handler.setLevel(old_hlevel)
        handler.setStream(old_stream)
    text = stream.getvalue()
    assert "INSERT INTO" in text and "customers_customer" in text  # SQL was logged
    assert world["case_id"]
    assert found_in(text) == []
    assert "buyer called from 137****9457" in text and "tel 158****2604." in text

    # The search works: without the filter the same careless line carries the phone.
    plain = io.StringIO()
    bare = logging.StreamHandler(plain)
    probe = logging.getLogger("shouhou.test.bare")
    probe.addHandler(bare)
    probe.propagate = False
    try:
        probe.warning("buyer called from %s", BUYER_PHONE)
    finally:
        probe.removeHandler(bare)
    assert found_in(plain.getvalue()) == [BUYER_PHONE]
