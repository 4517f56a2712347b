"""Template helpers every page uses: `{% load shouhou %}`.

{% tr "待处理" "To do" %}              wording in the active language
{{ case.status|case_label:"status" }}  a code's label (status, type, reason, action, role, proposal)
{{ 12990|fen }}                        ¥129.90 (money is integer fen)
{% countdown case.deadline_at %}       a live countdown (static/shouhou/app.js keeps it ticking)
{% next_step case buyer=True %}        "商家将在 2天3小时 内处理，超时将自动同意"
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

from shouhou.cases import wording
from shouhou.core import clock
from shouhou.core.i18n import is_english
from shouhou.core.i18n import tr as _tr

register = template.Library()

NEAR_DUE_SECONDS = 6 * 3600


@register.simple_tag
def tr(zh: str, en: str) -> str:
    return _tr(zh, en)


@register.filter
def case_label(code: str, kind: str) -> str:
    return wording.label(kind, code)


@register.filter
def fen(amount: int | None) -> str:
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else ""
    yuan, cents = divmod(abs(int(amount)), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


@register.filter
def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not value:
        return ""
    return timezone.localtime(value).strftime(fmt)


@register.simple_tag
def countdown(deadline_at: datetime | None) -> str:
    """A span the page script updates every 30 s; overdue and near-due get their class."""
    if deadline_at is None:
        return format_html('<span class="countdown none">—</span>')
    left = deadline_at - clock.now()
    seconds = left.total_seconds()
    css = "overdue" if seconds <= 0 else ("near" if seconds < NEAR_DUE_SECONDS else "")
    text = (
        _tr("已超时 ", "overdue ") + wording.duration_words(-left)
        if seconds <= 0
        else wording.duration_words(left)
    )
    return format_html(
        '<span class="countdown {}" data-deadline="{}" data-offset="{}">{}</span>',
        css,
        deadline_at.isoformat(),
        int((clock.now() - timezone.now()).total_seconds()),
        text,
    )


@register.simple_tag
def next_step(case, buyer: bool = False) -> str:
    """`case` is a Case or a case_detail dict."""
    get = case.get if isinstance(case, dict) else lambda k, d=None: getattr(case, k, d)
    return wording.next_step(
        get("status"),
        get("deadline_at"),
        get("deadline_label", "") or "",
        clock.now(),
        buyer=buyer,
    )


@register.simple_tag(takes_context=True)
def lang_is_en(context) -> bool:
    return is_english()
