"""The built-in rule templates a shop switches on (PRODUCT.md §2)."""

from __future__ import annotations

from .models import Event

TEMPLATES: dict[str, dict] = {
    "fast_refund": {
        "name": "极速退款 Fast refund",
        "event": Event.CASE_OPENED,
        "conditions": [
            {"field": "case.type", "op": "eq", "value": "refund_only"},
            {"field": "order.shipped", "op": "is_false"},
            {"field": "case.requested_refund_fen", "op": "lte", "value": 20000},
            {"field": "customer.blocklisted", "op": "is_false"},
        ],
        "actions": [{"type": "agree"}],
        "position": 10,
    },
    "seven_day_no_reason": {
        "name": "七天无理由自动同意 7-day no-reason auto-agree",
        "event": Event.CASE_OPENED,
        "conditions": [
            {"field": "case.reason", "op": "eq", "value": "no_reason_7d"},
            {"field": "case.type", "op": "in", "value": ["return_refund", "exchange"]},
            {"field": "case.within_no_reason_window", "op": "is_true"},
            {"field": "customer.blocklisted", "op": "is_false"},
        ],
        "actions": [{"type": "agree"}],
        "position": 20,
    },
    "auto_refund_on_return_delivered": {
        "name": "退货签收自动退款 Auto-refund when the return is delivered",
        "event": Event.PARCEL_DELIVERED,
        "conditions": [
            {"field": "case.status", "op": "eq", "value": "awaiting_merchant_receipt"},
            {"field": "case.path", "op": "eq", "value": "return_refund"},
        ],
        "actions": [{"type": "confirm_receipt"}],
        "position": 30,
    },
    "vip_priority": {
        "name": "VIP 优先处理 VIP priority",
        "event": Event.CASE_OPENED,
        "conditions": [{"field": "customer.tier", "op": "in", "value": ["vip", "gold"]}],
        "actions": [{"type": "set_priority", "value": 2}, {"type": "tag", "value": "VIP"}],
        "position": 5,
    },
}
