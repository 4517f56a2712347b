"""Reads for the buyer portal and the public help centre.

Everything a buyer sees is read through `cases.selectors` with a buyer `Actor` (so the
shop's internal notes, staff names and tags stay hidden) and scoped to the one order the
buyer proved; the help centre reads only what a shop publishes.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Exists, OuterRef, Q
from django.urls import reverse

from shouhou.assistant.models import FaqCategory, FaqEntry
from shouhou.cases import lifecycle as lc
from shouhou.cases import selectors as case_selectors
from shouhou.cases import wording
from shouhou.cases.models import (
    Case,
    CaseLine,
    CaseRating,
    PostagePayer,
    ShopPolicy,
    TimelineEvent,
)
from shouhou.cases.policies import current_policy
from shouhou.core import clock
from shouhou.core.i18n import tr
from shouhou.core.models import Shop
from shouhou.orders.models import Order, OrderStatus

from .session import PortalBuyer

A = lc.Action
S = lc.Status

# An order number typed without a shop is looked for in at most this many shops (order
# numbers are the shops' own, so a short one like "1001" can be in several).
LOOKUP_MAX_SHOPS = 20


def shops_holding_order(order_no: str, last4: str) -> tuple[list[str], list[str]]:
    """For the public lookup without a shop code: (the codes of the shops whose order with
    this number has these phone digits, the codes of every shop holding an order with this
    number), each by shop id and bounded by LOOKUP_MAX_SHOPS. One query on the
    `order_external_id` index; it only narrows the search — the caller still proves the
    order through `open_buyer_session`, which checks the lockouts and counts failures."""
    rows = list(
        Order.objects.filter(external_id=order_no)
        .select_related("shop", "customer")
        .only("shop__code", "customer__phone_last4", "receiver_phone")
        .order_by("shop_id")[:LOOKUP_MAX_SHOPS]
    )
    matching = []
    for order in rows:
        expected = order.customer.phone_last4 or (order.receiver_phone or "")[-4:]
        if expected and hmac.compare_digest(expected.encode(), last4.encode()):
            matching.append(order.shop.code)
    return matching, [order.shop.code for order in rows]


# What buyers type most; "其他" lets anyone else in.
CARRIERS = (
    ("顺丰速运", "SF Express"),
    ("中通快递", "ZTO Express"),
    ("圆通速递", "YTO Express"),
    ("韵达快递", "Yunda Express"),
    ("申通快递", "STO Express"),
    ("极兔速递", "J&T Express"),
    ("京东物流", "JD Logistics"),
    ("中国邮政EMS", "China Post EMS"),
    ("其他", "Other"),
)
RATING_PERIOD = timedelta(days=180)


def bilingual(choice_label: str) -> str:
    """Model choice labels carry both languages ("已签收 Delivered"); pick the active one."""
    zh, _, en = str(choice_label).partition(" ")
    return tr(zh, en or zh)


def shop_by_code(code: str) -> Shop | None:
    code = (code or "").strip()
    if not code or len(code) > 40:
        return None
    return Shop.objects.filter(code=code).first()


# --- the order ----------------------------------------------------------------------------
def _deadline_label(case: Case, order_shipped: bool) -> str:
    if case.deadline_at is None:
        return ""
    key = lc.deadline_key(lc.Status(case.status), path=case.path, order_shipped=order_shipped)
    rule = lc.DEADLINES.get(key) if key else None
    return rule.label if rule else ""


def order_page(buyer: PortalBuyer) -> dict[str, Any]:
    """The order's lines (paid, already refunded, under an open request) and its cases."""
    order = buyer.order
    open_by_line: dict[int, list[str]] = {}
    for line_id, case_type in CaseLine.objects.filter(
        shop_id=buyer.shop.id, case__order_id=order.id, is_open=True
    ).values_list("order_line_id", "type"):
        open_by_line.setdefault(line_id, []).append(case_type)
    lines = [
        {
            "id": ol.id,
            "title": ol.title,
            "quantity": ol.quantity,
            "paid_fen": ol.paid_fen,
            "refunded_fen": ol.refunded_fen,
            "open_types": open_by_line.get(ol.id, []),
        }
        for ol in order.lines.filter(shop_id=buyer.shop.id).order_by("id")
    ]
    cases = [
        {
            "id": c.id,
            "number": c.number,
            "type": c.type,
            "reason": c.reason,
            "status": c.status,
            "refund_fen": c.refund_fen,
            "deadline_at": c.deadline_at,
            "deadline_label": _deadline_label(c, order.is_shipped),
            "opened_at": c.opened_at,
        }
        for c in case_selectors.case_scope(buyer.actor, order.id).order_by("-opened_at", "-id")
    ]
    return {
        "order": order,
        "status_label": bilingual(OrderStatus(order.status).label)
        if order.status in OrderStatus.values
        else order.status,
        "lines": lines,
        "cases": cases,
        "can_apply": order.status not in {OrderStatus.UNPAID, OrderStatus.CANCELLED},
    }


def reason_types(policy: ShopPolicy) -> dict[str, list[str]]:
    """Which types each reason allows under the shop's policy (reasons with none are left out)."""
    out: dict[str, list[str]] = {}
    for reason in lc.Reason:
        override = policy.reason_types.get(reason.value) if policy.reason_types else None
        types = set(override) if override is not None else lc.DEFAULT_REASON_TYPES[reason]
        allowed = [t.value for t in lc.CaseType if t.value in types]
        if allowed:
            out[reason.value] = allowed
    return out


def apply_form(buyer: PortalBuyer) -> dict[str, Any]:
    policy = current_policy(buyer.shop)
    order = buyer.order
    by_reason = reason_types(policy)
    if order.is_shipped:
        # Changed-mind-before-shipping only fits an order that has not left the warehouse.
        by_reason.pop(lc.Reason.CHANGED_MIND_UNSHIPPED.value, None)
    lines = [
        {
            "id": ol.id,
            "title": ol.title,
            "quantity": ol.quantity,
            "paid_fen": ol.paid_fen,
            "refundable_fen": ol.refundable_fen,
        }
        for ol in order.lines.filter(shop_id=buyer.shop.id).order_by("id")
    ]
    types = sorted({t for ts in by_reason.values() for t in ts}, key=list(lc.CaseType).index)
    return {
        "lines": lines,
        "reasons": [(r, by_reason[r]) for r in by_reason],
        "types": types,
        "max_files": policy.max_evidence_files,
        "max_mb": max_file_mb(),
    }


def max_file_mb() -> str:
    return f"{settings.SHOUHOU_MAX_EVIDENCE_BYTES / (1024 * 1024):g}"


# --- a case -------------------------------------------------------------------------------
def case_page(buyer: PortalBuyer, case_id: int) -> dict[str, Any]:
    """case_detail as the buyer sees it (raises not_found for any case outside the order)."""
    detail = case_selectors.case_detail(buyer.actor, case_id, buyer.order.id)
    for ev in detail["evidence"]:
        ev["url"] = reverse("portal:evidence", kwargs={"case_id": case_id, "evidence_id": ev["id"]})
        ev["is_image"] = ev["content_type"].startswith("image/")
    if detail["status"] != S.AWAITING_BUYER_RETURN:
        detail["return_address"] = None  # only while the buyer has something to send
    policy = current_policy(buyer.shop)
    by_reason = reason_types(policy)
    detail["modify_reasons"] = [r for r, types in by_reason.items() if detail["type"] in types]
    detail["money"] = detail["path"] in lc.MONEY_PATHS
    detail["max_files"] = policy.max_evidence_files
    detail["shipments"] = [
        s for s in detail["shipments"] if s["direction"] in {"return", "replacement"}
    ]
    return detail


def evidence_file(buyer: PortalBuyer, case_id: int, evidence_id: int):
    from shouhou.cases.models import Evidence

    case_selectors.require_case(buyer.actor, case_id, buyer.order.id)
    return Evidence.objects.filter(pk=evidence_id, case_id=case_id, shop_id=buyer.shop.id).first()


# --- the help centre ----------------------------------------------------------------------
def _hours(policy: ShopPolicy, key: str) -> float:
    overrides = policy.deadline_hours or {}
    return float(overrides.get(key, lc.DEADLINES[key].hours))


def duration_text(hours: float) -> str:
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return tr(f"{days} 天", f"{days} day{'s' if days != 1 else ''}")
    h = int(hours) if float(hours).is_integer() else round(hours, 1)
    return tr(f"{h} 小时", f"{h} hours")


# The forward moves of a request that goes well, in the order they happen.
_FORWARD = (
    A.AGREE,
    A.SHIP_RETURN,
    A.CONFIRM_RECEIPT,
    A.SHIP_REPLACEMENT,
    A.CONFIRM_DELIVERY,
    A.CONFIRM_REFUND,
)


def process_steps(case_type: str, policy: ShopPolicy) -> list[dict[str, Any]]:
    """The statuses a request of this type passes through, read off the lifecycle table."""
    steps: list[dict[str, Any]] = []
    status: lc.Status = S.AWAITING_MERCHANT
    seen: set[lc.Status] = set()
    while status not in seen:
        seen.add(status)
        key = lc.deadline_key(status, path=case_type, order_shipped=True)
        rule = lc.DEADLINES.get(key) if key else None
        steps.append(
            {
                "status": status.value,
                "hours": _hours(policy, key) if key else None,
                "within": duration_text(_hours(policy, key)) if key else "",
                "outcome": wording.outcome(rule.label) if rule and rule.action != A.ALERT else "",
            }
        )
        if status in lc.TERMINAL:
            break
        nxt = None
        for action in _FORWARD:
            entry = lc.TRANSITIONS.get((status, action))
            if entry and entry[1].get(case_type):
                nxt = entry[1][case_type]
                break
        if nxt is None:
            break
        status = nxt
    return steps


def _rating(shop: Shop) -> dict[str, Any]:
    since = clock.now() - RATING_PERIOD
    ratings = CaseRating.objects.filter(shop=shop, at__gte=since).aggregate(
        n=Count("id"), satisfaction=Avg("satisfaction"), speed=Avg("speed")
    )
    late = TimelineEvent.objects.filter(case=OuterRef("pk"), by_deadline=True)
    ended = (
        Case.objects.filter(shop=shop, status=S.COMPLETED, closed_at__gte=since)
        .annotate(late=Exists(late))
        .aggregate(
            n=Count("id"),
            on_time=Count("id", filter=Q(late=False, auto_agreed_by_timeout=False)),
        )
    )
    return {
        "count": ratings["n"] or 0,
        "satisfaction": round(ratings["satisfaction"], 1) if ratings["n"] else None,
        "speed": round(ratings["speed"], 1) if ratings["n"] else None,
        "completed": ended["n"] or 0,
        "on_time_pct": round(100 * ended["on_time"] / ended["n"]) if ended["n"] else None,
        "days": RATING_PERIOD.days,
    }


def help_centre(shop: Shop) -> dict[str, Any]:
    policy = current_policy(shop)
    by_reason = reason_types(policy)
    no_reason = lc.Reason.NO_REASON_7D.value in by_reason
    payer = policy.return_postage_payer
    postage = {
        PostagePayer.BUYER: tr(
            "退货运费由买家承担；订单含运费险的，由运费险理赔。",
            "The buyer pays the return postage; shipping insurance on the order covers it.",
        ),
        PostagePayer.SHOP: tr("退货运费由商家承担。", "The shop pays the return postage."),
        PostagePayer.BY_REASON: tr(
            "因质量问题、破损、错发等商家原因退货，运费由商家承担；无理由退货的运费由买家承担"
            "（订单含运费险的，由运费险理赔）。",
            "If the goods are faulty, damaged or wrong, the shop pays the return postage; "
            "for no-reason returns the buyer pays (shipping insurance covers it when the "
            "order has it).",
        ),
    }.get(payer, "")
    faq: list[dict[str, Any]] = []
    by_cat: dict[str, list[FaqEntry]] = {}
    for entry in FaqEntry.objects.filter(shop=shop, is_published=True).order_by("position", "id"):
        by_cat.setdefault(entry.category, []).append(entry)
    for cat in FaqCategory:
        if cat.value in by_cat:
            faq.append({"category": bilingual(cat.label), "entries": by_cat[cat.value]})
    processes = [
        {
            "type": t.value,
            "steps": process_steps(t.value, policy),
            "reasons": [r for r, types in by_reason.items() if t.value in types],
        }
        for t in lc.CaseType
        if any(t.value in types for types in by_reason.values())
    ]
    return {
        "shop": shop,
        "policy": policy,
        "window_days": policy.after_sales_window_days,
        "no_reason": no_reason,
        "no_reason_days": policy.no_reason_days,
        "postage": postage,
        "merchant_within": duration_text(_hours(policy, S.AWAITING_MERCHANT)),
        "merchant_within_unshipped": duration_text(_hours(policy, "awaiting_merchant_unshipped")),
        "return_within": duration_text(_hours(policy, S.AWAITING_BUYER_RETURN)),
        "processes": processes,
        "faq": faq,
        "rating": _rating(shop),
    }
