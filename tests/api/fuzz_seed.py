"""The shop the fuzzer works on: orders, cases at several steps, an evidence file, and the
credentials of three callers (an API key, a buyer token, an admin's session)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.factories import make_customer, make_order, make_shop, make_staff

from .support import Api, buyer_api, key_api, open_case


@dataclass
class Seeded:
    api_key_headers: dict[str, str]
    buyer_headers: dict[str, str]
    staff_headers: dict[str, str]
    pools: dict[str, list[int]] = field(default_factory=dict)


def _staff_headers(staff) -> dict[str, str]:
    client = Client()
    client.force_login(staff.user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = secrets.token_hex(16)  # an unmasked 32-character secret: cookie and header agree
    return {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}",
        "X-CSRFToken": csrf,
    }


def seed() -> Seeded:
    shop = make_shop(code="fuzz")
    admin = make_staff(shop, "admin")
    agent = make_staff(shop, "agent")
    integration = key_api(shop)
    customer = make_customer(shop)
    delivered = make_order(shop, customer, lines=[(5, 5000), (5, 3000), (3, 1000)])
    unshipped = make_order(shop, customer, lines=[(2, 2000)], status="paid")
    other = make_order(shop, lines=[(4, 8000), (1, 500)])
    buyer = buyer_api(delivered)

    cases = [
        open_case(buyer, delivered, type="return_refund", reason="quality", line=0),
        open_case(buyer, delivered, type="refund_only", reason="damaged", line=1),
        open_case(integration, delivered, type="exchange", reason="wrong_size", line=2),
        open_case(integration, other, type="return_refund", reason="quality", line=0),
        open_case(integration, unshipped, type="refund_only", reason="changed_mind_unshipped"),
    ]
    ids = [c["id"] for c in cases]
    # Move a few along, so actions meet cases at different steps.
    ok = integration.act(ids[0], "agree", {})
    assert ok.status_code == 200, ok.content
    ok = integration.act(ids[1], "propose", {"kind": "partial_refund", "refund_fen": 1000})
    assert ok.status_code == 200, ok.content
    ok = integration.act(ids[3], "reject", {"reason": "图片不清晰"})
    assert ok.status_code == 200, ok.content
    pdf = SimpleUploadedFile("invoice.pdf", b"%PDF-1.7\n%%EOF\n")
    ev = buyer.upload(f"/cases/{ids[0]}/evidence", {"file": pdf})
    assert ev.status_code == 201, ev.content

    lines = [ln.id for o in (delivered, unshipped, other) for ln in o.lines.order_by("id")]
    return Seeded(
        api_key_headers=dict(integration.headers),
        buyer_headers=dict(buyer.headers),
        staff_headers=_staff_headers(admin),
        pools={
            "order_ids": [delivered.id, unshipped.id, other.id],
            "line_ids": lines,
            "case_ids": ids,
            "evidence_ids": [ev.json()["id"]],
            "staff_ids": [admin.id, agent.id],
        },
    )


__all__ = ["Api", "Seeded", "seed"]
