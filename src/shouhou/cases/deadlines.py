"""The deadline sweep: apply every due deadline action, in batches.

Each batch is one transaction. On PostgreSQL the batch's rows are locked with
`FOR UPDATE SKIP LOCKED`, so any number of workers sweep side by side without touching
the same case; on SQLite the write lock serialises them. A worker killed mid-batch loses
nothing: its transaction rolls back and the cases are still due for the next sweep.
Each case runs in a savepoint, so one case that cannot move does not hold up the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction

from shouhou.core import clock
from shouhou.core.errors import ShouhouError

from . import lifecycle as lc
from . import services
from .actors import Actor
from .models import Case

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    applied: int = 0
    failed: int = 0
    batches: int = 0
    by_action: dict[str, int] = field(default_factory=dict)


DEADLINE_SERVICES = {
    lc.Action.PASS_REVIEW: services.pass_review,
    lc.Action.AGREE: services.agree,
    lc.Action.CLOSE_OVERDUE: services.close_overdue,
    lc.Action.CONFIRM_RECEIPT: services.confirm_receipt,
    lc.Action.ALERT: services.alert,
    lc.Action.CONFIRM_DELIVERY: services.confirm_delivery,
    lc.Action.EXPIRE_PROPOSAL: services.expire_proposal,
}


def due_ids(now: datetime, limit: int) -> list[int]:
    qs = (
        Case.objects.filter(deadline_at__lte=now)
        .order_by("deadline_at")
        .values_list("id", flat=True)
    )
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True)
    return list(qs[:limit])


def apply_due(case_id: int, now: datetime) -> str | None:
    """Apply one case's deadline action as the system; return the action applied."""
    row = (
        Case.objects.filter(pk=case_id).values("shop_id", "deadline_at", "deadline_action").first()
    )
    if row is None or row["deadline_at"] is None or row["deadline_at"] > now:
        return None  # someone acted on it since it was picked
    action = lc.Action(row["deadline_action"])
    actor = Actor.system(row["shop_id"], label="系统（超时）", by_deadline=True)
    DEADLINE_SERVICES[action](case_id, actor)
    return action.value


def sweep(
    *, batch_size: int | None = None, max_batches: int | None = None, now: datetime | None = None
) -> SweepResult:
    from django.conf import settings

    batch_size = batch_size or settings.SHOUHOU_SWEEP_BATCH
    result = SweepResult()
    while max_batches is None or result.batches < max_batches:
        at = now or clock.now()
        with transaction.atomic():
            ids = due_ids(at, batch_size)
            if not ids:
                break
            result.batches += 1
            for case_id in ids:
                try:
                    with transaction.atomic():
                        done = apply_due(case_id, at)
                except ShouhouError as exc:
                    # Leave a mark and move the deadline off the hot path, so a case that
                    # cannot move (e.g. no return address) does not block every sweep.
                    result.failed += 1
                    _park(case_id, at, exc)
                    continue
                if done:
                    result.applied += 1
                    result.by_action[done] = result.by_action.get(done, 0) + 1
    return result


def _park(case_id: int, now: datetime, exc: ShouhouError) -> None:
    from datetime import timedelta

    log.warning("deadline action on case %s refused: %s", case_id, exc.code)
    case = Case.objects.get(pk=case_id)
    if "deadline_failed" not in case.flags:
        case.flags = [*case.flags, "deadline_failed"]
    Case.objects.filter(pk=case_id).update(
        flags=case.flags, deadline_at=now + timedelta(hours=1), version=case.version + 1
    )
    services.add_rule_note(
        case_id, Actor.system(case.shop_id), f"超时自动处理失败：{exc.message()}"
    )
