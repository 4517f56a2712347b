"""API test helpers: a small JSON client, API keys, staff sessions and buyer tokens."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from shouhou.core.models import ApiKey
from tests.factories import make_staff

BASE = "/api/v1"


class Api:
    """Thin wrapper over Django's test client speaking JSON to /api/v1 with fixed headers."""

    def __init__(self, client: Client | None = None, **headers: str) -> None:
        self.client = client or Client()
        self.headers = headers

    def _h(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {**self.headers, **(extra or {})}

    def get(self, path: str, params: Any = None, headers: dict | None = None):
        return self.client.get(BASE + path, params or {}, headers=self._h(headers))

    def post(
        self, path: str, body: Any = None, headers: dict | None = None, raw: bytes | None = None
    ):
        data = raw if raw is not None else json.dumps({} if body is None else body)
        return self.client.post(
            BASE + path, data=data, content_type="application/json", headers=self._h(headers)
        )

    def upload(self, path: str, files: dict, headers: dict | None = None):
        return self.client.post(BASE + path, data=files, headers=self._h(headers))

    def act(self, case_id: int, action: str, body: dict | None = None, **kw):
        return self.post(f"/cases/{case_id}/actions/{action}", body or {}, **kw)


def key_api(shop) -> Api:
    _, secret = ApiKey.issue(shop, "ERP")
    return Api(Authorization=f"Bearer {secret}")


def staff_api(shop, role: str, staff=None) -> Api:
    staff = staff or make_staff(shop, role)
    client = Client()
    client.force_login(staff.user)
    api = Api(client)
    api.staff = staff
    return api


def buyer_api(order) -> Api:
    from shouhou.core.auth import issue_buyer_token

    return Api(**{"X-Buyer-Token": issue_buyer_token(order.shop_id, order.customer_id, order.id)})


def open_case(api: Api, order, *, type="return_refund", reason="quality", qty=1, line=0, **extra):
    line_obj = list(order.lines.order_by("id"))[line]
    body = {
        "order_id": order.id,
        "type": type,
        "reason": reason,
        "lines": [{"order_line_id": line_obj.id, "quantity": qty}],
        **extra,
    }
    resp = api.post("/cases", body)
    assert resp.status_code == 201, resp.content
    return resp.json()
