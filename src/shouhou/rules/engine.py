"""Evaluates a shop's automation rules for an event and runs their actions through the
case services, as the system acting for that rule (so the timeline names the rule)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

from shouhou.core import clock
from shouhou.core.errors import ShouhouError

from .models import AutomationRule

log = logging.getLogger(__name__)

OPS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "in": lambda a, b: a in (b or []),
    "not_in": lambda a, b: a not in (b or []),
    "lt": lambda a, b: a is not None and a < b,
    "lte": lambda a, b: a is not None and a <= b,
    "gt": lambda a, b: a is not None and a > b,
    "gte": lambda a, b: a is not None and a >= b,
    "is_true": lambda a, b: bool(a),
    "is_false": lambda a, b: not a,
    "contains": lambda a, b: b in (a or ""),
}
NO_VALUE_OPS = {"is_true", "is_false"}


def _days_since(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else (now - at).total_seconds() / 86400


def facts(case, now: datetime | None = None) -> dict[str, Any]:
    """The fields a condition may test, read from a case, its order and its customer."""
    from shouhou.cases.policies import current_policy

    now = now or clock.now()
    order = case.order
    customer = case.customer
    policy = current_policy(case.shop)
    since_delivery = _days_since(order.delivered_at, now)
    return {
        "case.type": case.type,
        "case.path": case.path,
        "case.reason": case.reason,
        "case.status": case.status,
        "case.channel": case.channel,
        "case.priority": case.priority,
        "case.requested_refund_fen": case.requested_refund_fen,
        "case.refund_fen": case.refund_fen,
        "case.tags": case.tags,
        "case.description": case.description,
        "case.within_no_reason_window": since_delivery is None
        or since_delivery <= policy.no_reason_days,
        "order.shipped": order.is_shipped,
        "order.status": order.status,
        "order.total_paid_fen": order.total_paid_fen,
        "order.channel": order.channel,
        "order.has_shipping_insurance": order.has_shipping_insurance,
        "order.days_since_delivery": since_delivery,
        "customer.tier": customer.tier,
        "customer.blocklisted": customer.blocklisted,
        "customer.tags": customer.tags,
    }


FIELDS = frozenset(
    [
        "case.type",
        "case.path",
        "case.reason",
        "case.status",
        "case.channel",
        "case.priority",
        "case.requested_refund_fen",
        "case.refund_fen",
        "case.tags",
        "case.description",
        "case.within_no_reason_window",
        "order.shipped",
        "order.status",
        "order.total_paid_fen",
        "order.channel",
        "order.has_shipping_insurance",
        "order.days_since_delivery",
        "customer.tier",
        "customer.blocklisted",
        "customer.tags",
    ]
)
ACTIONS = frozenset(["agree", "confirm_receipt", "set_priority", "assign", "tag", "reply", "note"])
NUMERIC_FIELDS = frozenset(
    [
        "case.priority",
        "case.requested_refund_fen",
        "case.refund_fen",
        "order.total_paid_fen",
        "order.days_since_delivery",
    ]
)
TEXT_FIELDS = frozenset(["case.description", "case.tags", "customer.tags"])
ORDER_OPS = frozenset(["lt", "lte", "gt", "gte"])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _condition_error(c: dict) -> str | None:
    """Why the engine could not evaluate this condition, or None."""
    op, field, value = c["op"], c["field"], c.get("value")
    if op in ORDER_OPS and (field not in NUMERIC_FIELDS or not _is_number(value)):
        return "大小比较只适用于数值字段，且 value 须为数字"
    if op in {"in", "not_in"} and not isinstance(value, list):
        return "in / not_in 的 value 须为列表"
    if op == "contains" and (field not in TEXT_FIELDS or not isinstance(value, str)):
        return "contains 只适用于文本/标签字段，且 value 须为文本"
    return None


def _action_error(a: dict) -> str | None:
    """Why the engine could not run this action, or None."""
    kind, value = a["type"], a.get("value")
    if (
        kind == "set_priority"
        and "value" in a
        and (not isinstance(value, int) or isinstance(value, bool) or value not in (0, 1, 2))
    ):
        return "set_priority 的 value 须为 0/1/2"
    if (
        kind == "assign"
        and value is not None
        and (not isinstance(value, int) or isinstance(value, bool))
    ):
        return "assign 的 value 须为员工 id"
    if kind in {"tag", "reply", "note"} and (not isinstance(value, str) or not value.strip()):
        return f"{kind} 需要非空文本 value"
    return None


def validate(conditions: list, actions: list) -> None:
    """Refuse a rule the engine could not run, with a `rule_invalid` error."""
    if not isinstance(conditions, list) or not isinstance(actions, list) or not actions:
        raise ShouhouError(
            "rule_invalid", detail="conditions 与 actions 必须是列表，且至少一个动作"
        )
    for c in conditions:
        if not isinstance(c, dict) or c.get("field") not in FIELDS or c.get("op") not in OPS:
            raise ShouhouError("rule_invalid", detail=f"无法识别的条件 {c!r}")
        if c["op"] not in NO_VALUE_OPS and "value" not in c:
            raise ShouhouError("rule_invalid", detail=f"条件缺少 value: {c!r}")
        if why := _condition_error(c):
            raise ShouhouError("rule_invalid", detail=f"{why}: {c!r}")
    for a in actions:
        if not isinstance(a, dict) or a.get("type") not in ACTIONS:
            raise ShouhouError("rule_invalid", detail=f"无法识别的动作 {a!r}")
        if why := _action_error(a):
            raise ShouhouError("rule_invalid", detail=f"{why}: {a!r}")


def matches(rule: AutomationRule, known: dict[str, Any]) -> bool:
    for cond in rule.conditions:
        op = OPS.get(cond.get("op"))
        if op is None or cond.get("field") not in known:
            return False
        try:
            if not op(known[cond["field"]], cond.get("value")):
                return False
        except TypeError:
            return False  # a value of the wrong kind (a rule saved unchecked) never matches
    return True


def fire(event: str, case, actor) -> list[int]:
    """Run every enabled rule of the case's shop for `event`; return the ids that fired.

    Runs inside the caller's transaction, each rule in its own savepoint: a rule whose
    action is refused (say the case moved on) is recorded and does not undo the caller.
    """
    from shouhou.cases import services
    from shouhou.cases.actors import Actor

    rules = _rules_for(case.shop, event)
    if not rules:
        return []
    fired = []
    for rule in rules:
        case.refresh_from_db()
        if not matches(rule, facts(case)):
            continue
        rule_actor = Actor.for_rule(case.shop_id, rule.id, rule.name, actor.rule_depth + 1)
        for spec in rule.actions:
            try:
                with transaction.atomic():
                    _run(services, case, rule_actor, spec)
            except ShouhouError as exc:
                log.info("rule %s action %s refused: %s", rule.id, spec, exc.code)
                services.add_rule_note(case.id, rule_actor, f"规则未执行：{exc.message()}")
            except (ValueError, TypeError) as exc:
                # A malformed action value (a rule saved unchecked) must not undo the
                # caller's step, e.g. the buyer's application.
                log.warning("rule %s action %s cannot run: %s", rule.id, spec, exc)
                services.add_rule_note(case.id, rule_actor, f"规则动作无法执行：{spec!r}")
        fired.append(rule.id)
    case.refresh_from_db()
    return fired


def _rules_for(shop, event: str) -> list[AutomationRule]:
    cache = getattr(shop, "_rules_cache", None)
    if cache is None:
        cache = {}
        for rule in AutomationRule.objects.filter(shop=shop, enabled=True).order_by(
            "position", "id"
        ):
            cache.setdefault(rule.event, []).append(rule)
        shop._rules_cache = cache
    return cache.get(event, [])


def _run(services, case, actor, spec: dict) -> None:
    kind = spec["type"]
    if kind == "agree":
        services.agree(case.id, actor)
    elif kind == "confirm_receipt":
        services.confirm_receipt(case.id, actor)
    elif kind == "set_priority":
        services.set_priority(case.id, actor, priority=int(spec.get("value", 1)))
    elif kind == "assign":
        services.assign(case.id, actor, staff_id=spec.get("value"))
    elif kind == "tag":
        services.add_tag(case.id, actor, tag=str(spec.get("value", "")))
    elif kind == "reply":
        services.add_note(case.id, actor, text=str(spec.get("value", "")), internal=False)
    elif kind == "note":
        services.add_note(case.id, actor, text=str(spec.get("value", "")), internal=True)
