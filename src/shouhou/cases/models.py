"""The after-sales case (售后单) and what hangs off it: lines, evidence, the timeline,
refund instructions, ratings, and the per-shop policy and return addresses."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from shouhou.core.crypto import EncryptedTextField, mask_address, mask_phone
from shouhou.core.models import Shop, StaffMember
from shouhou.customers.models import Customer
from shouhou.orders.models import Channel, Order, OrderLine

from . import lifecycle as lc


def _choices(enum, labels) -> list[tuple[str, str]]:
    return [(m.value, f"{labels[m]} {m.value}") for m in enum]


CASE_TYPE_CHOICES = _choices(lc.CaseType, lc.CASE_TYPE_LABELS)
STATUS_CHOICES = _choices(lc.Status, lc.STATUS_LABELS)
REASON_CHOICES = _choices(lc.Reason, lc.REASON_LABELS)
ACTION_CHOICES = _choices(lc.Action, lc.ACTION_LABELS) + [
    ("note", "内部备注 note"),
    ("reply", "回复 reply"),
    ("statement", "陈述 statement"),
    ("assign", "分配 assign"),
    ("set_priority", "设置优先级 priority"),
    ("tag", "标签 tag"),
    ("evidence", "上传凭证 evidence"),
    ("finance_approval_requested", "提交财务审批 finance approval requested"),
    ("refund_issued", "退款指令已发出 refund issued"),
    ("rule_fired", "规则执行 rule fired"),
]
ROLE_CHOICES = _choices(lc.ActorRole, lc.ROLE_LABELS)
PROPOSAL_CHOICES = _choices(lc.ProposalKind, lc.PROPOSAL_LABELS)


class Priority(models.IntegerChoices):
    NORMAL = 0, "普通 normal"
    HIGH = 1, "高 high"
    URGENT = 2, "紧急 urgent"


class Case(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="cases")
    number = models.CharField("售后单号 case no.", max_length=32)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="cases")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cases")
    type = models.CharField("售后类型 type", max_length=16, choices=CASE_TYPE_CHOICES)
    # The flow the case follows: its type, or the remedy of an accepted proposal.
    path = models.CharField("处理路径 path", max_length=16)
    reason = models.CharField("售后原因 reason", max_length=32, choices=REASON_CHOICES)
    description = models.TextField("问题描述 description", blank=True, default="")
    status = models.CharField("状态 status", max_length=32, choices=STATUS_CHOICES)
    channel = models.CharField("渠道 channel", max_length=16, choices=Channel.choices)
    external_id = models.CharField(
        "平台售后单号 marketplace id", max_length=64, blank=True, default=""
    )
    requested_refund_fen = models.PositiveBigIntegerField("申请退款(分) requested", default=0)
    refund_fen = models.PositiveBigIntegerField("退款金额(分) refund", default=0)
    deadline_at = models.DateTimeField("截止时间 deadline", null=True, blank=True)
    deadline_action = models.CharField("超时动作 on timeout", max_length=32, blank=True, default="")
    priority = models.PositiveSmallIntegerField(
        "优先级 priority", choices=Priority.choices, default=Priority.NORMAL
    )
    assignee = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_cases"
    )
    # Optimistic concurrency: every write bumps the version with a guarded UPDATE.
    version = models.PositiveIntegerField("版本 version", default=1)
    is_open = models.BooleanField(default=True)
    flags = models.JSONField("标记 flags", default=list, blank=True)
    tags = models.JSONField("标签 tags", default=list, blank=True)
    awaiting_finance = models.BooleanField("待财务审批 awaiting finance", default=False)
    proposal_kind = models.CharField(
        "协商方案 proposal", max_length=16, choices=PROPOSAL_CHOICES, blank=True, default=""
    )
    proposal_refund_fen = models.PositiveBigIntegerField("方案退款(分) proposal refund", default=0)
    proposal_note = models.TextField("方案说明 proposal note", blank=True, default="")
    rejection_reason = models.TextField("拒绝理由 rejection reason", blank=True, default="")
    ruling = models.CharField("裁定 ruling", max_length=16, blank=True, default="")
    ruling_reason = models.TextField("裁定理由 ruling reason", blank=True, default="")
    return_address = models.ForeignKey(
        "cases.ReturnAddress", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reopen_count = models.PositiveSmallIntegerField("重新申请次数 reopened", default=0)
    auto_agreed_by_timeout = models.BooleanField(
        "超时自动同意 auto-agreed by timeout", default=False
    )
    opened_at = models.DateTimeField("申请时间 opened")
    updated_at = models.DateTimeField("更新时间 updated")
    closed_at = models.DateTimeField("结束时间 ended", null=True, blank=True)

    class Meta:
        verbose_name = "售后单 case"
        verbose_name_plural = "售后单 cases"
        constraints = [
            models.UniqueConstraint(fields=["shop", "number"], name="case_shop_number"),
            models.UniqueConstraint(
                fields=["shop", "external_id"],
                condition=~Q(external_id=""),
                name="case_shop_external",
            ),
            models.CheckConstraint(
                condition=Q(is_open=True) | Q(deadline_at__isnull=True),
                name="case_closed_has_no_deadline",
            ),
            # Openness is derived from the status; the database holds every writer to it
            # (the services and the batched sweep's set-based UPDATE alike).
            models.CheckConstraint(
                condition=(Q(is_open=True) & ~Q(status__in=["completed", "closed"]))
                | Q(is_open=False, status__in=["completed", "closed"]),
                name="case_open_iff_not_ended",
            ),
        ]
        indexes = [
            # The workbench queue: open cases of a shop by deadline urgency.
            models.Index(fields=["shop", "is_open", "deadline_at", "id"], name="case_queue"),
            models.Index(
                fields=["shop", "status", "deadline_at", "id"], name="case_shop_status_dl"
            ),
            models.Index(fields=["shop", "assignee", "is_open"], name="case_shop_assignee"),
            models.Index(fields=["shop", "order"], name="case_shop_order"),
            models.Index(fields=["shop", "customer"], name="case_shop_customer"),
            # The deadline sweep runs across shops; only rows with a deadline are indexed.
            models.Index(
                fields=["deadline_at"],
                condition=Q(deadline_at__isnull=False),
                name="case_due",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def status_label(self) -> str:
        return lc.STATUS_LABELS[lc.Status(self.status)]

    @property
    def type_label(self) -> str:
        return lc.CASE_TYPE_LABELS[lc.CaseType(self.type)]

    @property
    def reason_label(self) -> str:
        return lc.REASON_LABELS.get(self.reason, self.reason)


class CaseLine(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="case_lines")
    quantity = models.PositiveIntegerField("数量 quantity")
    refund_fen = models.PositiveBigIntegerField("申请退款(分) refund", default=0)
    # Copied from the case so the database can hold "one open case per line and type".
    type = models.CharField(max_length=16, choices=CASE_TYPE_CHOICES)
    is_open = models.BooleanField(default=True)

    class Meta:
        verbose_name = "售后商品行 case line"
        verbose_name_plural = "售后商品行 case lines"
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "order_line", "type"],
                condition=Q(is_open=True),
                name="one_open_case_per_line_and_type",
            ),
            models.UniqueConstraint(fields=["shop", "case", "order_line"], name="caseline_once"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="caseline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.order_line_id} ×{self.quantity}"


def evidence_path(instance: Evidence, filename: str) -> str:
    return f"evidence/{instance.shop_id}/{instance.case_id}/{instance.sha256[:16]}-{filename[-60:]}"


class Evidence(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    uploaded_by = models.CharField("上传方 uploaded by", max_length=16, choices=ROLE_CHOICES)
    file = models.FileField("文件 file", upload_to=evidence_path, max_length=255)
    original_name = models.CharField("原文件名 name", max_length=200)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    note = models.CharField("说明 note", max_length=500, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "凭证 evidence"
        verbose_name_plural = "凭证 evidence"
        indexes = [models.Index(fields=["shop", "case"], name="evidence_shop_case")]

    def __str__(self) -> str:
        return self.original_name


class Visibility(models.TextChoices):
    PUBLIC = "public", "双方可见 visible to buyer"
    INTERNAL = "internal", "仅内部 internal"


class TimelineEvent(models.Model):
    """Append-only: who did what, when, from which status to which."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField("时间 at")
    actor_role = models.CharField("角色 role", max_length=16, choices=ROLE_CHOICES)
    actor_label = models.CharField("操作人 actor", max_length=120)
    staff = models.ForeignKey(StaffMember, on_delete=models.SET_NULL, null=True, blank=True)
    action = models.CharField("动作 action", max_length=32, choices=ACTION_CHOICES)
    from_status = models.CharField(max_length=32, blank=True, default="")
    to_status = models.CharField(max_length=32, blank=True, default="")
    rule = models.ForeignKey(
        "rules.AutomationRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    by_deadline = models.BooleanField("超时触发 by deadline", default=False)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    message = models.TextField("说明 message", blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "时间线事件 timeline event"
        verbose_name_plural = "时间线 timeline"
        indexes = [models.Index(fields=["shop", "case", "at"], name="timeline_shop_case_at")]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("the timeline is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("the timeline is append-only")


class RefundStatus(models.TextChoices):
    ISSUED = "issued", "已发出 issued"
    CONFIRMED = "confirmed", "已到账 confirmed"


class RefundInstruction(models.Model):
    """The instruction to pay money back. One per case, ever (the unique key says so)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE)
    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="refund_instruction")
    reference = models.CharField("退款流水号 reference", max_length=40, unique=True)
    amount_fen = models.PositiveBigIntegerField("金额(分) amount")
    status = models.CharField(
        max_length=16, choices=RefundStatus.choices, default=RefundStatus.ISSUED
    )
    issued_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    allocation = models.JSONField("分摊到订单行 per line", default=dict)

    class Meta:
        verbose_name = "退款指令 refund instruction"
        verbose_name_plural = "退款指令 refund instructions"
        indexes = [models.Index(fields=["shop", "issued_at"], name="refund_shop_issued")]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="refund_positive")
        ]

    def __str__(self) -> str:
        return self.reference


class CaseRating(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE)
    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="rating")
    speed = models.PositiveSmallIntegerField("速度 speed")
    satisfaction = models.PositiveSmallIntegerField("满意度 satisfaction")
    comment = models.TextField("评价 comment", blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        verbose_name = "服务评价 rating"
        verbose_name_plural = "服务评价 ratings"
        constraints = [
            models.CheckConstraint(
                condition=Q(speed__gte=1, speed__lte=5), name="rating_speed_1_5"
            ),
            models.CheckConstraint(
                condition=Q(satisfaction__gte=1, satisfaction__lte=5),
                name="rating_satisfaction_1_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.satisfaction}/5"


class PostagePayer(models.TextChoices):
    BUYER = "buyer", "买家承担 buyer"
    SHOP = "shop", "商家承担 shop"
    BY_REASON = "by_reason", "按原因(质量问题商家承担) by reason"


class ShopPolicy(models.Model):
    """Versioned: a change writes a new version; cases keep the rules they were opened under."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="policies")
    version = models.PositiveIntegerField("版本 version")
    is_current = models.BooleanField(default=True)
    after_sales_window_days = models.PositiveSmallIntegerField("售后期(天) window", default=15)
    no_reason_days = models.PositiveSmallIntegerField("无理由退货(天) no-reason days", default=7)
    finance_approval_limit_fen = models.PositiveBigIntegerField(
        "财务审批额度(分) finance approval above", null=True, blank=True
    )
    # {deadline key: hours}, keys as in lifecycle.DEADLINES.
    deadline_hours = models.JSONField("期限(小时) deadlines", default=dict, blank=True)
    # {reason: [types]} overriding lifecycle.DEFAULT_REASON_TYPES.
    reason_types = models.JSONField("原因与类型 reasons → types", default=dict, blank=True)
    return_postage_payer = models.CharField(
        "退货运费 return postage",
        max_length=16,
        choices=PostagePayer.choices,
        default=PostagePayer.BY_REASON,
    )
    max_evidence_files = models.PositiveSmallIntegerField("凭证上限 evidence limit", default=9)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "售后政策 policy"
        verbose_name_plural = "售后政策 policies"
        constraints = [
            models.UniqueConstraint(fields=["shop", "version"], name="policy_shop_version"),
            models.UniqueConstraint(
                fields=["shop"], condition=Q(is_current=True), name="policy_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id} v{self.version}"


class ReturnAddress(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="return_addresses")
    label = models.CharField("名称 label", max_length=60)
    contact_name = models.CharField("联系人 contact", max_length=60)
    phone = EncryptedTextField("电话 phone")
    address = EncryptedTextField("地址 address")
    is_default = models.BooleanField("默认 default", default=False)

    class Meta:
        verbose_name = "退货地址 return address"
        verbose_name_plural = "退货地址 return addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["shop"], condition=Q(is_default=True), name="one_default_return_address"
            )
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    @property
    def address_masked(self) -> str:
        return mask_address(self.address)
