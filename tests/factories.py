"""Small builders for tests: a shop with staff, a customer, a paid order with lines."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.contrib.auth import get_user_model

from shouhou.cases import lifecycle as lc
from shouhou.cases.actors import Actor
from shouhou.cases.models import ReturnAddress
from shouhou.core import clock
from shouhou.core.models import Shop, StaffMember
from shouhou.customers.models import Customer
from shouhou.orders.models import Order, OrderLine, OrderStatus

_seq = itertools.count(1)


def make_shop(code: str = "demo", name: str = "测试旗舰店", **kw) -> Shop:
    shop = Shop.objects.create(code=f"{code}-{next(_seq)}", name=name, platform="own", **kw)
    ReturnAddress.objects.create(
        shop=shop,
        label="杭州仓",
        contact_name="王仓管",
        phone="13900001111",
        address="浙江省杭州市余杭区仓前街道文一西路 1 号",
        is_default=True,
    )
    return shop


def make_staff(shop: Shop, role: str, username: str | None = None) -> StaffMember:
    User = get_user_model()
    user = User.objects.create_user(
        username or f"{role}-{shop.id}-{next(_seq)}", password="pw-12345678"
    )
    return StaffMember.objects.create(shop=shop, user=user, role=role, display_name=f"{role}")


def make_customer(shop: Shop, **kw) -> Customer:
    n = next(_seq)
    defaults = {
        "external_id": f"buyer{n}",
        "nickname": f"买家{n}",
        "phone": f"138{n:08d}"[-11:],
        "address": "上海市浦东新区张江路 99 弄 3 号 501",
    }
    defaults.update(kw)
    c = Customer(shop=shop, **defaults)
    c.phone_last4 = c.phone[-4:]
    c.save()
    return c


def make_order(
    shop: Shop,
    customer: Customer | None = None,
    *,
    lines: list[tuple[int, int]] = ((2, 5000),),
    status: str = OrderStatus.DELIVERED,
    delivered_days_ago: float = 1,
) -> Order:
    """lines: (quantity, unit price in fen) per line."""
    customer = customer or make_customer(shop)
    now = clock.now()
    delivered = (
        now - timedelta(days=delivered_days_ago) if status in {"delivered", "completed"} else None
    )
    order = Order.objects.create(
        shop=shop,
        external_id=f"O{next(_seq):010d}",
        customer=customer,
        channel="portal",
        status=status,
        placed_at=now - timedelta(days=5),
        paid_at=now - timedelta(days=5),
        shipped_at=now - timedelta(days=3) if status != "paid" else None,
        delivered_at=delivered,
        total_paid_fen=sum(q * p for q, p in lines),
    )
    for i, (qty, price) in enumerate(lines):
        OrderLine.objects.create(
            shop=shop,
            order=order,
            external_id=f"L{i}",
            title=f"商品{i}",
            quantity=qty,
            unit_price_fen=price,
            paid_fen=qty * price,
        )
    return order


def buyer(order: Order) -> Actor:
    return Actor(
        role=lc.ActorRole.BUYER, shop_id=order.shop_id, customer_id=order.customer_id, label="买家"
    )


def staff_actor(shop: Shop, role: str, staff: StaffMember | None = None) -> Actor:
    return Actor(
        role=lc.ActorRole(role), shop_id=shop.id, staff_id=staff.id if staff else None, label=role
    )


def system(shop: Shop) -> Actor:
    return Actor.system(shop.id)
