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
import secrets
import urllib.parse
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Min
from django.utils import timezone

from shouhou.cases.actors import Actor
from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop
from shouhou.core.services import audit, require_admin

from . import channels, netguard
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


# --- the shop admin's settings (workbench/notify) -----------------------------------------
# Each write takes the acting admin, runs in one transaction and writes its audit row there.
# Audit rows name the endpoint, its channel and host, never a secret, a robot key or an
# e-mail address.
SUBSCRIBABLE = (Topic.CASE_OPENED, Topic.CASE_STATUS_CHANGED, Topic.REFUND_ISSUED)
WEBHOOK_SECRET_PREFIX = "whsec_"
MAX_RECIPIENTS = 20
URL_CHANNELS = (Channel.WEBHOOK, Channel.WECOM, Channel.DINGTALK)


def new_webhook_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32)


def _url_error(zh: str, en: str) -> ShouhouError:
    return ShouhouError("notify_url_invalid", detail_zh=zh, detail_en=en)


def check_url(url: str) -> str:
    """An http(s) URL with a host and no user:password@ part."""
    url = (url or "").strip()
    if not url:
        raise _url_error("地址为空", "it is empty")
    if len(url) > 500:
        raise _url_error("超过 500 个字符", "it is longer than 500 characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise _url_error("含有空格或控制字符", "it contains spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # ValueError on a port that is not a number or out of range
    except ValueError:
        raise _url_error("格式无法识别", "it cannot be parsed") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ShouhouError("notify_url_scheme", scheme=(parts.scheme or url.split(":", 1)[0])[:20])
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise ShouhouError("notify_url_credentials")
    if not parts.hostname:
        raise _url_error("缺少主机名", "it has no host name")
    if port == 0:
        raise _url_error("端口不正确", "the port is not valid")
    refused = netguard.literal_refusal(parts.hostname)
    if refused:
        raise ShouhouError("notify_url_private", host=refused[:60])
    return url


def check_recipients(text: str) -> str:
    """Comma/semicolon/newline separated addresses → 'a@x, b@y' (duplicates dropped)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    found: list[str] = []
    for raw in str(text or "").replace(";", ",").replace("\n", ",").split(","):
        address = raw.strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ShouhouError(
                "notify_recipients_invalid",
                detail_zh=f"「{address[:80]}」不是邮箱地址",
                detail_en=f"'{address[:80]}' is not an e-mail address",
                limit=MAX_RECIPIENTS,
            ) from None
        if address.lower() not in {f.lower() for f in found}:
            found.append(address)
    if not found or len(found) > MAX_RECIPIENTS:
        raise ShouhouError(
            "notify_recipients_invalid",
            detail_zh="没有收件人" if not found else f"共 {len(found)} 个",
            detail_en="there are none" if not found else f"there are {len(found)}",
            limit=MAX_RECIPIENTS,
        )
    return ", ".join(found)


def check_topics(topics: Iterable[str]) -> list[str]:
    chosen = [str(t) for t in topics]
    allowed = {str(t) for t in SUBSCRIBABLE}
    unknown = [t for t in chosen if t not in allowed]
    if unknown or not chosen:
        raise ShouhouError("notify_topics_invalid", unknown=", ".join(unknown)[:200] or "—")
    return [str(t) for t in SUBSCRIBABLE if str(t) in chosen]  # in the catalogue's order


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ShouhouError(
            "validation_error", detail="名称必填，最多 80 字 / a name of at most 80 characters"
        )
    return name


def _endpoint_audit(ep: Endpoint, **more: Any) -> dict[str, Any]:
    host = urllib.parse.urlsplit(ep.url).hostname if ep.url else None
    data: dict[str, Any] = {"endpoint_id": ep.id, "channel": ep.channel, "topics": ep.topics}
    if host:
        data["host"] = host
    if ep.channel == Channel.EMAIL:
        data["recipients"] = len(ep.recipient_list)
    return {**data, **more}


def _own_endpoint(shop: Shop, endpoint_id: int, *, lock: bool = True) -> Endpoint:
    qs = Endpoint.objects.filter(shop=shop, pk=endpoint_id)
    if lock:
        qs = qs.select_for_update()
    ep = qs.first()
    if ep is None:
        raise ShouhouError("not_found", what="通知端点")
    return ep


def _destination(
    channel: str, url: str, recipients: str
) -> tuple[str, str]:  # (url, recipients), checked for the channel
    if channel == Channel.EMAIL:
        return "", check_recipients(recipients)
    return check_url(url), ""


def add_endpoint(
    shop: Shop,
    actor: Actor,
    *,
    name: str,
    channel: str,
    topics: Iterable[str],
    url: str = "",
    recipients: str = "",
    secret: str = "",
) -> tuple[Endpoint, str]:
    """A new endpoint. For a signed webhook the server makes the secret and returns it (the
    caller shows it once); for DingTalk `secret` is the robot's 加签 secret (optional)."""
    require_admin(shop, actor)
    if channel not in Channel.values:
        raise ShouhouError("validation_error", detail=f"未知渠道 / unknown channel {channel!r}")
    name = _check_name(name)
    url, recipients = _destination(channel, url, recipients)
    topics = check_topics(topics)
    shown = ""
    if channel == Channel.WEBHOOK:
        secret = shown = new_webhook_secret()
    elif channel == Channel.DINGTALK:
        secret = (secret or "").strip()[:200]
    else:
        secret = ""
    with transaction.atomic():
        ep = Endpoint.objects.create(
            shop=shop,
            name=name,
            channel=channel,
            url=url,
            recipients=recipients,
            topics=topics,
            secret=secret,
            active=True,
        )
        audit(
            shop,
            actor,
            "notify.endpoint_add",
            ep.name,
            _endpoint_audit(ep, signed=bool(secret)),
        )
    return ep, shown


def update_endpoint(
    shop: Shop,
    actor: Actor,
    endpoint_id: int,
    *,
    name: str,
    topics: Iterable[str],
    url: str = "",
    recipients: str = "",
    secret: str | None = None,
    clear_secret: bool = False,
) -> Endpoint:
    """Name, destination and topics; the channel stays. A DingTalk secret is replaced only
    when a new one is typed (or removed with `clear_secret`); a webhook's secret changes
    only through `rotate_secret`."""
    require_admin(shop, actor)
    name = _check_name(name)
    topics = check_topics(topics)
    with transaction.atomic():
        ep = _own_endpoint(shop, endpoint_id)
        url, recipients = _destination(ep.channel, url, recipients)
        changed = [
            f
            for f, new in (("name", name), ("url", url), ("recipients", recipients))
            if getattr(ep, f) != new
        ]
        if ep.topics != topics:
            changed.append("topics")
        ep.name, ep.url, ep.recipients, ep.topics = name, url, recipients, topics
        fields = ["name", "url", "recipients", "topics"]
        if ep.channel == Channel.DINGTALK:
            typed = (secret or "").strip()[:200]
            if clear_secret and ep.secret:
                ep.secret = ""
                changed.append("secret_removed")
            elif typed and typed != ep.secret:
                ep.secret = typed
                changed.append("secret")
            fields.append("secret")
        ep.save(update_fields=fields)
        audit(shop, actor, "notify.endpoint_edit", ep.name, _endpoint_audit(ep, changed=changed))
    return ep


def _pending(ep: Endpoint) -> int:
    return OutboxMessage.objects.filter(endpoint=ep, status=MessageStatus.PENDING).count()


def set_endpoint_active(
    shop: Shop, actor: Actor, endpoint_id: int, active: bool
) -> tuple[Endpoint, int]:
    """Switch an endpoint off or on; returns it and its pending count. While off, nothing new
    is queued for it, and what is pending fails ("disabled") until it becomes a dead letter."""
    require_admin(shop, actor)
    with transaction.atomic():
        ep = _own_endpoint(shop, endpoint_id)
        if ep.active != active:
            ep.active = active
            ep.save(update_fields=["active"])
            audit(
                shop,
                actor,
                "notify.endpoint_on" if active else "notify.endpoint_off",
                ep.name,
                _endpoint_audit(ep),
            )
        return ep, _pending(ep)


def delete_endpoint(
    shop: Shop, actor: Actor, endpoint_id: int, *, drop_pending: bool = False
) -> int:
    """Remove an endpoint. Its delivered and dead messages stay (without a destination).
    With pending messages it is refused unless `drop_pending`: they become dead letters at
    once (not sent; still listed). Returns how many were moved."""
    require_admin(shop, actor)
    with transaction.atomic():
        ep = _own_endpoint(shop, endpoint_id)
        pending = OutboxMessage.objects.select_for_update().filter(
            endpoint=ep, status=MessageStatus.PENDING
        )
        count = pending.count()
        if count and not drop_pending:
            raise ShouhouError("notify_endpoint_has_pending", count=count)
        now = timezone.now()
        # The claim goes too: a deliverer sending one right now cannot mark it delivered.
        moved = pending.update(
            status=MessageStatus.DEAD,
            claim_token=None,
            claimed_until=None,
            last_error="端点已删除 / the endpoint was removed",
            updated_at=now,
        )
        audit(shop, actor, "notify.endpoint_delete", ep.name, _endpoint_audit(ep, dropped=moved))
        ep.delete()
    return moved


def rotate_secret(shop: Shop, actor: Actor, endpoint_id: int) -> tuple[Endpoint, str]:
    """A new signing secret for a webhook, returned once; the old one stops at once (a
    message already being sent keeps the signature it was sent with)."""
    require_admin(shop, actor)
    with transaction.atomic():
        ep = _own_endpoint(shop, endpoint_id)
        if ep.channel != Channel.WEBHOOK:
            raise ShouhouError(
                "validation_error",
                detail="只有签名 Webhook 有系统生成的密钥 / only signed webhooks have a "
                "generated secret",
            )
        secret = new_webhook_secret()
        ep.secret = secret
        ep.save(update_fields=["secret"])
        audit(shop, actor, "notify.secret_rotate", ep.name, _endpoint_audit(ep))
    return ep, secret


def send_test_message(shop: Shop, actor: Actor, endpoint_id: int) -> OutboxMessage:
    """Queue a test.ping through the real outbox (the deliverer sends it like any other)."""
    require_admin(shop, actor)
    with transaction.atomic():
        ep = _own_endpoint(shop, endpoint_id, lock=False)
        if not ep.active:
            raise ShouhouError(
                "notify_endpoint_inactive",
                name=ep.name,
                doing_zh="发送测试消息",
                doing_en="sending a test message",
            )
        msg = send_test(ep)
        audit(
            shop,
            actor,
            "notify.test",
            ep.name,
            _endpoint_audit(ep, message_id=str(msg.message_id)),
        )
    return msg


def retry_dead_letters(
    shop: Shop, actor: Actor, ids: Iterable[int] | None = None
) -> tuple[int, int]:
    """Queue the shop's dead letters again (all, or `ids`); returns (queued, left). Letters
    whose endpoint was removed or is switched off are left: they would only fail again."""
    require_admin(shop, actor)
    with transaction.atomic():
        dead = OutboxMessage.objects.select_for_update().filter(
            shop=shop, status=MessageStatus.DEAD
        )
        if ids is not None:
            ids = list(ids)
            dead = dead.filter(id__in=ids)
            if not dead.exists():
                raise ShouhouError("not_found", what="死信")
        sendable = list(
            dead.filter(endpoint__isnull=False, endpoint__active=True).values_list("id", flat=True)
        )
        left = dead.count() - len(sendable)
        queued = retry_dead(shop.id, sendable) if sendable else 0
        audit(
            shop,
            actor,
            "notify.retry_dead",
            "all" if ids is None else ",".join(str(i) for i in sendable)[:120],
            {"queued": queued, "left": left, "ids": sendable[:200]},
        )
    return queued, left
