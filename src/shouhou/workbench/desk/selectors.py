"""Reads for the desk pages beyond what cases.selectors gives: counters, names, the order
beside a case, and the warehouse and finance work lists."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, Q

from shouhou.cases import lifecycle as lc
from shouhou.cases.models import Case, CaseLine, RefundInstruction, ReturnAddress
from shouhou.core.models import StaffMember
from shouhou.orders.models import Order, Shipment, ShipmentDirection
from shouhou.workbench.models import SavedView

WORK_LIST_LIMIT = 100


def status_counts(shop_id: int) -> dict[str, int]:
    """Open cases per status: one grouped count over the (shop, is_open, …) index range."""
    rows = (
        Case.objects.filter(shop_id=shop_id, is_open=True)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {r["status"]: r["n"] for r in rows}
    return {s.value: counts[s.value] for s in lc.Status if counts.get(s.value)}


def staff_names(shop_id: int) -> dict[int, str]:
    return {
        m.id: m.display_name or m.user.get_username()
        for m in StaffMember.objects.filter(shop_id=shop_id).select_related("user")
    }


def assignable_staff(shop_id: int) -> list[dict[str, Any]]:
    return [
        {"id": m.id, "name": m.display_name or m.user.get_username(), "role": m.role}
        for m in StaffMember.objects.filter(shop_id=shop_id, is_active=True)
        .exclude(role="arbiter")
        .select_related("user")
        .order_by("role", "id")
    ]


def saved_views(shop_id: int, staff_id: int | None) -> list[SavedView]:
    """The member's own views and the team's shared ones."""
    return list(
        SavedView.objects.filter(shop_id=shop_id)
        .filter(Q(owner_id=staff_id) | Q(shared=True))
        .select_related("owner__user")
        .order_by("name", "id")
    )


def return_addresses(shop_id: int) -> list[ReturnAddress]:
    return list(ReturnAddress.objects.filter(shop_id=shop_id).order_by("-is_default", "id"))


def order_summary(shop_id: int, order_id: int) -> dict[str, Any]:
    order = Order.objects.get(shop_id=shop_id, pk=order_id)
    return {
        "external_id": order.external_id,
        "status": order.status,
        "status_label": order.get_status_display(),
        "channel": order.channel,
        "placed_at": order.placed_at,
        "paid_at": order.paid_at,
        "shipped_at": order.shipped_at,
        "delivered_at": order.delivered_at,
        "total_paid_fen": order.total_paid_fen,
        "has_shipping_insurance": order.has_shipping_insurance,
        "lines": list(
            order.lines.order_by("id").values(
                "id",
                "external_id",
                "title",
                "quantity",
                "unit_price_fen",
                "paid_fen",
                "refunded_fen",
            )
        ),
    }


def _attach_lines_and_parcels(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [c["id"] for c in cases]
    lines: dict[int, list] = defaultdict(list)
    for cl in (
        CaseLine.objects.filter(case_id__in=ids)
        .select_related("order_line")
        .order_by("id")
        .only("case_id", "quantity", "order_line__title", "order_line__external_id")
    ):
        lines[cl.case_id].append({"title": cl.order_line.title, "quantity": cl.quantity})
    parcels: dict[int, dict] = {}
    for sh in Shipment.objects.filter(case_id__in=ids).order_by("id"):
        parcels[sh.case_id] = {
            "direction": sh.direction,
            "carrier": sh.carrier,
            "tracking_no": sh.tracking_no,
            "shipped_at": sh.shipped_at,
            "delivered_at": sh.delivered_at,
        }
    for c in cases:
        c["lines"] = lines.get(c["id"], [])
        c["parcel"] = parcels.get(c["id"])
    return cases


_LIST_FIELDS = (
    "id",
    "number",
    "type",
    "path",
    "reason",
    "status",
    "version",
    "deadline_at",
    "refund_fen",
    "requested_refund_fen",
    "awaiting_finance",
    "order__external_id",
    "customer__nickname",
)


def _work_list(shop_id: int, status: str, **extra: Any) -> list[dict[str, Any]]:
    rows = list(
        Case.objects.filter(shop_id=shop_id, status=status, **extra)
        .order_by("deadline_at", "id")
        .values(*_LIST_FIELDS)[:WORK_LIST_LIMIT]
    )
    return _attach_lines_and_parcels(rows)


def warehouse_lists(shop_id: int) -> dict[str, list[dict[str, Any]]]:
    """Returned parcels to receive and inspect; replacements to ship."""
    receipts = _work_list(shop_id, lc.Status.AWAITING_MERCHANT_RECEIPT)
    for c in receipts:  # the buyer's return parcel, not an earlier one
        if c["parcel"] and c["parcel"]["direction"] != ShipmentDirection.RETURN:
            c["parcel"] = None
    return {
        "receipts": receipts,
        "shipments": _work_list(shop_id, lc.Status.AWAITING_MERCHANT_SHIPMENT),
    }


def finance_lists(shop_id: int) -> dict[str, list[dict[str, Any]]]:
    """Refunds above the shop's limit waiting for approval; refunds waiting to be paid."""
    approvals = _work_list(shop_id, lc.Status.AWAITING_MERCHANT, awaiting_finance=True)
    refunding = _work_list(shop_id, lc.Status.REFUNDING)
    instructions = {
        r.case_id: r
        for r in RefundInstruction.objects.filter(case_id__in=[c["id"] for c in refunding])
    }
    for c in refunding:
        ri = instructions.get(c["id"])
        c["instruction"] = (
            {"reference": ri.reference, "amount_fen": ri.amount_fen, "issued_at": ri.issued_at}
            if ri
            else None
        )
    return {"approvals": approvals, "refunding": refunding}
