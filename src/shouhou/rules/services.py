"""Writes to automation rules: switch templates on and off, create and edit rules."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.db import transaction

from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop

from .engine import NO_VALUE_OPS, NUMERIC_FIELDS, validate
from .models import AutomationRule
from .templates import TEMPLATES


def install_templates(shop: Shop) -> list[AutomationRule]:
    """Create every built-in template for the shop, switched off, if missing."""
    out = []
    with transaction.atomic():
        for code, spec in TEMPLATES.items():
            rule, _ = AutomationRule.objects.get_or_create(
                shop=shop,
                template=code,
                defaults={
                    "name": spec["name"],
                    "event": spec["event"],
                    "conditions": spec["conditions"],
                    "actions": spec["actions"],
                    "position": spec["position"],
                    "enabled": False,
                },
            )
            out.append(rule)
    shop._rules_cache = None
    return out


def set_template_enabled(shop: Shop, code: str, enabled: bool) -> AutomationRule:
    if code not in TEMPLATES:
        raise ShouhouError("not_found", what=f"规则模板 {code}")
    install_templates(shop)
    rule = AutomationRule.objects.get(shop=shop, template=code)
    rule.enabled = enabled
    rule.save(update_fields=["enabled", "updated_at"])
    shop._rules_cache = None
    return rule


def save_rule(
    shop: Shop,
    *,
    name: str,
    event: str,
    conditions: list,
    actions: list,
    enabled: bool = True,
    position: int = 100,
    rule_id: int | None = None,
) -> AutomationRule:
    from .models import Event

    if event not in Event.values:
        raise ShouhouError("rule_invalid", detail=f"未知事件 {event!r}")
    validate(conditions, actions)
    with transaction.atomic():
        if rule_id is None:
            rule = AutomationRule(shop=shop)
        else:
            rule = AutomationRule.objects.select_for_update().filter(shop=shop, pk=rule_id).first()
            if rule is None:
                raise ShouhouError("not_found", what="规则")
        rule.name = (name or "").strip()[:120] or "自定义规则"
        rule.event, rule.conditions, rule.actions = event, conditions, actions
        rule.enabled, rule.position = enabled, position
        rule.save()
    shop._rules_cache = None
    return rule


# --- edits from the shop settings pages ---------------------------------------------------
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "case.type": ("售后类型", "case type"),
    "case.path": ("处理路径", "case path"),
    "case.reason": ("售后原因", "reason"),
    "case.status": ("状态", "status"),
    "case.channel": ("渠道", "channel"),
    "case.priority": ("优先级(0/1/2)", "priority (0/1/2)"),
    "case.requested_refund_fen": ("申请退款金额(元)", "refund asked (yuan)"),
    "case.refund_fen": ("退款金额(元)", "refund (yuan)"),
    "case.tags": ("售后单标签", "case tags"),
    "case.description": ("问题描述", "description"),
    "case.within_no_reason_window": ("在无理由退货期内", "within the no-reason window"),
    "order.shipped": ("订单已发货", "order shipped"),
    "order.status": ("订单状态", "order status"),
    "order.total_paid_fen": ("订单实付(元)", "order paid (yuan)"),
    "order.channel": ("订单渠道", "order channel"),
    "order.has_shipping_insurance": ("有运费险", "has shipping insurance"),
    "order.days_since_delivery": ("签收后天数", "days since delivery"),
    "customer.tier": ("会员等级", "member tier"),
    "customer.blocklisted": ("买家在黑名单", "buyer blocklisted"),
    "customer.tags": ("买家标签", "customer tags"),
}
OP_LABELS: dict[str, tuple[str, str]] = {
    "eq": ("等于", "equals"),
    "ne": ("不等于", "not equal"),
    "in": ("属于", "one of"),
    "not_in": ("不属于", "none of"),
    "lt": ("小于", "less than"),
    "lte": ("不超过", "at most"),
    "gt": ("大于", "more than"),
    "gte": ("不少于", "at least"),
    "is_true": ("为是", "is true"),
    "is_false": ("为否", "is false"),
    "contains": ("包含", "contains"),
}
BOOL_FIELDS = frozenset(
    [
        "case.within_no_reason_window",
        "order.shipped",
        "order.has_shipping_insurance",
        "customer.blocklisted",
    ]
)
_SPLIT = re.compile(r"[,，、;；\s]+")


def _is_money(field: str) -> bool:
    return field.endswith("_fen")


def _number(field: str, text: str):
    """A number typed on the page: yuan for money fields (stored in fen)."""
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        raise ShouhouError(
            "rule_invalid", detail=f"{FIELD_LABELS.get(field, (field,))[0]} 的值须为数字: {text!r}"
        ) from None
    if not amount.is_finite():
        raise ShouhouError("rule_invalid", detail=f"值须为数字: {text!r}")
    if _is_money(field):
        fen = amount * 100
        if fen != fen.to_integral_value() or fen < 0:
            raise ShouhouError("rule_invalid", detail=f"金额最多两位小数且不为负: {text!r}")
        return int(fen)
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _value(field: str, op: str, text: str):
    if op in {"in", "not_in"}:
        parts = [p for p in _SPLIT.split(text or "") if p]
        return [_number(field, p) if field in NUMERIC_FIELDS else p for p in parts]
    if field in NUMERIC_FIELDS:
        return _number(field, text or "")
    if field in BOOL_FIELDS and op in {"eq", "ne"}:
        word = (text or "").strip().lower()
        if word in {"true", "1", "是", "yes"}:
            return True
        if word in {"false", "0", "否", "no"}:
            return False
        raise ShouhouError("rule_invalid", detail=f"是/否字段的值须为 是 或 否: {text!r}")
    return (text or "").strip()


def conditions_from_rows(rows: list[tuple[str, str, str]]) -> list[dict]:
    """Rows of (field, op, value as typed) → the engine's conditions; blank rows are skipped.

    The engine's own `validate` then decides whether it could run them.
    """
    out = []
    for field, op, text in rows:
        field, op = (field or "").strip(), (op or "").strip()
        if not field and not op and not (text or "").strip():
            continue
        cond: dict = {"field": field, "op": op}
        if op not in NO_VALUE_OPS:
            cond["value"] = _value(field, op, text)
        out.append(cond)
    return out


def value_text(cond: dict) -> str:
    """A stored condition's value as the page shows it (money in yuan)."""
    field, value = cond.get("field", ""), cond.get("value")
    if cond.get("op") in NO_VALUE_OPS or value is None:
        return ""

    def one(v) -> str:
        if _is_money(field) and isinstance(v, int | float) and not isinstance(v, bool):
            yuan = Decimal(int(v)) / 100
            return f"{yuan:.2f}".rstrip("0").rstrip(".") if yuan % 1 else str(int(yuan))
        if isinstance(v, bool):
            return "是" if v else "否"
        return str(v)

    if isinstance(value, list):
        return ", ".join(one(v) for v in value)
    return one(value)


def update_conditions(
    shop: Shop, actor, rule_id: int, rows: list[tuple[str, str, str]]
) -> AutomationRule:
    """Replace a rule's conditions (its event and actions stay), checked by the engine."""
    from shouhou.core.services import audit, require_admin

    require_admin(shop, actor)
    conditions = conditions_from_rows(rows)
    with transaction.atomic():
        rule = AutomationRule.objects.select_for_update().filter(shop=shop, pk=rule_id).first()
        if rule is None:
            raise ShouhouError("not_found", what="规则")
        validate(conditions, rule.actions)
        old = rule.conditions
        rule.conditions = conditions
        rule.save(update_fields=["conditions", "updated_at"])
        audit(
            shop,
            actor,
            "rule.conditions",
            rule.name[:120],
            {"id": rule.id, "from": old, "to": conditions},
        )
    shop._rules_cache = None
    return rule


def switch_rule(shop: Shop, actor, rule_id: int, enabled: bool) -> AutomationRule:
    """Switch a shop's rule (a template or its own) on or off, audited."""
    from shouhou.core.services import audit, require_admin

    require_admin(shop, actor)
    with transaction.atomic():
        rule = AutomationRule.objects.select_for_update().filter(shop=shop, pk=rule_id).first()
        if rule is None:
            raise ShouhouError("not_found", what="规则")
        if rule.template:
            rule = set_template_enabled(shop, rule.template, enabled)
        else:
            rule.enabled = enabled
            rule.save(update_fields=["enabled", "updated_at"])
        audit(
            shop,
            actor,
            "rule.enable" if enabled else "rule.disable",
            rule.name[:120],
            {"id": rule.id},
        )
    shop._rules_cache = None
    return rule
