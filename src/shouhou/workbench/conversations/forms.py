"""Parsing the conversation pages' forms: what the agent picked, as the services take it.

Anything malformed is a `validation_error` the page shows; the services check the rest
(the intent is one of the nine, the FAQ entry is this shop's, the lines are the order's).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import QueryDict

from shouhou.core.errors import ShouhouError
from shouhou.core.i18n import tr
from shouhou.core.web import int_or_none

# The list's filters: every open one, waiting for a person, assigned to me, ended.
VIEWS = ("open", "waiting", "mine", "closed")


def _invalid(zh: str, en: str) -> ShouhouError:
    return ShouhouError("validation_error", detail=tr(zh, en))


def list_view(query: QueryDict) -> tuple[str, bool]:
    """The filter the list shows, and whether the asked-for one was unknown."""
    raw = query.get("view", "") or "open"
    return (raw, False) if raw in VIEWS else ("open", True)


def faq_choice(value: str | None) -> int | None:
    """ "none" → no entry should answer; an id → that entry; anything else is refused."""
    raw = (value or "").strip()
    if raw == "none":
        return None
    ident = int_or_none(raw)
    if ident is None:
        raise _invalid(
            "请选择正确的常见问题，或选择“都不对”", "choose the right FAQ entry, or “none”"
        )
    return ident


@dataclass(frozen=True)
class CaseForm:
    case_type: str
    reason: str
    line_ids: list[int]
    description: str


def case_form(post: QueryDict) -> CaseForm:
    case_type, reason = post.get("case_type", ""), post.get("reason", "")
    if not case_type or not reason:
        raise _invalid("请选择售后类型和原因", "choose the type and the reason")
    ids = []
    for raw in post.getlist("line"):
        ident = int_or_none(raw)
        if ident is None:
            raise _invalid("订单商品选择不合法", "the chosen order lines are not valid")
        ids.append(ident)
    if not ids:
        raise _invalid("请至少选择一件商品", "choose at least one item")
    description = post.get("description", "").strip()
    if len(description) > 2000:
        raise _invalid("问题描述最多 2000 字", "the description holds at most 2,000 characters")
    return CaseForm(case_type, reason, list(dict.fromkeys(ids)), description)
