"""Huey task: deliver the outbox every minute (and `shouhou outbox deliver` for a loop)."""

from __future__ import annotations

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from .services import deliver_all


@db_periodic_task(crontab(minute="*"))
@lock_task("outbox-deliver-tick")
def outbox_deliver():
    # Several consumers are safe (rows are claimed with SKIP LOCKED and a lease); the huey
    # lock only keeps one queue from piling up runs behind a slow receiver.
    r = deliver_all(batch=settings.SHOUHOU_OUTBOX_BATCH)
    return {"delivered": r.delivered, "failed": r.failed, "dead": r.dead}
