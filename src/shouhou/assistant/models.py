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


# ---------------------------------------------------------------------------------------------
# Service conversations (PRODUCT.md §3): a buyer writes in, the assistant answers when it is
# sure, otherwise an agent takes over (转人工).


class ConversationStatus(models.TextChoices):
    BOT = "bot", "智能客服接待中 with the assistant"
    WAITING = "waiting", "等待人工 waiting for an agent"
    WITH_AGENT = "with_agent", "人工接待中 with an agent"
    CLOSED = "closed", "已结束 closed"


class HandoverReason(models.TextChoices):
    ASKED = "asked", "买家要求人工 buyer asked for a person"
    LOW_CONFIDENCE = "low_confidence", "智能客服没有把握 the assistant was not sure"
    ANGRY = "angry", "买家情绪激动 angry buyer"
    COMPLAINT = "complaint", "质量问题/投诉 quality complaint"
    ORDER_CHANGE = "order_change", "修改/取消订单 order change request"
    REPEATED = "repeated", "答复后仍在追问 still asking after an answer"
    UNREADABLE = "unreadable", "无法识别的消息 message the assistant cannot read"


class Conversation(models.Model):
    """One buyer's conversation with a shop, maybe about one order and one case."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="conversations")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="conversations"
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField("渠道 channel", max_length=16, default="portal")
    status = models.CharField(
        "状态 status",
        max_length=16,
        choices=ConversationStatus.choices,
        default=ConversationStatus.BOT,
    )
    handover_reason = models.CharField(
        "转人工原因 hand-over reason", max_length=16, choices=HandoverReason.choices, blank=True
    )
    assignee = models.ForeignKey(
        "core.StaffMember",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="接待客服 agent",
    )
    last_intent = models.CharField("最近意图 last intent", max_length=24, blank=True)
    is_angry = models.BooleanField("情绪激动 angry", default=False)
    started_at = models.DateTimeField("开始 started")
    last_message_at = models.DateTimeField("最近消息 last message")
    # When the buyer started waiting for a person; the desk sorts by it.
    waiting_since = models.DateTimeField("等待开始 waiting since", null=True, blank=True)
    closed_at = models.DateTimeField("结束 closed", null=True, blank=True)

    class Meta:
        verbose_name = "客服会话 conversation"
        verbose_name_plural = "客服会话 conversations"
        indexes = [
            models.Index(fields=["shop", "status", "waiting_since"], name="conv_shop_status_wait"),
            models.Index(fields=["shop", "last_message_at"], name="conv_shop_last"),
            models.Index(fields=["customer"], name="conv_customer"),
        ]
        constraints = [
            # A buyer has one open conversation per order: opening the chat twice (two
            # tabs, a double tap) lands in the same one.
            models.UniqueConstraint(
                fields=["shop", "customer", "order"],
                condition=~models.Q(status="closed"),
                name="conv_one_open_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"会话 {self.pk}"


class MessageAuthor(models.TextChoices):
    BUYER = "buyer", "买家 buyer"
    ASSISTANT = "assistant", "智能客服 assistant"
    AGENT = "agent", "客服 agent"
    SYSTEM = "system", "系统 system"


class Message(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    author_kind = models.CharField("发送方 author", max_length=16, choices=MessageAuthor.choices)
    author = models.ForeignKey(
        "core.StaffMember", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField("内容 text", max_length=2000)
    # What the assistant read in a buyer's message (blank on other messages).
    intent = models.CharField("意图 intent", max_length=24, blank=True)
    intent_score = models.FloatField("意图置信度 intent score", null=True, blank=True)
    sentiment = models.CharField("情绪 sentiment", max_length=16, blank=True)
    sentiment_score = models.FloatField("情绪置信度 sentiment score", null=True, blank=True)
    # The FAQ entry an assistant answer came from (or the best match for a buyer message).
    faq_entry = models.ForeignKey(
        FaqEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    faq_score = models.FloatField("FAQ 匹配度 FAQ score", null=True, blank=True)
    # A token the page sends with each message, so a resent request adds nothing twice.
    client_token = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField("时间 sent")

    class Meta:
        verbose_name = "会话消息 message"
        verbose_name_plural = "会话消息 messages"
        indexes = [models.Index(fields=["conversation", "id"], name="msg_conv_id")]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_token"],
                condition=~models.Q(client_token=""),
                name="msg_one_per_client_token",
            ),
        ]

    def __str__(self) -> str:
        return self.body[:40]


class CorrectionKind(models.TextChoices):
    INTENT = "intent", "意图纠正 intent"
    FAQ = "faq", "FAQ 匹配纠正 FAQ match"


class AssistantCorrection(models.Model):
    """An agent's correction of what the assistant read; `shouhou assistant train` learns
    from these. The buyer's text is copied, so a correction outlives its conversation."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="corrections"
    )
    kind = models.CharField("类型 kind", max_length=8, choices=CorrectionKind.choices)
    text = models.TextField("买家原话 buyer's text", max_length=2000)
    predicted = models.CharField("原判断 predicted", max_length=24, blank=True)
    # An intent code, or for FAQ the entry id as text ("" = no entry should answer this).
    corrected = models.CharField("纠正为 corrected to", max_length=24, blank=True)
    faq_entry = models.ForeignKey(
        FaqEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    corrected_by = models.ForeignKey(
        "core.StaffMember", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField("时间 at")

    class Meta:
        verbose_name = "智能客服纠正 assistant correction"
        verbose_name_plural = "智能客服纠正 assistant corrections"
        indexes = [models.Index(fields=["shop", "kind", "created_at"], name="corr_shop_kind")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.predicted} → {self.corrected}"
