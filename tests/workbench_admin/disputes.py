"""A dispute made through the case services: opened, rejected with evidence from the shop,
escalated by the buyer with their own evidence (what the arbiter pages show)."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shouhou.cases import services
from shouhou.cases.evidence import add_evidence
from shouhou.cases.models import Case
from shouhou.cases.services import LineRequest
from tests.factories import buyer, make_order, make_staff, staff_actor


def png(colour: str = "red", name: str = "photo.png") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def make_dispute(shop, *, case_type: str = "refund_only") -> Case:
    order = make_order(shop, lines=[(1, 12990)])
    agent = make_staff(shop, "agent")
    as_agent = staff_actor(shop, "agent", agent)
    as_buyer = buyer(order)
    case = services.open_case(
        shop,
        as_buyer,
        order=order,
        type=case_type,
        reason="quality",
        lines=[LineRequest(order.lines.first().id, 1)],
        description="收到的杯子有裂缝，漏水。",
    )
    add_evidence(case.id, as_buyer, png("red", "crack.png"), "杯身裂缝")
    services.reject(case.id, as_agent, reason="出库检测完好，疑似买家使用中摔裂。")
    add_evidence(case.id, as_agent, png("blue", "outbound.png"), "出库检测照片")
    services.add_note(case.id, as_agent, text="仅内部：此买家曾多次申请", internal=True)
    services.escalate(case.id, as_buyer, statement="收到时就是裂的，快递外箱也有破损。")
    add_evidence(case.id, as_buyer, png("green", "box.png"), "快递外箱破损")
    return Case.objects.get(pk=case.id)
