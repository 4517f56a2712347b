"""The customer archive: one record per buyer per shop, personal data encrypted at rest."""

from __future__ import annotations

from django.db import models

from shouhou.core.crypto import EncryptedTextField, mask_address, mask_phone
from shouhou.core.models import Shop


class Tier(models.TextChoices):
    REGULAR = "regular", "普通会员 Regular"
    SILVER = "silver", "银卡 Silver"
    GOLD = "gold", "金卡 Gold"
    VIP = "vip", "VIP"


class Customer(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="customers")
    external_id = models.CharField("买家ID buyer id", max_length=64)
    nickname = models.CharField("昵称 nickname", max_length=80, blank=True)
    name = EncryptedTextField("姓名 name", blank=True, default="")
    phone = EncryptedTextField("手机 phone", blank=True, default="")
    # Keyed hash for lookup by phone and the last four digits the buyer portal asks for;
    # the masked view (138****5678) shows these four anyway.
    phone_index = models.CharField(max_length=32, blank=True, default="", db_index=False)
    phone_last4 = models.CharField(max_length=4, blank=True, default="")
    address = EncryptedTextField("地址 address", blank=True, default="")
    tier = models.CharField(
        "会员等级 tier", max_length=16, choices=Tier.choices, default=Tier.REGULAR
    )
    points = models.PositiveIntegerField("积分 points", default=0)
    blocklisted = models.BooleanField("黑名单 blocklisted", default=False)
    tags = models.JSONField("标签 tags", default=list, blank=True)
    notes = models.TextField("备注 notes", blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by customers.privacy.erase_customer: the person is gone, the accounting stays.
    erased_at = models.DateTimeField("删除个人信息时间 erased", null=True, blank=True)

    class Meta:
        verbose_name = "客户 customer"
        verbose_name_plural = "客户 customers"
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="customer_shop_external")
        ]
        indexes = [models.Index(fields=["shop", "phone_index"], name="customer_shop_phone")]

    def __str__(self) -> str:
        return self.nickname or self.external_id

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    @property
    def address_masked(self) -> str:
        return mask_address(self.address)
