"""Helpers for the portal tests: a buyer who has reached an order, real files to upload."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shouhou.cases import services
from shouhou.cases.models import Case
from shouhou.orders.models import Order
from tests.factories import buyer, staff_actor


def jpeg_bytes(size: tuple[int, int] = (64, 48), color: str = "orange") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return buf.getvalue()


def jpeg(name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(), content_type="image/jpeg")


def fake_jpeg(name: str = "note.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"just some text, not a picture\n" * 4, "image/jpeg")


def enter(client, order: Order) -> None:
    """Reach the order the way a buyer does: order number + the phone's last four digits."""
    response = client.post(
        "/portal/",
        {
            "shop": order.shop.code,
            "order_no": order.external_id,
            "phone_last4": order.customer.phone_last4,
        },
    )
    assert response.status_code == 302 and response.url == "/portal/order/", response


def form_token(client) -> str:
    response = client.get("/portal/order/apply/")
    assert response.status_code == 200
    return response.context["form_token"]


def apply(client, order: Order, *, type="return_refund", reason="quality", files=(), **extra):
    line = order.lines.order_by("id").first()
    data = {
        "form_token": extra.pop("token", None) or form_token(client),
        "line": [str(line.id)],
        f"qty_{line.id}": str(extra.pop("qty", 1)),
        "type": type,
        "reason": reason,
        "description": "拆开就是坏的",
        **extra,
    }
    if files:
        data["photos"] = list(files)
    return client.post("/portal/order/apply/", data)


def open_for(order: Order, *, type="return_refund", reason="quality", qty=1) -> Case:
    line = order.lines.order_by("id").first()
    return services.open_case(
        order.shop,
        buyer(order),
        order=order,
        type=type,
        reason=reason,
        lines=[services.LineRequest(line.id, qty)],
        channel="portal",
    )


def agent(order: Order):
    return staff_actor(order.shop, "agent")


def messages_of(response) -> list[tuple[str, str]]:
    """(code, text) of every message the page shows."""
    return [(m.extra_tags, str(m)) for m in response.context["messages"]]
