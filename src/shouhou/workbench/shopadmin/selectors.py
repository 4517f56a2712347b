"""Reads for the shop settings pages: always one shop's rows, shaped for the templates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Max, Q
from django.http import QueryDict

from shouhou.assistant.models import CannedReply, FaqCategory, FaqEntry
from shouhou.assistant.services import REPLY_VARIABLES
from shouhou.cases import lifecycle as lc
from shouhou.cases import wording
from shouhou.cases.models import Case, PostagePayer, ReturnAddress, ShopPolicy, TimelineEvent
from shouhou.cases.policies import current_policy, deadline_label
from shouhou.core import clock
from shouhou.core.i18n import tr
from shouhou.core.models import ApiKey, AuditLog, Shop, StaffMember
from shouhou.rules import services as rule_services
from shouhou.rules.models import AutomationRule
from shouhou.rules.templates import TEMPLATES

RECENT_FIRES_DAYS = 30
AUDIT_PAGE = 50


def policy_page(shop: Shop, typed: QueryDict | None = None) -> dict[str, Any]:
    """The policy form's values: the current version's, or what was just typed (after a
    refused save, so the admin corrects the typo in place)."""
    policy = current_policy(shop)
    limit = policy.finance_approval_limit_fen
    values = {
        "after_sales_window_days": policy.after_sales_window_days,
        "no_reason_days": policy.no_reason_days,
        "max_evidence_files": policy.max_evidence_files,
        "return_postage_payer": policy.return_postage_payer,
        "finance_limit_yuan": "" if limit is None else _yuan(limit),
    }
    if typed is not None:
        values = {k: typed.get(k, "") for k in values}
    deadlines = []
    for key, rule in lc.DEADLINES.items():
        hours = policy.deadline_hours.get(key, rule.hours)
        deadlines.append(
            {
                "key": key,
                "label": deadline_label(key),
                "default": _plain(rule.hours),
                "hours": typed.get(f"dl_{key}", "") if typed is not None else _plain(hours),
                "then": rule.label,
            }
        )
    matrix = []
    for reason in lc.Reason:
        if typed is not None:
            allowed = set(typed.getlist(f"rt_{reason.value}"))
        else:
            picked = policy.reason_types.get(reason.value)
            allowed = (
                set(picked)
                if picked is not None
                else {t.value for t in lc.DEFAULT_REASON_TYPES[reason]}
            )
        matrix.append(
            {
                "code": reason.value,
                "label": lc.REASON_LABELS[reason],
                "cells": [(t.value, t.value in allowed) for t in lc.CaseType],
            }
        )
    return {
        "policy": policy,
        "values": values,
        "payers": PostagePayer.choices,
        "deadlines": deadlines,
        "types": [(t.value, lc.CASE_TYPE_LABELS[t]) for t in lc.CaseType],
        "matrix": matrix,
        "history": list(ShopPolicy.objects.filter(shop=shop).order_by("-version")[:5]),
    }


def _plain(hours: float) -> int | float:
    return int(hours) if float(hours).is_integer() else hours


def _yuan(fen: int) -> str:
    yuan, cents = divmod(int(fen), 100)
    return f"{yuan}.{cents:02d}" if cents else str(yuan)


def rules_page(shop: Shop) -> dict[str, Any]:
    if AutomationRule.objects.filter(shop=shop, template__in=list(TEMPLATES)).count() < len(
        TEMPLATES
    ):
        # Idempotent (get_or_create, switched off): the page always lists every template.
        rule_services.install_templates(shop)
    rules = list(AutomationRule.objects.filter(shop=shop).order_by("position", "id"))
    since = clock.now() - timedelta(days=RECENT_FIRES_DAYS)
    fires = {
        row["rule_id"]: row
        for row in TimelineEvent.objects.filter(shop=shop, rule__isnull=False, at__gte=since)
        .values("rule_id")
        .annotate(n=Count("case_id", distinct=True), last=Max("at"))
    }
    out = []
    for rule in rules:
        out.append(
            {
                "rule": rule,
                "conditions": [describe(c) for c in rule.conditions],
                "actions": [describe_action(a) for a in rule.actions],
                "fires": fires.get(rule.id),
            }
        )
    return {
        "templates": [r for r in out if r["rule"].template],
        "custom": [r for r in out if not r["rule"].template],
        "days": RECENT_FIRES_DAYS,
    }


def describe(cond: dict) -> str:
    field = rule_services.FIELD_LABELS.get(
        cond.get("field"), (cond.get("field"), cond.get("field"))
    )
    op = rule_services.OP_LABELS.get(cond.get("op"), (cond.get("op"), cond.get("op")))
    kind = CODE_KINDS.get(cond.get("field"))
    value = cond.get("value")
    if kind and isinstance(value, list):
        shown = "、".join(wording.label(kind, str(v)) for v in value)
    elif kind and isinstance(value, str):
        shown = wording.label(kind, value)
    else:
        shown = rule_services.value_text(cond)
    return f"{tr(*field)} {tr(*op)} {shown}".strip()


# Fields whose values are lifecycle codes, shown with their labels.
CODE_KINDS = {
    "case.type": "type",
    "case.path": "type",
    "case.reason": "reason",
    "case.status": "status",
}


ACTION_NAMES = {
    "agree": ("自动同意", "agree"),
    "confirm_receipt": ("自动确认收货并退款", "confirm receipt"),
    "set_priority": ("设置优先级", "set priority"),
    "assign": ("分配给", "assign to"),
    "tag": ("打标签", "tag"),
    "reply": ("自动回复", "reply"),
    "note": ("内部备注", "note"),
}


def describe_action(action: dict) -> str:
    name = tr(*ACTION_NAMES.get(action.get("type"), (action.get("type"), action.get("type"))))
    value = action.get("value")
    return f"{name} {value}" if value is not None else name


def rule_form(shop: Shop, rule_id: int) -> AutomationRule | None:
    return AutomationRule.objects.filter(shop=shop, pk=rule_id).first()


def condition_rows(conditions: list[dict], blank: int = 2) -> list[dict[str, str]]:
    rows = [
        {"field": c.get("field", ""), "op": c.get("op", ""), "value": rule_services.value_text(c)}
        for c in conditions
        if isinstance(c, dict)
    ]
    return rows + [{"field": "", "op": "", "value": ""} for _ in range(blank)]


def field_choices() -> list[tuple[str, str]]:
    return [(code, tr(*label)) for code, label in rule_services.FIELD_LABELS.items()]


def op_choices() -> list[tuple[str, str]]:
    return [(code, tr(*label)) for code, label in rule_services.OP_LABELS.items()]


def addresses(shop: Shop) -> list[dict[str, Any]]:
    rows = list(ReturnAddress.objects.filter(shop=shop).order_by("-is_default", "id"))
    in_use = dict(
        Case.objects.filter(shop=shop, is_open=True, return_address__in=rows)
        .values_list("return_address")
        .annotate(n=Count("id"))
    )
    return [{"a": a, "in_use": in_use.get(a.id, 0)} for a in rows]


def team(shop: Shop) -> list[StaffMember]:
    return list(
        StaffMember.objects.filter(shop=shop)
        .select_related("user")
        .order_by("-is_active", "role", "display_name", "id")
    )


def faq_by_category(shop: Shop) -> list[dict[str, Any]]:
    entries = list(FaqEntry.objects.filter(shop=shop).order_by("position", "id"))
    groups = []
    for code, label in FaqCategory.choices:
        items = [e for e in entries if e.category == code]
        if items:
            groups.append({"code": code, "label": label, "items": items})
    return groups


def canned(shop: Shop) -> list[dict[str, Any]]:
    out = []
    for reply in CannedReply.objects.filter(shop=shop).order_by("position", "id"):
        out.append(
            {
                "r": reply,
                "types": [lc.CASE_TYPE_LABELS.get(t, t) for t in reply.case_types],
                "statuses": [lc.STATUS_LABELS.get(s, s) for s in reply.statuses],
            }
        )
    return out


def variables() -> list[tuple[str, str]]:
    return [("{" + k + "}", tr(zh, en)) for k, (zh, en) in REPLY_VARIABLES.items()]


def api_keys(shop: Shop) -> list[ApiKey]:
    return list(ApiKey.objects.filter(shop=shop).order_by("revoked_at", "-created_at", "-id"))


def audit_page(
    shop: Shop, before: int | None, *, action: str = "", actor: str = ""
) -> tuple[list[AuditLog], int | None]:
    """Newest first, cut by id (no OFFSET): `before` is the last id of the previous page.

    `action` is an exact action ("api_key.revoke") or its family ("api_key"); `actor` the
    name the log shows."""
    qs = AuditLog.objects.filter(shop=shop)
    action, actor = action.strip()[:60], actor.strip()[:120]
    if action:
        qs = qs.filter(Q(action=action) | Q(action__startswith=action + "."))
    if actor:
        qs = qs.filter(actor=actor)
    if before:
        qs = qs.filter(pk__lt=before)
    rows = list(qs.order_by("-id")[: AUDIT_PAGE + 1])
    more = rows[AUDIT_PAGE - 1].id if len(rows) > AUDIT_PAGE else None
    return rows[:AUDIT_PAGE], more


def audit_filters(shop: Shop) -> dict[str, list[str]]:
    """The action families and the actors this shop's log holds, for the filter menus."""
    rows = AuditLog.objects.filter(shop=shop)
    actions = sorted(set(rows.values_list("action", flat=True).distinct()))
    families = sorted({a.split(".", 1)[0] for a in actions} | set(actions))
    actors = sorted(set(rows.values_list("actor", flat=True).distinct()))
    return {"actions": families, "actors": actors}
