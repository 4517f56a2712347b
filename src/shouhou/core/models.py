"""Tenancy (shops), staff and roles, API keys, the audit log, the shared clock."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models


class Platform(models.TextChoices):
    OWN = "own", "自营商城 Own store"
    TAOBAO = "taobao", "淘宝/天猫 Taobao/Tmall"
    PDD = "pdd", "拼多多 Pinduoduo"
    JD = "jd", "京东 JD"
    DOUYIN = "douyin", "抖音 Douyin"


class ShopMode(models.TextChoices):
    OWN_PLATFORM = "own_platform", "自营平台 Own platform"
    MARKETPLACE = "marketplace", "平台店铺 Marketplace"


class RefundGateway(models.TextChoices):
    # manual: finance or the payment system confirms via the API; instant: the built-in
    # ledger confirms at once (own-platform demo, wallets).
    MANUAL = "manual", "人工/支付回调确认 Manual"
    INSTANT = "instant", "即时到账 Instant"


class Shop(models.Model):
    code = models.SlugField("店铺代码 code", max_length=40, unique=True)
    name = models.CharField("店铺名称 name", max_length=120)
    platform = models.CharField("平台 platform", max_length=16, choices=Platform.choices)
    mode = models.CharField(
        "模式 mode", max_length=16, choices=ShopMode.choices, default=ShopMode.OWN_PLATFORM
    )
    # Own-platform mode may put new applications through platform review (待审核) first.
    review_new_cases = models.BooleanField("新申请需平台审核 review new cases", default=False)
    refund_gateway = models.CharField(
        "退款通道 refund gateway",
        max_length=16,
        choices=RefundGateway.choices,
        default=RefundGateway.MANUAL,
    )
    created_at = models.DateTimeField("创建时间 created", auto_now_add=True)

    class Meta:
        verbose_name = "店铺 shop"
        verbose_name_plural = "店铺 shops"

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    AGENT = "agent", "客服 Agent"
    WAREHOUSE = "warehouse", "仓库 Warehouse"
    FINANCE = "finance", "财务 Finance"
    ADMIN = "admin", "店长 Shop admin"
    ARBITER = "arbiter", "平台小二 Arbiter"


class StaffMember(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField("角色 role", max_length=16, choices=Role.choices)
    display_name = models.CharField("显示名 display name", max_length=60, blank=True)
    is_active = models.BooleanField("启用 active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "员工 staff member"
        verbose_name_plural = "员工 staff"
        constraints = [
            models.UniqueConstraint(fields=["shop", "user"], name="staff_one_role_per_shop")
        ]
        indexes = [models.Index(fields=["shop", "role"], name="staff_shop_role")]

    def __str__(self) -> str:
        return f"{self.display_name or self.user.get_username()} ({self.role})"


class ApiKey(models.Model):
    """A shop's integration key. Only a SHA-256 of the secret is stored; shown once."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField("名称 name", max_length=80)
    prefix = models.CharField("前缀 prefix", max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField("吊销时间 revoked", null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API 密钥 API key"
        verbose_name_plural = "API 密钥 API keys"
        indexes = [models.Index(fields=["shop", "created_at"], name="apikey_shop_created")]

    def __str__(self) -> str:
        return f"{self.name} (sh_{self.prefix}_…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, shop: Shop, name: str) -> tuple[ApiKey, str]:
        """Create a key and return it with the full secret (the only time it is seen)."""
        prefix = secrets.token_hex(6)
        secret = f"sh_{prefix}_{secrets.token_urlsafe(32)}"
        key = cls.objects.create(
            shop=shop, name=name, prefix=prefix, key_hash=cls.hash_secret(secret)
        )
        return key, secret


class AuditLog(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="audit_log")
    at = models.DateTimeField("时间 at")
    actor = models.CharField("操作人 actor", max_length=120)
    action = models.CharField("操作 action", max_length=60)
    target = models.CharField("对象 target", max_length=120, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "审计日志 audit log entry"
        verbose_name_plural = "审计日志 audit log"
        indexes = [models.Index(fields=["shop", "at"], name="audit_shop_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


class ClockState(models.Model):
    """One row: how far the application clock runs ahead of the wall clock."""

    offset_seconds = models.FloatField(default=0.0)

    class Meta:
        verbose_name = "应用时钟 application clock"

    def __str__(self) -> str:
        return f"{self.offset_seconds:+.0f}s"


class IdempotencyRecord(models.Model):
    """Remembers the response to a request sent with an Idempotency-Key, per shop."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "幂等记录 idempotency record"
        constraints = [models.UniqueConstraint(fields=["shop", "key"], name="idempotency_shop_key")]

    def __str__(self) -> str:
        return self.key
