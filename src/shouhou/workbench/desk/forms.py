"""Parsing what the desk pages send: queue filters from the query string, amounts in yuan.

Queue filters arrive as GET parameters (so a filtered queue is a link, and a saved view is
just that query string). Unknown values are dropped with a note for the page rather than
failing the whole queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from django.http import QueryDict

from shouhou.cases import lifecycle as lc
from shouhou.cases.selectors import QueueFilters
from shouhou.core import clock
from shouhou.core.errors import ShouhouError

FILTER_KEYS = ("status", "type", "reason", "priority", "assignee", "due", "scope")
SCOPES = ("open", "closed", "all")
MAX_DUE_HOURS = 24 * 60
_YUAN = re.compile(r"^\d{1,12}(\.\d{1,2})?$")


@dataclass
class QueueForm:
    filters: QueueFilters
    values: dict[str, list[str]] = field(default_factory=dict)  # what the form shows again
    problems: list[str] = field(default_factory=list)

    @property
    def query(self) -> str:
        """The normalised filter query string (what a saved view stores)."""
        return urlencode([(k, v) for k in FILTER_KEYS for v in self.values.get(k, [])])

    def first(self, key: str) -> str:
        got = self.values.get(key) or [""]
        return got[0]


def parse_queue(params: QueryDict) -> QueueForm:
    values: dict[str, list[str]] = {}
    problems: list[str] = []

    def pick(key: str, allowed: set[str]) -> tuple[str, ...]:
        got = [v for v in params.getlist(key) if v != ""]
        ok = [v for v in got if v in allowed]
        if len(ok) != len(got):
            problems.append(key)
        values[key] = ok
        return tuple(ok)

    status = pick("status", {s.value for s in lc.Status})
    types = pick("type", {t.value for t in lc.CaseType})
    reasons = pick("reason", {r.value for r in lc.Reason})
    priority = pick("priority", {"0", "1", "2"})
    assignee_raw = [v for v in params.getlist("assignee") if v != ""]
    assignee = [v for v in assignee_raw if v in {"me", "none"} or (v.isdigit() and len(v) <= 18)]
    if len(assignee) != len(assignee_raw):
        problems.append("assignee")
    values["assignee"] = assignee
    scope = params.get("scope") or "open"
    if scope not in SCOPES:
        problems.append("scope")
        scope = "open"
    values["scope"] = [] if scope == "open" else [scope]
    deadline_before = None
    due = (params.get("due") or "").strip()
    if due:
        if due.isdigit() and 0 < int(due) <= MAX_DUE_HOURS:
            deadline_before = clock.now() + timedelta(hours=int(due))
            values["due"] = [due]
        else:
            problems.append("due")
    return QueueForm(
        filters=QueueFilters(
            status=status,
            type=types,
            reason=reasons,
            priority=tuple(int(p) for p in priority),
            assignee=tuple(assignee),
            deadline_before=deadline_before,
            scope=scope,
        ),
        values=values,
        problems=problems,
    )


def fen_from_yuan(raw: str | None, what: str = "金额") -> int | None:
    """ "129.9" → 12990; blank → None; anything else is a clear validation error."""
    text = (raw or "").strip().replace("¥", "").replace(",", "")
    if not text:
        return None
    if not _YUAN.match(text):
        raise ShouhouError(
            "validation_error", detail=f"{what}：请填写金额，如 129.90 / an amount like 129.90"
        )
    yuan, _, cents = text.partition(".")
    return int(yuan) * 100 + int((cents + "00")[:2])


def optional_int(raw: str | None, what: str) -> int | None:
    text = (raw or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise ShouhouError("validation_error", detail=f"{what}：无效的值 / not a valid value")
    return int(text)
