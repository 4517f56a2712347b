"""Order endpoints: integrations push orders (upsert by the shop's order number), and anyone
who may see an order reads it back with personal data masked."""

from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Path, Router, Schema, Status
from pydantic import Field

from shouhou.cases.lifecycle import ActorRole
from shouhou.cases.schemas import (
    BODY_ERRORS,
    MAX_BIGINT,
    READ_ERRORS,
    ChannelCode,
    Fen,
    In,
    Quantity,
    Text,
    When,
    error_responses,
)
from shouhou.core.auth import API_AUTH, buyer_order_id, current_actor, current_shop, require_roles
from shouhou.core.errors import ShouhouError
from shouhou.customers.models import Tier
from shouhou.openapi_links import from_order, merge, on

from . import services
from .models import Order, OrderStatus

router = Router(tags=["orders 订单"], auth=API_AUTH)

# Who may push orders: the integration, and shop staff entering one by hand.
ORDER_WRITERS = frozenset({ActorRole.INTEGRATION, ActorRole.ADMIN, ActorRole.AGENT})
OrderStatusCode = Literal[tuple(OrderStatus.values)]  # type: ignore[valid-type]
TierCode = Literal[tuple(Tier.values)]  # type: ignore[valid-type]


class CustomerIn(In):
    external_id: Text(64, min_length=1)
    nickname: Text(80) = ""
    name: Text(60) = ""
    phone: Annotated[str, Field(max_length=20, pattern=r"^\+?[0-9 -]*$")] = ""
    address: Text(500) = ""
    tier: TierCode | None = None


class OrderLineIn(In):
    external_id: Text(64, min_length=1)
    title: Text(200, min_length=1)
    quantity: Quantity
    unit_price_fen: Fen
    paid_fen: Fen | None = Field(None, description="默认 unit_price_fen × quantity")
    sku_code: Text(64) = ""


class OrderIn(In):
    external_id: Text(64, min_length=1)
    status: OrderStatusCode = OrderStatus.PAID.value
    channel: ChannelCode = "api"
    placed_at: When | None = None
    paid_at: When | None = None
    shipped_at: When | None = None
    delivered_at: When | None = None
    shipping_fee_fen: Fen = 0
    has_shipping_insurance: Annotated[bool, Field(strict=True)] = False
    receiver_name: Text(60) = ""
    receiver_phone: Annotated[str, Field(max_length=20, pattern=r"^\+?[0-9 -]*$")] = ""
    receiver_address: Text(500) = ""
    customer: CustomerIn
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)


def check_amounts_fit(payload: OrderIn) -> None:
    """Amounts the columns cannot hold: a business refusal (`amount_too_large`), not a
    malformed request — every field is valid on its own, as the schema says (the fuzzer
    found these answered as `validation_error` to requests the schema allows)."""
    for ln in payload.lines:
        if ln.unit_price_fen * ln.quantity > MAX_BIGINT:
            raise ShouhouError(
                "amount_too_large", detail=f"line {ln.external_id}: unit_price_fen × quantity"
            )
    total = sum(
        ln.unit_price_fen * ln.quantity if ln.paid_fen is None else ln.paid_fen
        for ln in payload.lines
    )
    if total > MAX_BIGINT:
        raise ShouhouError("amount_too_large", detail="the order total")


class OrderCustomerOut(Schema):
    id: int
    external_id: str
    nickname: str
    tier: str
    phone_masked: str


class OrderLineOut(Schema):
    id: int
    external_id: str
    title: str
    quantity: int
    unit_price_fen: int
    paid_fen: int
    refunded_fen: int
    refundable_fen: int
    sku_code: str


class OrderOut(Schema):
    id: int
    external_id: str
    status: str
    channel: str
    placed_at: Any
    paid_at: Any
    shipped_at: Any
    delivered_at: Any
    total_paid_fen: int
    shipping_fee_fen: int
    has_shipping_insurance: bool
    receiver_name_masked: str
    receiver_phone_masked: str
    receiver_address_masked: str
    customer: OrderCustomerOut
    lines: list[OrderLineOut]


def order_json(order: Order) -> dict[str, Any]:
    from shouhou.core.crypto import mask_name

    customer = order.customer
    return {
        "id": order.id,
        "external_id": order.external_id,
        "status": order.status,
        "channel": order.channel,
        "placed_at": order.placed_at,
        "paid_at": order.paid_at,
        "shipped_at": order.shipped_at,
        "delivered_at": order.delivered_at,
        "total_paid_fen": order.total_paid_fen,
        "shipping_fee_fen": order.shipping_fee_fen,
        "has_shipping_insurance": order.has_shipping_insurance,
        "receiver_name_masked": mask_name(order.receiver_name),
        "receiver_phone_masked": order.receiver_phone_masked,
        "receiver_address_masked": order.receiver_address_masked,
        "customer": {
            "id": customer.id,
            "external_id": customer.external_id,
            "nickname": customer.nickname,
            "tier": customer.tier,
            "phone_masked": customer.phone_masked,
        },
        "lines": [
            {
                "id": ln.id,
                "external_id": ln.external_id,
                "title": ln.title,
                "quantity": ln.quantity,
                "unit_price_fen": ln.unit_price_fen,
                "paid_fen": ln.paid_fen,
                "refunded_fen": ln.refunded_fen,
                "refundable_fen": ln.refundable_fen,
                "sku_code": ln.sku.code if ln.sku_id else "",
            }
            for ln in order.lines.select_related("sku").order_by("id")
        ],
    }


@router.post(
    "/orders",
    response={200: OrderOut, 201: OrderOut, **error_responses(*BODY_ERRORS, 409)},
    operation_id="upsert_order",
    summary="推送订单 Create or update an order",
    description="Idempotent on `external_id` (the shop's order number): 201 when created, "
    "200 when updated. Lines are matched by their `external_id`.",
    openapi_extra=merge(on(200, from_order()), on(201, from_order())),
)
def upsert_order(request: HttpRequest, payload: OrderIn):
    actor = current_actor(request)
    require_roles(actor, ORDER_WRITERS)
    check_amounts_fit(payload)
    data = services.OrderData(
        external_id=payload.external_id,
        customer=services.CustomerData(**payload.customer.model_dump()),
        lines=[services.LineData(**ln.model_dump()) for ln in payload.lines],
        **payload.model_dump(exclude={"external_id", "customer", "lines"}),
    )
    order, created = services.upsert_order(current_shop(request), data)
    order = Order.objects.select_related("customer").get(pk=order.pk)
    return Status(201 if created else 200, order_json(order))


@router.get(
    "/orders/{order_id}",
    response={200: OrderOut, **error_responses(*READ_ERRORS)},
    operation_id="get_order",
    summary="订单详情 Order detail",
)
def get_order(request: HttpRequest, order_id: int = Path(..., ge=1, le=MAX_BIGINT)):
    actor = current_actor(request)
    qs = Order.objects.select_related("customer").filter(shop_id=actor.shop_id)
    if actor.role == ActorRole.BUYER:
        qs = qs.filter(customer_id=actor.customer_id, pk=buyer_order_id(request))
    order = qs.filter(pk=order_id).first()
    if order is None:
        raise ShouhouError("not_found", what="订单")
    return order_json(order)
