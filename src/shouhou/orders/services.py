"""Writes to orders: upsert from an integration (idempotent on the shop's order number)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction

from shouhou.catalog.models import Sku
from shouhou.core.crypto import blind_index
from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop
from shouhou.customers.models import Customer, Tier

from .models import Channel, Order, OrderLine, OrderStatus


@dataclass
class CustomerData:
    external_id: str
    nickname: str = ""
    name: str = ""
    phone: str = ""
    address: str = ""
    tier: str | None = None


@dataclass
class LineData:
    external_id: str
    title: str
    quantity: int
    unit_price_fen: int
    paid_fen: int | None = None
    sku_code: str = ""


@dataclass
class OrderData:
    external_id: str
    customer: CustomerData
    lines: list[LineData]
    status: str = OrderStatus.PAID
    channel: str = Channel.API
    placed_at: datetime | None = None
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    shipping_fee_fen: int = 0
    has_shipping_insurance: bool = False
    receiver_name: str = ""
    receiver_phone: str = ""
    receiver_address: str = ""
    extra: dict = field(default_factory=dict)


def upsert_customer(shop: Shop, data: CustomerData) -> Customer:
    customer = Customer.objects.filter(shop=shop, external_id=data.external_id).first()
    if customer is None:
        customer = Customer(shop=shop, external_id=data.external_id)
    for attr in ("nickname", "name", "phone", "address"):
        value = getattr(data, attr)
        if value:
            setattr(customer, attr, value)
    if data.tier:
        if data.tier not in Tier.values:
            raise ShouhouError("validation_error", detail=f"tier: {data.tier!r}")
        customer.tier = data.tier
    if data.phone:
        customer.phone_index = blind_index(data.phone)
        customer.phone_last4 = data.phone.strip()[-4:]
    customer.save()
    return customer


def upsert_order(shop: Shop, data: OrderData) -> tuple[Order, bool]:
    """Create or update an order by its external id; return (order, created).

    Lines are matched by their external id. A line that already has after-sales cases
    keeps its paid amount from going below what was refunded (the database checks it too).
    """
    _validate(data)
    with transaction.atomic():
        customer = upsert_customer(shop, data.customer)
        order = (
            Order.objects.select_for_update()
            .filter(shop=shop, external_id=data.external_id)
            .first()
        )
        created = order is None
        if created:
            order = Order(shop=shop, external_id=data.external_id)
        order.customer = customer
        order.channel = data.channel
        order.status = data.status
        order.placed_at = data.placed_at or data.paid_at or order.placed_at or _now()
        order.paid_at = data.paid_at
        order.shipped_at = data.shipped_at
        order.delivered_at = data.delivered_at
        order.shipping_fee_fen = data.shipping_fee_fen
        order.has_shipping_insurance = data.has_shipping_insurance
        order.receiver_name = data.receiver_name or order.receiver_name
        order.receiver_phone = data.receiver_phone or order.receiver_phone
        order.receiver_address = data.receiver_address or order.receiver_address
        order.total_paid_fen = sum(_paid(line) for line in data.lines)
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError:
            raise ShouhouError("duplicate_request") from None
        existing = {line.external_id: line for line in order.lines.all()} if not created else {}
        skus = _skus(shop, {ld.sku_code for ld in data.lines if ld.sku_code})
        new_lines = []
        for ld in data.lines:
            line = existing.get(ld.external_id)
            paid = _paid(ld)
            if line is not None:
                if paid < line.refunded_fen:
                    raise ShouhouError(
                        "refund_exceeds_paid", requested=line.refunded_fen, refundable=paid
                    )
                line.title, line.quantity = ld.title, ld.quantity
                line.unit_price_fen, line.paid_fen = ld.unit_price_fen, paid
                line.sku = skus.get(ld.sku_code)
                line.save()
            else:
                new_lines.append(
                    OrderLine(
                        shop=shop,
                        order=order,
                        external_id=ld.external_id,
                        title=ld.title,
                        quantity=ld.quantity,
                        unit_price_fen=ld.unit_price_fen,
                        paid_fen=paid,
                        sku=skus.get(ld.sku_code),
                    )
                )
        OrderLine.objects.bulk_create(new_lines)
    return order, created


def _paid(line: LineData) -> int:
    return line.unit_price_fen * line.quantity if line.paid_fen is None else line.paid_fen


def _skus(shop: Shop, codes: set[str]) -> dict[str, Sku]:
    if not codes:
        return {}
    return {s.code: s for s in Sku.objects.filter(shop=shop, code__in=codes)}


def _validate(data: OrderData) -> None:
    if not data.external_id or len(data.external_id) > 64:
        raise ShouhouError("validation_error", detail="external_id: 1–64 个字符")
    if data.status not in OrderStatus.values:
        raise ShouhouError("validation_error", detail=f"status: {data.status!r}")
    if data.channel not in Channel.values:
        raise ShouhouError("validation_error", detail=f"channel: {data.channel!r}")
    if not data.lines:
        raise ShouhouError("validation_error", detail="lines: 至少一行 / at least one line")
    seen = set()
    for ld in data.lines:
        if ld.external_id in seen:
            raise ShouhouError("duplicate_line", line=ld.external_id)
        seen.add(ld.external_id)
        if ld.quantity < 1:
            raise ShouhouError("validation_error", detail=f"line {ld.external_id}: quantity ≥ 1")
        if _paid(ld) > ld.unit_price_fen * ld.quantity:
            raise ShouhouError(
                "validation_error", detail=f"line {ld.external_id}: paid above price × quantity"
            )


def _now() -> datetime:
    from shouhou.core import clock

    return clock.now()
