"""The transactional outbox and its channels (PRODUCT.md §6).

An `Endpoint` is one place a shop wants to hear from: a signed webhook, an e-mail list, a
WeCom or DingTalk group robot. `notify.services.enqueue` writes one `OutboxMessage` per
subscribed endpoint in the caller's transaction; the deliverer sends them later, at least
once, each with a stable `message_id` the receiver dedupes on.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from shouhou.core.crypto import EncryptedTextField


class Channel(models.TextChoices):
    WEBHOOK = "webhook", "签名 Webhook signed webhook"
    EMAIL = "email", "电子邮件 e-mail"
    WECOM = "wecom", "企业微信群机器人 WeCom group robot"
    DINGTALK = "dingtalk", "钉钉群机器人 DingTalk group robot"


class Topic(models.TextChoices):
    CASE_OPENED = "case.opened", "新售后申请 case opened"
    CASE_STATUS_CHANGED = "case.status_changed", "售后状态变化 case status changed"
    REFUND_ISSUED = "refund.issued", "退款指令已发出 refund issued"
    TEST = "test.ping", "测试消息 test message"


class Endpoint(models.Model):
    shop = models.ForeignKey(
        "core.Shop",
        on_delete=models.CASCADE,
        related_name="notify_endpoints",
        verbose_name="店铺 shop",
    )
    name = models.CharField("名称 name", max_length=80)
    channel = models.CharField("渠道 channel", max_length=16, choices=Channel.choices)
    # Webhook / WeCom / DingTalk: where to POST. The robots' URLs carry their key or token.
    url = models.URLField("地址 URL", max_length=500, blank=True)
    # Webhook: the HMAC key; DingTalk: the robot's 加签 secret. Encrypted at rest.
    secret = EncryptedTextField("密钥 secret", blank=True, default="")
    # E-mail: comma-separated addresses.
    recipients = models.TextField("收件人 recipients", blank=True, default="")
    # Empty list: every topic.
    topics = models.JSONField("订阅主题 topics", default=list, blank=True)
    active = models.BooleanField("启用 active", default=True)
    created_at = models.DateTimeField("创建时间 created", auto_now_add=True)

    class Meta:
        verbose_name = "通知端点 notification endpoint"
        verbose_name_plural = "通知端点 notification endpoints"
        indexes = [models.Index(fields=["shop", "active"], name="notify_endpoint_shop_active")]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"

    def wants(self, topic: str) -> bool:
        return self.active and (not self.topics or topic in self.topics or topic == Topic.TEST)

    @property
    def recipient_list(self) -> list[str]:
        return [r.strip() for r in self.recipients.replace(";", ",").split(",") if r.strip()]


class MessageStatus(models.TextChoices):
    PENDING = "pending", "待发送 pending"
    DELIVERED = "delivered", "已送达 delivered"
    DEAD = "dead", "死信 dead letter"


class OutboxMessage(models.Model):
    shop = models.ForeignKey("core.Shop", on_delete=models.CASCADE, verbose_name="店铺 shop")
    # Removing an endpoint leaves its history; pending rows for it go to the dead letters.
    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.SET_NULL,
        null=True,
        related_name="messages",
        verbose_name="目的地 destination",
    )
    # Stable across retries: the webhook's Idempotency-Key, the e-mail's Message-ID.
    message_id = models.UUIDField("消息编号 message id", default=uuid.uuid4, unique=True)
    topic = models.CharField("主题 topic", max_length=40)
    payload = models.JSONField("内容 payload", default=dict)
    dedupe_key = models.CharField("去重键 dedupe key", max_length=200)
    status = models.CharField(
        "状态 status", max_length=12, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    attempts = models.PositiveIntegerField("尝试次数 attempts", default=0)
    # Due when pending and next_attempt_at has passed. A claim moves it to the end of the
    # lease, so a deliverer killed mid-send leaves a row that falls due again by itself.
    next_attempt_at = models.DateTimeField("下次尝试 next attempt", default=timezone.now)
    claimed_until = models.DateTimeField("租约到期 lease until", null=True, blank=True)
    claim_token = models.UUIDField("领取令牌 claim token", null=True, blank=True)
    last_error = models.TextField("最近错误 last error", blank=True, default="")
    created_at = models.DateTimeField("创建时间 created", default=timezone.now)
    updated_at = models.DateTimeField("更新时间 updated", default=timezone.now)
    delivered_at = models.DateTimeField("送达时间 delivered", null=True, blank=True)

    class Meta:
        verbose_name = "待发消息 outbox message"
        verbose_name_plural = "待发消息 outbox messages"
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "topic", "endpoint", "dedupe_key"], name="notify_outbox_dedupe"
            ),
        ]
        indexes = [
            # The deliverer's scan: only pending rows, oldest due first.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="notify_outbox_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["shop", "status", "id"], name="notify_outbox_shop_status"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} → {self.endpoint_id} [{self.status}]"
