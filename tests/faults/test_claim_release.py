"""Found by restarting PostgreSQL under load: an open whose database connection died
mid-request left its Idempotency-Key claimed, and every retry of that open got 409
`duplicate_request` until the claim went stale minutes later. The claim is now released
on a fresh connection. Here the connection is killed for real (pg_terminate_backend)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError, connection

from shouhou.cases.actors import Actor
from shouhou.core import idempotency
from shouhou.core.models import IdempotencyRecord

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _kill_own_backend() -> None:
    pid = connection.cursor().connection.info.backend_pid
    s = connection.settings_dict
    with psycopg.connect(
        dbname=s["NAME"],
        user=s["USER"],
        host=s["HOST"] or None,
        port=s["PORT"] or None,
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_claim_is_released_when_the_connection_dies_mid_work(shop, monkeypatch):
    """The backend is killed and, like a restarting server, the next two connection
    attempts are refused."""
    from django.db import OperationalError

    refusals = {"left": 0}
    real_connect = connection.get_new_connection

    def connect(params):
        if refusals["left"] > 0:
            refusals["left"] -= 1
            raise psycopg.OperationalError("the database system is starting up")
        return real_connect(params)

    monkeypatch.setattr(connection, "get_new_connection", connect)
    fingerprint = idempotency.request_hash(Actor.system(shop.id), "POST /cases", {"x": 1})

    def dies():
        _kill_own_backend()
        refusals["left"] = 2
        IdempotencyRecord.objects.count()  # the next statement finds the connection gone
        return 201, {}

    with pytest.raises((DatabaseError, OperationalError)):
        idempotency.run_once(shop_id=shop.id, key="k-1", fingerprint=fingerprint, work=dies)
    assert refusals["left"] == 0, "the release went through the refused reconnects"
    connection.close()
    assert not IdempotencyRecord.objects.filter(shop=shop, key="k-1").exists()
    # The client's retry runs at once instead of getting duplicate_request.
    outcome = idempotency.run_once(
        shop_id=shop.id, key="k-1", fingerprint=fingerprint, work=lambda: (201, {"id": 7})
    )
    assert (outcome.status_code, outcome.body, outcome.replayed) == (201, {"id": 7}, False)
