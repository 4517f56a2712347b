"""Huey tasks: the periodic deadline sweep."""

from __future__ import annotations

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from .deadlines import sweep


@db_periodic_task(crontab(minute="*"))
@lock_task("deadline-sweep-tick")
def deadline_sweep():
    # Runs every minute; each run drains everything due. Several consumers on several
    # machines are safe (SKIP LOCKED); the huey lock only avoids pile-ups in one queue.
    result = sweep(batch_size=settings.SHOUHOU_SWEEP_BATCH)
    return {"applied": result.applied, "failed": result.failed, "batches": result.batches}
