"""The outbox: enqueue inside the caller's transaction, deliver later, at least once.

`enqueue` only inserts rows, in whatever transaction the caller is in: a case action
that rolls back leaves no message, one that commits cannot lose its message.

`deliver_due` claims due rows in a short transaction (PostgreSQL: `FOR UPDATE SKIP
LOCKED`, so any number of deliverers never take the same row; SQLite: the IMMEDIATE
transaction's write lock), stamps them with a claim token and a lease, and sends them
outside any transaction. A success or failure is written back only if the row still
carries our token. A deliverer killed mid-send leaves the row with its lease: when the
lease runs out the row is due again and goes out once more with the same message id.
Failures back off exponentially (with jitter) and become dead letters after
SHOUHOU_OUTBOX_MAX_ATTEMPTS attempts.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Min
from django.utils import timezone

from . import channels
from .models import Channel, Endpoint, MessageStatus, OutboxMessage, Topic

log = logging.getLogger(__name__)


# --- enqueue ------------------------------------------------------------------------------
def enqueue(shop_id: int, topic: str, payload: dict[str, Any], *, dedupe_key: str) -> int:
    """One message per subscribed endpoint of the shop; returns how many were written.

    The same (topic, endpoint, dedupe_key) again is dropped, so a retried action cannot
    announce itself twice."""
    return enqueue_many([(shop_id, topic, payload, dedupe_key)])


def enqueue_many(items: Iterable[tuple[int, str, dict[str, Any], str]]) -> int:
    items = list(items)
    if not items:
        return 0
    shop_ids = {shop_id for shop_id, *_ in items}
    endpoints: dict[int, list[Endpoint]] = {}
    for ep in Endpoint.objects.filter(shop_id__in=shop_ids, active=True).only(
        "id", "shop_id", "topics", "active"
    ):
        endpoints.setdefault(ep.shop_id, []).append(ep)
    now = timezone.now()
    rows = [
        OutboxMessage(
            shop_id=shop_id,
            endpoint_id=ep.id,
            topic=topic,
            payload=payload,
            dedupe_key=str(dedupe_key)[:200],
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for shop_id, topic, payload, dedupe_key in items
        for ep in endpoints.get(shop_id, ())
        if ep.wants(topic)
    ]
    if rows:
        OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# --- delivery -----------------------------------------------------------------------------
@dataclass
class DeliveryResult:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    lost_claim: int = 0  # our lease ran out and another deliverer took the row
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Exponential, capped, with jitter: half fixed, half random ("equal jitter")."""
    base = settings.SHOUHOU_OUTBOX_BACKOFF_SECONDS
    cap = settings.SHOUHOU_OUTBOX_BACKOFF_MAX_SECONDS
    delay = min(cap, base * (2 ** max(attempts - 1, 0)))
    return timedelta(seconds=delay / 2 + random.uniform(0, delay / 2))


def claim_due(batch: int, *, now: datetime | None = None) -> tuple[uuid.UUID, list[int]]:
    """Take up to `batch` due rows for this deliverer: one short transaction."""
    now = now or timezone.now()
    token = uuid.uuid4()
    lease_end = now + timedelta(seconds=settings.SHOUHOU_OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        qs = OutboxMessage.objects.filter(
            status=MessageStatus.PENDING, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("id", flat=True)[:batch])
        if ids:
            # The lease is also the next attempt: a deliverer that dies leaves the row due
            # again when the lease ends, with no one having to notice.
            OutboxMessage.objects.filter(id__in=ids).update(
                claim_token=token,
                claimed_until=lease_end,
                next_attempt_at=lease_end,
                attempts=F("attempts") + 1,
                updated_at=now,
            )
    return token, ids


def deliver_due(*, batch: int | None = None, now: datetime | None = None) -> DeliveryResult:
    """Claim one batch of due messages and send them. Call again until `claimed` is 0."""
    batch = batch or settings.SHOUHOU_OUTBOX_BATCH
    result = DeliveryResult()
    token, ids = claim_due(batch, now=now)
    result.claimed = len(ids)
    if not ids:
        return result
    messages = (
        OutboxMessage.objects.filter(id__in=ids, claim_token=token)
        .select_related("endpoint", "shop")
        .order_by("id")
    )
    for msg in messages:
        try:
            _send(msg)
        except channels.DeliveryError as exc:
            _failed(msg, token, str(exc), result)
        except Exception as exc:  # noqa: BLE001 — a bug in one channel must not stop the rest
            log.exception("outbox message %s: unexpected error", msg.message_id)
            _failed(msg, token, f"{type(exc).__name__}: {exc}", result)
        else:
            done = OutboxMessage.objects.filter(pk=msg.pk, claim_token=token).update(
                status=MessageStatus.DELIVERED,
                delivered_at=timezone.now(),
                updated_at=timezone.now(),
                claim_token=None,
                claimed_until=None,
                last_error="",
            )
            if done:
                result.delivered += 1
            else:
                result.lost_claim += 1
    return result


def deliver_all(*, batch: int | None = None, max_batches: int | None = None) -> DeliveryResult:
    """Drain everything due now (the periodic task and `shouhou outbox deliver --once`)."""
    total = DeliveryResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        r = deliver_due(batch=batch)
        batches += 1
        for name in ("claimed", "delivered", "failed", "dead", "lost_claim"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        total.errors += r.errors
        if r.claimed == 0:
            break
    return total


def _failed(msg: OutboxMessage, token: uuid.UUID, error: str, result: DeliveryResult) -> None:
    now = timezone.now()
    error = error[:2000]
    result.errors.append(error)
    if msg.attempts >= settings.SHOUHOU_OUTBOX_MAX_ATTEMPTS:
        changes = {"status": MessageStatus.DEAD}
        result.dead += 1
        log.warning("outbox message %s is dead after %s attempts", msg.message_id, msg.attempts)
    else:
        changes = {"next_attempt_at": now + backoff(msg.attempts)}
        result.failed += 1
    OutboxMessage.objects.filter(pk=msg.pk, claim_token=token).update(
        claim_token=None, claimed_until=None, last_error=error, updated_at=now, **changes
    )


def envelope(msg: OutboxMessage) -> channels.Envelope:
    return channels.Envelope(
        message_id=str(msg.message_id),
        topic=msg.topic,
        shop_code=msg.shop.code,
        created_at=msg.created_at.isoformat(),
        data=msg.payload,
    )


def _send(msg: OutboxMessage) -> None:
    ep = msg.endpoint
    if ep is None:
        raise channels.DeliveryError("端点已删除 / the endpoint was removed")
    if not ep.active:
        raise channels.DeliveryError("端点已停用 / the endpoint is disabled")
    env = envelope(msg)
    if ep.channel == Channel.WEBHOOK:
        channels.send_webhook(ep.url, ep.secret, env)
    elif ep.channel == Channel.EMAIL:
        channels.send_email(ep.recipient_list, env)
    elif ep.channel == Channel.WECOM:
        channels.send_wecom(ep.url, env)
    elif ep.channel == Channel.DINGTALK:
        channels.send_dingtalk(ep.url, ep.secret, env)
    else:
        raise channels.DeliveryError(f"unknown channel {ep.channel!r}")


# --- operations ---------------------------------------------------------------------------
def retry_dead(shop_id: int | None = None, ids: Iterable[int] | None = None) -> int:
    """Put dead letters back in the queue, with a fresh attempt budget."""
    qs = OutboxMessage.objects.filter(status=MessageStatus.DEAD)
    if shop_id is not None:
        qs = qs.filter(shop_id=shop_id)
    if ids is not None:
        qs = qs.filter(id__in=list(ids))
    now = timezone.now()
    return qs.update(status=MessageStatus.PENDING, attempts=0, next_attempt_at=now, updated_at=now)


def send_test(endpoint: Endpoint) -> OutboxMessage:
    """Queue a test.ping for one endpoint (delivered like any other message)."""
    now = timezone.now()
    return OutboxMessage.objects.create(
        shop_id=endpoint.shop_id,
        endpoint=endpoint,
        topic=Topic.TEST,
        payload={"text": "shouhou 通知测试 / test message", "endpoint": endpoint.name},
        dedupe_key=f"test:{uuid.uuid4().hex}",
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


def summary(shop_id: int | None = None) -> dict[str, Any]:
    qs = OutboxMessage.objects.all()
    if shop_id is not None:
        qs = qs.filter(shop_id=shop_id)
    counts = {row["status"]: row["n"] for row in qs.values("status").annotate(n=Count("id"))}
    now = timezone.now()
    pending = qs.filter(status=MessageStatus.PENDING)
    return {
        "pending": counts.get(MessageStatus.PENDING, 0),
        "due": pending.filter(next_attempt_at__lte=now).count(),
        "leased": pending.filter(claimed_until__gt=now).count(),
        "delivered": counts.get(MessageStatus.DELIVERED, 0),
        "dead": counts.get(MessageStatus.DEAD, 0),
        "oldest_pending": pending.aggregate(m=Min("created_at"))["m"],
    }
