"""What the notification pages show: endpoints with their message counts and last delivery,
destinations masked (an e-mail address is personal; a robot URL carries its key), dead
letters. Everything is read within the admin's own shop."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q

from shouhou.core.i18n import tr
from shouhou.core.models import Shop
from shouhou.notify.models import Channel, Endpoint, MessageStatus, OutboxMessage
from shouhou.notify.services import SUBSCRIBABLE

TOPIC_NAMES = {
    "case.opened": ("新售后申请", "Case opened"),
    "case.status_changed": ("售后状态变化", "Case status changed"),
    "refund.issued": ("退款指令已发出", "Refund issued"),
    "test.ping": ("测试消息", "Test message"),
}
CHANNEL_NAMES = {
    Channel.WEBHOOK: ("签名 Webhook", "Signed webhook"),
    Channel.EMAIL: ("电子邮件", "E-mail"),
    Channel.WECOM: ("企业微信群机器人", "WeCom group robot"),
    Channel.DINGTALK: ("钉钉群机器人", "DingTalk group robot"),
}
STATUS_NAMES = {
    MessageStatus.PENDING: ("待发送", "Pending"),
    MessageStatus.DELIVERED: ("已送达", "Delivered"),
    MessageStatus.DEAD: ("死信", "Dead letter"),
}
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
DEAD_PAGE = 100


def topic_name(topic: str) -> str:
    return tr(*TOPIC_NAMES.get(topic, (topic, topic)))


def channel_name(channel: str) -> str:
    return tr(*CHANNEL_NAMES.get(channel, (channel, channel)))


def topic_choices() -> list[tuple[str, str]]:
    return [(str(t), topic_name(str(t))) for t in SUBSCRIBABLE]


def channel_choices() -> list[tuple[str, str]]:
    return [(c.value, channel_name(c.value)) for c in Channel]


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _tail(value: str) -> str:
    return "••••" + (value[-4:] if len(value) > 8 else "")


def mask_url(url: str) -> str:
    """Host and path kept; query values and long path segments (tokens) cut to 4 chars."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "••••"
    path = "/".join(_tail(seg) if len(seg) > 16 else seg for seg in parts.path.split("/"))
    query = "&".join(
        f"{k}={_tail(v)}" for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    return f"{parts.scheme}://{parts.netloc}{path}" + (f"?{query}" if query else "")


def destination(ep: Endpoint) -> str:
    if ep.channel == Channel.EMAIL:
        return ", ".join(mask_email(a) for a in ep.recipient_list)
    return mask_url(ep.url)


def mask_secret(secret: str) -> str:
    if not secret:
        return ""
    prefix = "whsec_" if secret.startswith("whsec_") else ""
    return f"{prefix}••••••••{secret[-4:]}" if len(secret) > 12 else "••••••••"


def error_text(error: str) -> str:
    """A delivery error as shown: addresses in it masked, at most 300 characters."""
    return EMAIL_RE.sub(lambda m: mask_email(m.group(0)), error or "")[:300]


@dataclass
class EndpointRow:
    ep: Endpoint
    channel: str
    destination: str
    topics: list[str]
    pending: int
    delivered: int
    dead: int
    last_status: str
    last_status_code: str
    last_at: datetime | None
    last_error: str


def endpoints(shop: Shop) -> list[EndpointRow]:
    eps = (
        Endpoint.objects.filter(shop=shop)
        .annotate(
            n_pending=Count("messages", filter=Q(messages__status=MessageStatus.PENDING)),
            n_delivered=Count("messages", filter=Q(messages__status=MessageStatus.DELIVERED)),
            n_dead=Count("messages", filter=Q(messages__status=MessageStatus.DEAD)),
        )
        .order_by("id")
    )
    rows = []
    for ep in eps:
        # The last message that was tried (or delivered): its outcome and when.
        last = (
            OutboxMessage.objects.filter(endpoint=ep)
            .filter(Q(attempts__gt=0) | Q(status=MessageStatus.DELIVERED))
            .order_by("-updated_at", "-id")
            .only("status", "updated_at", "delivered_at", "last_error")
            .first()
        )
        rows.append(
            EndpointRow(
                ep=ep,
                channel=channel_name(ep.channel),
                destination=destination(ep),
                topics=[topic_name(t) for t in ep.topics] or [tr("全部主题", "All topics")],
                pending=ep.n_pending,
                delivered=ep.n_delivered,
                dead=ep.n_dead,
                last_status=tr(*STATUS_NAMES[last.status]) if last else "",
                last_status_code=last.status if last else "",
                last_at=(last.delivered_at or last.updated_at) if last else None,
                last_error=error_text(last.last_error) if last else "",
            )
        )
    return rows


def dead_letters(shop: Shop) -> dict[str, Any]:
    qs = OutboxMessage.objects.filter(shop=shop, status=MessageStatus.DEAD)
    rows = []
    for msg in qs.select_related("endpoint").order_by("-updated_at", "-id")[:DEAD_PAGE]:
        ep = msg.endpoint
        rows.append(
            {
                "msg": msg,
                "topic": topic_name(msg.topic),
                "endpoint": ep.name if ep else "",
                "sendable": ep is not None and ep.active,
                "why_not": ""
                if ep is not None and ep.active
                else (
                    tr("端点已删除", "Endpoint removed")
                    if ep is None
                    else tr("端点已停用", "Endpoint switched off")
                ),
                "error": error_text(msg.last_error),
            }
        )
    return {"rows": rows, "total": qs.count(), "limit": DEAD_PAGE}
