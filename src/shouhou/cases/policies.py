"""The shop's current after-sales policy (versioned; a missing one means the defaults)."""

from __future__ import annotations

from django.db import transaction

from shouhou.core.models import Shop

from .models import ShopPolicy

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
