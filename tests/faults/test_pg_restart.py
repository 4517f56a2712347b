"""Restart PostgreSQL under load (issue 5, faults).

`shouhou serve` (gunicorn) runs on a scratch PostgreSQL database; client threads open
cases through the API, each with its own Idempotency-Key, retrying on connection errors,
5xx and `duplicate_request` as a careful integrator would. Mid-run the test restarts the
PostgreSQL cluster (`pg_ctlcluster … restart`, as root on this machine). Afterwards every
logical open exists exactly once, the server answers again without being restarted, and
no request sent after the first success past the restart gets a 5xx.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from queue import Empty, Queue

import httpx
import pytest

from tests.notify.receiver import free_port

from .conftest import stop, wait_for

pytestmark = pytest.mark.postgres

N = 120
CLIENTS = 4
RESTART_AFTER = 30  # opens answered before the restart
OPEN_BOUND = 240  # seconds one logical open may take, retries included


def _cluster() -> tuple[str, str]:
    if os.geteuid() != 0 or not shutil.which("pg_ctlcluster") or not shutil.which("pg_lsclusters"):
        pytest.skip(
            "restarting PostgreSQL needs root and pg_ctlcluster (Debian's postgresql-common)"
        )
    lines = subprocess.run(
        ["pg_lsclusters", "-h"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    for line in lines:
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "5432" and parts[3] == "online":
            return parts[0], parts[1]
    pytest.skip("no online PostgreSQL cluster on port 5432 to restart")


def test_postgresql_restart_under_load_loses_and_duplicates_nothing(scratch):
    version, cluster = _cluster()
    seeded = scratch.seed("api", str(N + 10))
    orders = seeded["order_ids"]
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    server = scratch.start(
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
        log="serve.log",
        env={"SHOUHOU_RATE_LIMIT_API": "off", "SHOUHOU_RATE_LIMIT_PORTAL": "off"},
    )
    headers = {"Authorization": f"Bearer {seeded['api_key']}"}
    lock = threading.Lock()
    opened: dict[int, list[int]] = {}  # order id → case ids answered (replays included)
    failures: list[str] = []
    server_errors: list[tuple[float, int, str]] = []  # (sent at, status, body)
    restarted_at: list[float] = []
    answered = threading.Semaphore(0)

    def open_one(client: httpx.Client, order_id: int, line_id: int) -> None:
        body = {
            "order_id": order_id,
            "type": "return_refund",
            "reason": "quality",
            "lines": [{"order_line_id": line_id, "quantity": 1}],
        }
        key = {"Idempotency-Key": f"open-{order_id}"}
        give_up = time.monotonic() + OPEN_BOUND
        while time.monotonic() < give_up:
            sent = time.monotonic()
            try:
                r = client.post(f"{base}/cases", json=body, headers={**headers, **key}, timeout=30)
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            if r.status_code == 201:
                with lock:
                    opened.setdefault(order_id, []).append(r.json()["id"])
                answered.release()
                return
            if r.status_code >= 500:
                with lock:
                    server_errors.append((sent, r.status_code, r.text[:300]))
                time.sleep(0.2)
                continue
            if r.status_code == 409 and r.json().get("code") == "duplicate_request":
                time.sleep(0.2)
                continue
            with lock:
                failures.append(f"order {order_id}: {r.status_code} {r.text[:300]}")
            return
        with lock:
            failures.append(f"order {order_id}: no answer within {OPEN_BOUND}s")

    work: Queue = Queue()
    for order_id, line_id in orders[:N]:
        work.put((order_id, line_id))

    def client_loop() -> None:
        with httpx.Client() as client:
            while True:
                try:
                    order_id, line_id = work.get_nowait()
                except Empty:
                    return
                open_one(client, order_id, line_id)

    try:
        wait_for(
            "the server to answer",
            lambda: _answers(f"{base}/openapi.json"),
            proc=server,
            log=lambda: scratch.log("serve.log"),
        )
        threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for _ in range(RESTART_AFTER):
            assert answered.acquire(timeout=120), "no progress before the restart"
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"],
            check=True,
            timeout=120,
            capture_output=True,
        )
        restarted_at.append(time.monotonic())
        for t in threads:
            t.join(timeout=OPEN_BOUND + 60)
            assert not t.is_alive(), "a client hung"
        assert server.poll() is None, "the server survived the restart"

        # After recovery the server answers fresh opens straight away, no retry needed.
        with httpx.Client() as client:
            for order_id, line_id in orders[N:]:
                r = client.post(
                    f"{base}/cases",
                    json={
                        "order_id": order_id,
                        "type": "return_refund",
                        "reason": "quality",
                        "lines": [{"order_line_id": line_id, "quantity": 1}],
                    },
                    headers={**headers, "Idempotency-Key": f"after-{order_id}"},
                    timeout=30,
                )
                assert r.status_code == 201, r.text
    finally:
        stop(server)

    assert not failures, failures
    assert sorted(opened) == sorted(o for o, _ in orders[:N]), "every logical open answered"
    assert all(len(set(ids)) == 1 for ids in opened.values())
    # In the database: exactly one case per logical open, and per Idempotency-Key.
    per_order = dict(
        scratch.query(
            "SELECT order_id, COUNT(*) FROM cases_case WHERE shop_id = ? GROUP BY order_id",
            (seeded["shop_id"],),
        )
    )
    assert per_order == {o: 1 for o, _ in orders}, per_order
    assert {opened[o][0] for o in opened} == {
        cid
        for (cid,) in scratch.query(
            "SELECT id FROM cases_case WHERE shop_id = ? AND order_id = ANY(?)",
            (seeded["shop_id"], [o for o, _ in orders[:N]]),
        )
    }
    # The opens announced themselves exactly once each.
    assert scratch.scalar(
        "SELECT COUNT(*) FROM notify_outboxmessage WHERE shop_id = ? AND topic = 'case.opened'",
        (seeded["shop_id"],),
    ) == len(orders)
    # 5xx only while PostgreSQL was down: none for a request sent after the first success
    # that followed the restart.
    # pg_ctlcluster returns once the cluster accepts connections again: recovery.
    recovered = restarted_at[0]
    late = [e for e in server_errors if e[0] > recovered]
    assert not late, late
    print(f"5xx during the restart: {len(server_errors)}; opens: {len(opened)}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False
