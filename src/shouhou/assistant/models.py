"""The shop's knowledge: FAQ entries (help centre, assistant answers) and canned replies."""

from __future__ import annotations

from django.db import models

from shouhou.core.models import Shop


class FaqCategory(models.TextChoices):
    POLICY = "policy", "售后政策 Policy"
    PROCESS = "process", "售后流程 Process"
    SHIPPING = "shipping", "发货物流 Shipping"
    REFUND = "refund", "退款 Refunds"
    EXCHANGE = "exchange", "换货维修 Exchanges & repairs"
    INVOICE = "invoice", "发票 Invoices"
    PROMOTION = "promotion", "优惠活动 Promotions"
    OTHER = "other", "其他 Other"


class FaqEntry(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="faq_entries")
    category = models.CharField(
        "分类 category", max_length=16, choices=FaqCategory.choices, default=FaqCategory.OTHER
    )
    question = models.CharField("问题 question", max_length=200)
    answer = models.TextField("答案 answer", max_length=4000)
    # Extra phrasings buyers use for the same question (one per line), for retrieval.
    keywords = models.TextField("相似问法 other phrasings", blank=True, default="")
    is_published = models.BooleanField("发布 published", default=True)
    position = models.PositiveSmallIntegerField("顺序 order", default=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "常见问题 FAQ entry"
        verbose_name_plural = "常见问题 FAQ"
        indexes = [
            models.Index(fields=["shop", "is_published", "position"], name="faq_shop_pub_pos")
        ]

    def __str__(self) -> str:
        return self.question


class CannedReply(models.Model):
    """A reply an agent sends with one click. The body may use variables that are filled
    from the case: {buyer} {order_no} {case_no} {status} {deadline} {refund} {tracking}
    {return_address} {shop}."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="canned_replies")
    title = models.CharField("标题 title", max_length=60)
    body = models.TextField("内容 body", max_length=2000)
    # Case types the reply suits ([] = any); used to rank replies for a case.
    case_types = models.JSONField("适用类型 case types", default=list, blank=True)
    statuses = models.JSONField("适用状态 statuses", default=list, blank=True)
    is_active = models.BooleanField("启用 active", default=True)
    position = models.PositiveSmallIntegerField("顺序 order", default=100)
    times_used = models.PositiveIntegerField("使用次数 times used", default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "快捷回复 canned reply"
        verbose_name_plural = "快捷回复 canned replies"
        indexes = [models.Index(fields=["shop", "is_active", "position"], name="canned_shop_pos")]

    def __str__(self) -> str:
        return self.title
