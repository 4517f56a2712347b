"""Bulk actions from the workbench queue: agree every selected eligible refund at once.

Each case is agreed through `services.agree` in its own transaction, so one refused case
(another agent got there first, the deadline passed, the refund needs finance) never undoes
the others. The caller gets one outcome per case — done, sent to finance, or refused with
the stable error code and its message — to show the agent what happened and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop

from . import lifecycle as lc
from . import services
from .actors import Actor
from .models import Case

MAX_BULK = 200  # a page of the queue is 50; this bounds one request's work

DONE = "done"
FINANCE = "finance"  # agreed by the agent, now waiting for finance above the shop's limit
REFUSED = "refused"


@dataclass(frozen=True)
class BulkOutcome:
    case_id: int
    number: str
    result: str
    error: ShouhouError | None = None

    @property
    def code(self) -> str:
        return self.error.code if self.error else ""

    def message(self, lang: str = "zh-hans") -> str:
        return self.error.message(lang) if self.error else ""

    def as_dict(self, lang: str = "zh-hans") -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "number": self.number,
            "result": self.result,
            "code": self.code,
            "message": self.message(lang),
        }


@dataclass
class BulkSummary:
    outcomes: list[BulkOutcome] = field(default_factory=list)

    def _of(self, result: str) -> list[BulkOutcome]:
        return [o for o in self.outcomes if o.result == result]

    @property
    def done(self) -> list[BulkOutcome]:
        return self._of(DONE)

    @property
    def finance(self) -> list[BulkOutcome]:
        return self._of(FINANCE)

    @property
    def refused(self) -> list[BulkOutcome]:
        return self._of(REFUSED)


def is_eligible_refund(case: Case) -> bool:
    """A refund the shop still has to decide: a money path waiting for the merchant."""
    return case.status == lc.Status.AWAITING_MERCHANT and case.path in lc.MONEY_PATHS


def _ineligible(case: Case) -> ShouhouError:
    if case.path not in lc.MONEY_PATHS:
        return ShouhouError(
            "type_not_allowed",
            type=case.type,
            type_label=case.type_label,
            action="bulk_agree",
            action_label="批量同意退款",
        )
    status = lc.Status(case.status)
    return ShouhouError(
        "action_not_allowed",
        status=status.value,
        status_label=lc.STATUS_LABELS[status],
        action=lc.Action.AGREE.value,
        action_label=lc.ACTION_LABELS[lc.Action.AGREE],
    )


def bulk_agree(shop: Shop, actor: Actor, case_ids: Iterable[int]) -> BulkSummary:
    """Agree each selected eligible refund; refuse the rest with the reason."""
    if actor.shop_id != shop.id:
        raise ShouhouError("not_found", what="店铺")
    wanted = list(dict.fromkeys(case_ids))  # keep the agent's order, drop repeats
    if not wanted:
        raise ShouhouError("validation_error", detail="请先勾选售后单 / select at least one case")
    if len(wanted) > MAX_BULK:
        raise ShouhouError(
            "validation_error", detail=f"一次最多 {MAX_BULK} 单 / at most {MAX_BULK} cases"
        )
    found = {
        c.id: c
        for c in Case.objects.filter(shop_id=shop.id, pk__in=wanted).only(
            "id", "number", "status", "path", "type", "awaiting_finance"
        )
    }
    summary = BulkSummary()
    for case_id in wanted:
        case = found.get(case_id)
        if case is None:  # another shop's id is simply not there
            error = ShouhouError("not_found", what=f"售后单 #{case_id}")
            summary.outcomes.append(BulkOutcome(case_id, f"#{case_id}", REFUSED, error))
            continue
        if not is_eligible_refund(case):
            summary.outcomes.append(BulkOutcome(case.id, case.number, REFUSED, _ineligible(case)))
            continue
        try:
            agreed = services.agree(case.id, actor)
        except ShouhouError as exc:
            summary.outcomes.append(BulkOutcome(case.id, case.number, REFUSED, exc))
            continue
        result = FINANCE if agreed.awaiting_finance else DONE
        summary.outcomes.append(BulkOutcome(case.id, case.number, result))
    _audit_bulk(shop, actor, summary)
    return summary


def _audit_bulk(shop: Shop, actor: Actor, summary: BulkSummary) -> None:
    """One audit row per bulk agree: money moved on many cases by one click."""
    from shouhou.core.services import audit

    agreed = [o.number for o in summary.outcomes if o.result in (DONE, FINANCE)]
    if not agreed:
        return
    refused = sum(1 for o in summary.outcomes if o.result == REFUSED)
    audit(
        shop,
        actor,
        "case.bulk_agree",
        f"{len(agreed)} 单 cases",
        {"cases": agreed[:200], "agreed": len(agreed), "refused": refused},
    )
