"""Automation rules: when (event) / if (conditions) / then (actions), per shop."""

from __future__ import annotations

from django.db import models

from shouhou.core.models import Shop


class Event(models.TextChoices):
    CASE_OPENED = "case_opened", "售后单创建 case opened"
    STATUS_CHANGED = "status_changed", "状态变化 status changed"
    MESSAGE_RECEIVED = "message_received", "收到消息 message received"
    DEADLINE_NEAR = "deadline_near", "即将超时 deadline near"
    PARCEL_DELIVERED = "parcel_delivered", "退货包裹签收 return parcel delivered"


class AutomationRule(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField("规则名称 name", max_length=120)
    # A built-in template's code, or "" for a rule the shop wrote itself.
    template = models.CharField("模板 template", max_length=40, blank=True, default="")
    event = models.CharField("触发事件 when", max_length=32, choices=Event.choices)
    # [{"field": "case.type", "op": "eq", "value": "refund_only"}, ...] — all must hold.
    conditions = models.JSONField("条件 if", default=list, blank=True)
    # [{"type": "agree"}, {"type": "set_priority", "value": 2}, ...]
    actions = models.JSONField("动作 then", default=list)
    enabled = models.BooleanField("启用 enabled", default=False)
    position = models.PositiveSmallIntegerField("顺序 order", default=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "自动化规则 automation rule"
        verbose_name_plural = "自动化规则 automation rules"
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "template"],
                condition=~models.Q(template=""),
                name="rule_template_once",
            )
        ]
        indexes = [models.Index(fields=["shop", "event", "enabled"], name="rule_shop_event")]

    def __str__(self) -> str:
        return self.name
