"""The shop's current after-sales policy (versioned; a missing one means the defaults)."""

from __future__ import annotations

import re

from django.db import transaction

from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop

from . import lifecycle as lc
from .actors import Actor
from .models import Case, PostagePayer, ReturnAddress, ShopPolicy

EDITABLE = (
    "after_sales_window_days",
    "no_reason_days",
    "finance_approval_limit_fen",
    "deadline_hours",
    "reason_types",
    "return_postage_payer",
    "max_evidence_files",
)


def current_policy(shop: Shop) -> ShopPolicy:
    cached = getattr(shop, "_current_policy", None)
    if cached is not None:
        return cached
    policy = ShopPolicy.objects.filter(shop=shop, is_current=True).first()
    if policy is None:
        policy = ShopPolicy(shop=shop, version=0)
    shop._current_policy = policy  # per Shop instance, i.e. per request or per batch
    return policy


def update_policy(shop: Shop, **changes) -> ShopPolicy:
    """Write a new policy version; cases already open keep their deadlines."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        old = ShopPolicy.objects.select_for_update().filter(shop=shop, is_current=True).first()
        values = {f: getattr(old, f) for f in EDITABLE} if old else {}
        values.update(changes)
        version = (old.version if old else 0) + 1
        if old:
            old.is_current = False
            old.save(update_fields=["is_current"])
        policy = ShopPolicy.objects.create(shop=shop, version=version, is_current=True, **values)
    shop._current_policy = policy
    return policy


# --- edits from the shop settings pages ---------------------------------------------------
# Sane bounds: a page typo (7000 days, 0 hours) must not silently become the shop's policy.
BOUNDS = {
    "after_sales_window_days": (1, 365),
    "no_reason_days": (1, 90),
    "max_evidence_files": (1, 20),
}
DEADLINE_HOURS_BOUNDS = (1, 90 * 24)
FINANCE_LIMIT_MAX_FEN = 100_000_000 * 100  # ¥100,000,000


def _invalid(zh: str, en: str) -> ShouhouError:
    return ShouhouError("validation_error", detail=f"{zh} / {en}")


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def clean_policy_changes(changes: dict) -> dict:
    """Check every value a settings page may send; the stored form keeps only what differs
    from the defaults for deadlines and the reasons → types matrix."""
    out = dict(changes)
    labels = {
        "after_sales_window_days": ("售后期（天）", "after-sales window (days)"),
        "no_reason_days": ("七天无理由天数", "no-reason days"),
        "max_evidence_files": ("凭证数量上限", "evidence file limit"),
    }
    for name, (low, high) in BOUNDS.items():
        if name in out:
            number = _whole(out[name])
            if number is None or not low <= number <= high:
                zh, en = labels[name]
                raise _invalid(
                    f"{zh}须为 {low}–{high} 的整数", f"{en} must be a whole number {low}–{high}"
                )
            out[name] = number
    if "finance_approval_limit_fen" in out and out["finance_approval_limit_fen"] is not None:
        fen = _whole(out["finance_approval_limit_fen"])
        if fen is None or not 1 <= fen <= FINANCE_LIMIT_MAX_FEN:
            raise _invalid(
                "财务审批额度须为大于 0 的金额（最多 1 亿元），留空表示不需要审批",
                "the finance approval limit must be an amount above 0 (at most ¥100,000,000); "
                "leave it empty for no approval",
            )
        out["finance_approval_limit_fen"] = fen
    if "return_postage_payer" in out and out["return_postage_payer"] not in PostagePayer.values:
        raise _invalid("未知的运费承担方", "unknown return postage payer")
    if "deadline_hours" in out:
        out["deadline_hours"] = _clean_deadlines(out["deadline_hours"])
    if "reason_types" in out:
        out["reason_types"] = _clean_reason_types(out["reason_types"])
    return out


def _clean_deadlines(hours: dict) -> dict:
    low, high = DEADLINE_HOURS_BOUNDS
    kept = {}
    for key, value in (hours or {}).items():
        if key not in lc.DEADLINES:
            raise _invalid(f"未知期限 {key!r}", f"unknown deadline {key!r}")
        number = _whole(value)
        if number is None or not low <= number <= high:
            raise _invalid(
                f"期限「{deadline_label(key)}」须为 {low}–{high} 小时的整数",
                f"the deadline '{key}' must be a whole number of hours {low}–{high}",
            )
        if number != lc.DEADLINES[key].hours:
            kept[key] = number
    return kept


def _clean_reason_types(matrix: dict) -> dict:
    types = {t.value for t in lc.CaseType}
    kept = {}
    for reason, picked in (matrix or {}).items():
        try:
            code = lc.Reason(reason)
        except ValueError:
            raise _invalid(f"未知原因 {reason!r}", f"unknown reason {reason!r}") from None
        picked = sorted(set(picked or []))
        if not picked:
            raise _invalid(
                f"原因「{lc.REASON_LABELS[code]}」至少要允许一种售后类型",
                f"the reason '{code.value}' must allow at least one type",
            )
        if unknown := set(picked) - types:
            raise _invalid(f"未知类型 {sorted(unknown)}", f"unknown type(s) {sorted(unknown)}")
        if set(picked) != {t.value for t in lc.DEFAULT_REASON_TYPES[code]}:
            kept[code.value] = picked
    return kept


def deadline_label(key: str) -> str:
    """Chinese name of a deadline key (a status, or the unshipped-refund special case)."""
    if key == "awaiting_merchant_unshipped":
        return "待商家处理（未发货仅退款）"
    try:
        return lc.STATUS_LABELS[lc.Status(key)]
    except ValueError:
        return key


def change_policy(shop: Shop, actor: Actor, **changes) -> ShopPolicy:
    """The settings page's save: checked, written as a new version, audited."""
    from shouhou.core.services import audit, require_admin

    require_admin(shop, actor)
    cleaned = clean_policy_changes(changes)
    with transaction.atomic():
        policy = update_policy(shop, **cleaned)
        audit(shop, actor, "policy.update", f"v{policy.version}", cleaned)
    return policy


# --- return addresses ---------------------------------------------------------------------
PHONE_RE = re.compile(r"^[0-9+\- ]{5,20}$")


def _address(shop: Shop, address_id: int, *, lock: bool = True) -> ReturnAddress:
    qs = ReturnAddress.objects.filter(shop=shop, pk=address_id)
    if lock:
        qs = qs.select_for_update()
    found = qs.first()
    if found is None:
        raise ShouhouError("not_found", what="退货地址")
    return found


def _make_default(shop: Shop, address: ReturnAddress) -> None:
    # Clear the old default first: the database allows one default per shop at any moment.
    ReturnAddress.objects.filter(shop=shop, is_default=True).exclude(pk=address.pk).update(
        is_default=False
    )
    if not address.is_default:
        address.is_default = True
        address.save(update_fields=["is_default"])


def save_return_address(
    shop: Shop,
    actor: Actor,
    *,
    label: str,
    contact_name: str,
    phone: str,
    address: str,
    make_default: bool = False,
    address_id: int | None = None,
) -> ReturnAddress:
    from shouhou.core.services import audit, require_admin

    require_admin(shop, actor)
    label, contact_name = (label or "").strip(), (contact_name or "").strip()
    phone, address = (phone or "").strip(), (address or "").strip()
    if not label or len(label) > 60:
        raise _invalid("名称必填，最多 60 字", "the label is required (at most 60 characters)")
    if not contact_name or len(contact_name) > 60:
        raise _invalid("联系人必填，最多 60 字", "the contact is required (at most 60 characters)")
    if not PHONE_RE.match(phone):
        raise _invalid("电话须为 5–20 位数字（可含 + - 空格）", "the phone must be 5–20 digits")
    if len(address) < 5 or len(address) > 300:
        raise _invalid("详细地址须为 5–300 字", "the address must be 5–300 characters")
    with transaction.atomic():
        row = ReturnAddress(shop=shop) if address_id is None else _address(shop, address_id)
        row.label, row.contact_name, row.phone, row.address = label, contact_name, phone, address
        first = not ReturnAddress.objects.filter(shop=shop).exclude(pk=row.pk).exists()
        row.save()
        if make_default or first:
            _make_default(shop, row)
        audit(
            shop,
            actor,
            "return_address.add" if address_id is None else "return_address.edit",
            label,
            {"id": row.id, "default": row.is_default},
        )
    return row


def set_default_return_address(shop: Shop, actor: Actor, address_id: int) -> ReturnAddress:
    from shouhou.core.services import audit, require_admin

    require_admin(shop, actor)
    with transaction.atomic():
        row = _address(shop, address_id)
        _make_default(shop, row)
        audit(shop, actor, "return_address.default", row.label, {"id": row.id})
    return row


def delete_return_address(shop: Shop, actor: Actor, address_id: int) -> None:
    """Never the default one, nor one that open cases still send buyers to."""
    from shouhou.core.services import audit, require_admin

    require_admin(shop, actor)
    with transaction.atomic():
        row = _address(shop, address_id)
        if row.is_default:
            raise ShouhouError("return_address_default")
        in_use = Case.objects.filter(shop=shop, return_address=row, is_open=True).count()
        if in_use:
            raise ShouhouError("return_address_in_use", count=in_use)
        audit(shop, actor, "return_address.delete", row.label, {"id": row.id})
        row.delete()
