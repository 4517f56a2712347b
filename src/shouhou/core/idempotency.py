"""`Idempotency-Key` for POST requests that create things (POST /api/v1/cases).

The first request with a key claims it by inserting an `IdempotencyRecord` with no response
yet, committed at once so a concurrent duplicate sees the claim and gets
`duplicate_request` (409) instead of creating a second case. The work and the stored
response are written in one transaction: either both are there, or neither is and the
claim is released so the client may retry with the same key. Same key and same request
later → the stored response again; same key and another request → `idempotency_key_reused`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from shouhou.cases.actors import Actor
from shouhou.core.errors import ShouhouError
from shouhou.core.models import IdempotencyRecord

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200
# Releasing a claim after the database connection died (a PostgreSQL restart) is retried
# on fresh connections for this long; past it the stale-claim timeout is the last resort.
RELEASE_RETRY_SECONDS = 10.0
# A claim whose request died without finishing (a killed worker) is taken over after this.
STALE_CLAIM = timedelta(minutes=2)


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: Any
    replayed: bool = False


def request_hash(actor: Actor, scope: str, payload: Any) -> str:
    """Who asked for what: the same key from another caller is another request."""
    who = [actor.role.value, actor.api_key_id, actor.staff_id, actor.customer_id]
    blob = json.dumps([scope, who, payload], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ShouhouError(
            "validation_error",
            detail=f"Idempotency-Key: 1–{MAX_KEY_LENGTH} 个可见字符 / printable characters",
        )
    return key


def run_once(
    *,
    shop_id: int,
    key: str | None,
    fingerprint: str,
    work: Callable[[], tuple[int, Any]],
) -> Outcome:
    """Run `work` (which returns status and JSON body) at most once per shop and key."""
    if key is None:
        with transaction.atomic():
            status, body = work()
        return Outcome(status, body)
    key = check_key(key)
    record = _claim(shop_id, key, fingerprint)
    if record is None:
        existing = IdempotencyRecord.objects.filter(shop_id=shop_id, key=key).first()
        if existing is None:  # released between our insert and our read: try once more
            record = _claim(shop_id, key, fingerprint)
            if record is None:
                raise ShouhouError("duplicate_request")
        else:
            return _answer_existing(existing, fingerprint)
    try:
        with transaction.atomic():
            status, body = work()
            done = IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).update(
                status_code=status, response=body
            )
            if done != 1:  # our claim was taken over as stale: the other request owns the key
                raise ShouhouError("duplicate_request")
    except BaseException:
        _release(record.pk)
        raise
    return Outcome(status, body)


def _release(pk: int) -> None:
    """Drop our unfinished claim so the client's retry can run. If the work failed because
    the connection died (found by restarting PostgreSQL under load), the delete fails on
    that connection too, and the claim would answer every retry with duplicate_request
    until it went stale (minutes): so try again on a fresh connection for a few seconds."""
    give_up = time.monotonic() + RELEASE_RETRY_SECONDS
    while True:
        try:
            IdempotencyRecord.objects.filter(pk=pk, status_code__isnull=True).delete()
            return
        except DatabaseError:
            if connection.in_atomic_block or time.monotonic() > give_up:
                log.warning(
                    "idempotency claim %s not released; it goes stale in %s", pk, STALE_CLAIM
                )
                return
            connection.close()
            time.sleep(0.25)


def _claim(shop_id: int, key: str, fingerprint: str) -> IdempotencyRecord | None:
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                shop_id=shop_id, key=key, request_hash=fingerprint
            )
    except IntegrityError:
        return None


def _answer_existing(existing: IdempotencyRecord, fingerprint: str) -> Outcome:
    if existing.request_hash != fingerprint:
        raise ShouhouError("idempotency_key_reused")
    if existing.status_code is not None:
        return Outcome(existing.status_code, existing.response, replayed=True)
    if timezone.now() - existing.created_at > STALE_CLAIM:
        # The first request never finished; drop its claim so the client's retry can run.
        IdempotencyRecord.objects.filter(pk=existing.pk, status_code__isnull=True).delete()
    raise ShouhouError("duplicate_request")
