"""Writes to a shop's knowledge: FAQ entries and canned replies (create, edit, delete,
publish, reorder). Each change is audited; the help centre and the agent desk read them."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import Model

from shouhou.cases import lifecycle as lc
from shouhou.cases.actors import Actor
from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop
from shouhou.core.services import audit, require_admin

from .models import CannedReply, FaqCategory, FaqEntry

# The variables a canned reply may use; the desk fills them from the case.
REPLY_VARIABLES: dict[str, tuple[str, str]] = {
    "buyer": ("买家昵称", "the buyer's nickname"),
    "order_no": ("订单号", "order number"),
    "case_no": ("售后单号", "case number"),
    "status": ("当前状态", "current status"),
    "deadline": ("当前步骤截止时间", "deadline of the current step"),
    "refund": ("退款金额", "refund amount"),
    "tracking": ("物流单号", "tracking number"),
    "return_address": ("退货地址", "return address"),
    "shop": ("店铺名称", "shop name"),
}
_VARIABLE_RE = re.compile(r"\{([^{}]*)\}")


def _invalid(zh: str, en: str) -> ShouhouError:
    return ShouhouError("validation_error", detail=f"{zh} / {en}")


def _text(value: str | None, limit: int, zh: str, en: str, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise _invalid(f"{zh}不能为空", f"{en} is required")
    if len(text) > limit or "\x00" in text:
        raise _invalid(f"{zh}最多 {limit} 字", f"{en}: at most {limit} characters")
    return text


def _position(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _invalid(
            "顺序须为 0–9999 的整数", "the position must be a whole number 0–9999"
        ) from None
    if not 0 <= number <= 9999:
        raise _invalid("顺序须为 0–9999 的整数", "the position must be a whole number 0–9999")
    return number


def _locked(model: type[Model], shop: Shop, pk: int | None, what: str):
    row = model.objects.select_for_update().filter(shop=shop, pk=pk).first()
    if row is None:
        raise ShouhouError("not_found", what=what)
    return row


# --- FAQ ----------------------------------------------------------------------------------
def save_faq(
    shop: Shop,
    actor: Actor,
    *,
    question: str,
    answer: str,
    category: str = FaqCategory.OTHER,
    keywords: str = "",
    is_published: bool = True,
    position: int | str = 100,
    entry_id: int | None = None,
) -> FaqEntry:
    require_admin(shop, actor)
    question = _text(question, 200, "问题", "the question")
    answer = _text(answer, 4000, "答案", "the answer")
    keywords = _text(keywords, 2000, "相似问法", "other phrasings", required=False)
    if category not in FaqCategory.values:
        raise _invalid(f"未知分类 {category!r}", f"unknown category {category!r}")
    position = _position(position)
    with transaction.atomic():
        entry = (
            FaqEntry(shop=shop)
            if entry_id is None
            else _locked(FaqEntry, shop, entry_id, "常见问题")
        )
        entry.question, entry.answer, entry.keywords = question, answer, keywords
        entry.category, entry.is_published, entry.position = category, bool(is_published), position
        entry.save()
        audit(
            shop,
            actor,
            "faq.add" if entry_id is None else "faq.edit",
            question[:120],
            {"id": entry.id},
        )
    return entry


def set_faq_published(shop: Shop, actor: Actor, entry_id: int, published: bool) -> FaqEntry:
    require_admin(shop, actor)
    with transaction.atomic():
        entry = _locked(FaqEntry, shop, entry_id, "常见问题")
        entry.is_published = published
        entry.save(update_fields=["is_published", "updated_at"])
        audit(
            shop,
            actor,
            "faq.publish" if published else "faq.unpublish",
            entry.question[:120],
            {"id": entry.id},
        )
    return entry


def delete_faq(shop: Shop, actor: Actor, entry_id: int) -> None:
    require_admin(shop, actor)
    with transaction.atomic():
        entry = _locked(FaqEntry, shop, entry_id, "常见问题")
        audit(shop, actor, "faq.delete", entry.question[:120], {"id": entry.id})
        entry.delete()


def move_faq(shop: Shop, actor: Actor, entry_id: int, direction: int) -> FaqEntry:
    """Move an entry one place up (-1) or down (+1) within its category."""
    require_admin(shop, actor)
    with transaction.atomic():
        entry = _locked(FaqEntry, shop, entry_id, "常见问题")
        siblings = list(
            FaqEntry.objects.select_for_update()
            .filter(shop=shop, category=entry.category)
            .order_by("position", "id")
        )
        _swap(siblings, entry, direction)
        audit(shop, actor, "faq.reorder", entry.question[:120], {"id": entry.id, "by": direction})
    return entry


def _swap(rows: list, row, direction: int) -> None:
    """Renumber rows 10, 20, 30 … with `row` moved one place; positions stay unique."""
    index = next(i for i, r in enumerate(rows) if r.pk == row.pk)
    target = index + (1 if direction > 0 else -1)
    if 0 <= target < len(rows):
        rows[index], rows[target] = rows[target], rows[index]
    for i, r in enumerate(rows):
        wanted = (i + 1) * 10
        if r.position != wanted:
            r.position = wanted
            r.save(update_fields=["position"])
        if r.pk == row.pk:
            row.position = wanted


# --- canned replies -----------------------------------------------------------------------
def unknown_variables(body: str) -> list[str]:
    return sorted({name for name in _VARIABLE_RE.findall(body) if name not in REPLY_VARIABLES})


def _codes(values: list[str] | None, allowed: set[str], zh: str, en: str) -> list[str]:
    picked = []
    for value in values or []:
        if value not in allowed:
            raise _invalid(f"未知{zh} {value!r}", f"unknown {en} {value!r}")
        if value not in picked:
            picked.append(value)
    return picked


def save_canned(
    shop: Shop,
    actor: Actor,
    *,
    title: str,
    body: str,
    case_types: list[str] | None = None,
    statuses: list[str] | None = None,
    is_active: bool = True,
    position: int | str = 100,
    reply_id: int | None = None,
) -> CannedReply:
    require_admin(shop, actor)
    title = _text(title, 60, "标题", "the title")
    body = _text(body, 2000, "内容", "the body")
    if bad := unknown_variables(body):
        names = "、".join("{" + b + "}" for b in bad)
        raise _invalid(f"未知变量 {names}", f"unknown variable(s) {names}")
    case_types = _codes(case_types, {t.value for t in lc.CaseType}, "类型", "case type")
    statuses = _codes(statuses, {s.value for s in lc.Status}, "状态", "status")
    position = _position(position)
    with transaction.atomic():
        reply = (
            CannedReply(shop=shop)
            if reply_id is None
            else _locked(CannedReply, shop, reply_id, "快捷回复")
        )
        reply.title, reply.body = title, body
        reply.case_types, reply.statuses = case_types, statuses
        reply.is_active, reply.position = bool(is_active), position
        reply.save()
        audit(
            shop,
            actor,
            "canned.add" if reply_id is None else "canned.edit",
            title,
            {"id": reply.id},
        )
    return reply


def delete_canned(shop: Shop, actor: Actor, reply_id: int) -> None:
    require_admin(shop, actor)
    with transaction.atomic():
        reply = _locked(CannedReply, shop, reply_id, "快捷回复")
        audit(shop, actor, "canned.delete", reply.title, {"id": reply.id})
        reply.delete()


def move_canned(shop: Shop, actor: Actor, reply_id: int, direction: int) -> CannedReply:
    require_admin(shop, actor)
    with transaction.atomic():
        reply = _locked(CannedReply, shop, reply_id, "快捷回复")
        rows = list(
            CannedReply.objects.select_for_update().filter(shop=shop).order_by("position", "id")
        )
        _swap(rows, reply, direction)
        audit(shop, actor, "canned.reorder", reply.title, {"id": reply.id, "by": direction})
    return reply
