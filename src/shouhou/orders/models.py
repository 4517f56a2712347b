"""Orders, order lines and shipments (carrier + tracking number)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from shouhou.catalog.models import Sku
from shouhou.core.crypto import EncryptedTextField, mask_address, mask_phone
from shouhou.core.models import Shop
from shouhou.customers.models import Customer


class Channel(models.TextChoices):
    PORTAL = "portal", "买家门户 Portal"
    HOTLINE = "hotline", "热线 Hotline"
    CHAT = "chat", "在线客服 Chat"
    API = "api", "API"
    TAOBAO = "taobao", "淘宝 Taobao"
    PDD = "pdd", "拼多多 Pinduoduo"
    JD = "jd", "京东 JD"
    DOUYIN = "douyin", "抖音 Douyin"


class OrderStatus(models.TextChoices):
    UNPAID = "unpaid", "待付款 Unpaid"
    PAID = "paid", "待发货 Paid, not shipped"
    SHIPPED = "shipped", "已发货 Shipped"
    DELIVERED = "delivered", "已签收 Delivered"
    COMPLETED = "completed", "交易成功 Completed"
    CANCELLED = "cancelled", "已取消 Cancelled"


class Order(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="orders")
    external_id = models.CharField("订单号 order no.", max_length=64)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    channel = models.CharField("渠道 channel", max_length=16, choices=Channel.choices)
    status = models.CharField("订单状态 status", max_length=16, choices=OrderStatus.choices)
    placed_at = models.DateTimeField("下单时间 placed")
    paid_at = models.DateTimeField("付款时间 paid", null=True, blank=True)
    shipped_at = models.DateTimeField("发货时间 shipped", null=True, blank=True)
    delivered_at = models.DateTimeField("签收时间 delivered", null=True, blank=True)
    total_paid_fen = models.PositiveBigIntegerField("实付(分) paid", default=0)
    shipping_fee_fen = models.PositiveBigIntegerField("运费(分) shipping fee", default=0)
    has_shipping_insurance = models.BooleanField("运费险 shipping insurance", default=False)
    receiver_name = EncryptedTextField("收货人 receiver", blank=True, default="")
    receiver_phone = EncryptedTextField("收货电话 receiver phone", blank=True, default="")
    receiver_address = EncryptedTextField("收货地址 receiver address", blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "订单 order"
        verbose_name_plural = "订单 orders"
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="order_shop_external")
        ]
        indexes = [
            models.Index(fields=["shop", "customer"], name="order_shop_customer"),
            models.Index(fields=["shop", "placed_at"], name="order_shop_placed"),
            # The buyer portal's lookup by order number without a shop code.
            models.Index(fields=["external_id"], name="order_external_id"),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def is_shipped(self) -> bool:
        return self.status in {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED}

    @property
    def receiver_phone_masked(self) -> str:
        return mask_phone(self.receiver_phone)

    @property
    def receiver_address_masked(self) -> str:
        return mask_address(self.receiver_address)


class OrderLine(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey(Sku, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    external_id = models.CharField("子订单号 line id", max_length=64)
    title = models.CharField("商品标题 title", max_length=200)
    quantity = models.PositiveIntegerField("数量 quantity")
    unit_price_fen = models.PositiveBigIntegerField("单价(分) unit price")
    paid_fen = models.PositiveBigIntegerField("实付(分) paid")
    # Money refunded for this line across all cases; the database refuses more than paid.
    refunded_fen = models.PositiveBigIntegerField("已退(分) refunded", default=0)

    class Meta:
        verbose_name = "订单行 order line"
        verbose_name_plural = "订单行 order lines"
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "order", "external_id"], name="line_shop_order_ext"
            ),
            models.CheckConstraint(
                condition=Q(refunded_fen__lte=F("paid_fen")), name="line_refund_le_paid"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="line_quantity_positive"),
        ]
        indexes = [models.Index(fields=["shop", "sku"], name="line_shop_sku")]

    def __str__(self) -> str:
        return f"{self.title} ×{self.quantity}"

    @property
    def refundable_fen(self) -> int:
        return self.paid_fen - self.refunded_fen


class ShipmentDirection(models.TextChoices):
    OUTBOUND = "outbound", "发货 Outbound"
    RETURN = "return", "买家退货 Buyer return"
    REPLACEMENT = "replacement", "换货/补寄/维修寄回 Replacement"


class Shipment(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, null=True, blank=True, related_name="shipments"
    )
    direction = models.CharField("方向 direction", max_length=16, choices=ShipmentDirection.choices)
    carrier = models.CharField("快递公司 carrier", max_length=40)
    tracking_no = models.CharField("运单号 tracking no.", max_length=40)
    shipped_at = models.DateTimeField("发出时间 shipped")
    delivered_at = models.DateTimeField("签收时间 delivered", null=True, blank=True)

    class Meta:
        verbose_name = "物流 shipment"
        verbose_name_plural = "物流 shipments"
        indexes = [
            models.Index(fields=["shop", "carrier", "tracking_no"], name="shipment_shop_tracking"),
            models.Index(fields=["shop", "order"], name="shipment_shop_order"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_no}"
