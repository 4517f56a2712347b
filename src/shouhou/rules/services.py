"""Writes to automation rules: switch templates on and off, create and edit rules."""

from __future__ import annotations

from django.db import transaction

from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop

from .engine import validate
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
