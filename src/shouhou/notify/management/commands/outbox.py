"""`shouhou outbox`: deliver the notification outbox, or show where it stands.

shouhou outbox deliver            # loop: deliver what is due, sleep, again (Ctrl-C stops)
shouhou outbox deliver --once     # deliver everything due now, then exit
shouhou outbox status             # pending / due / leased / delivered / dead, and dead letters
shouhou outbox retry-dead         # put dead letters back in the queue
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from rich.console import Console
from rich.table import Table

from shouhou.notify import services
from shouhou.notify.models import MessageStatus, OutboxMessage


class Command(BaseCommand):
    help = "通知发件箱 The notification outbox: deliver, status, retry-dead."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        deliver = sub.add_parser("deliver", help="deliver due messages")
        deliver.add_argument("--once", action="store_true", help="drain what is due, then exit")
        deliver.add_argument("--batch", type=int, default=None, help="rows claimed at a time")
        deliver.add_argument(
            "--interval", type=float, default=2.0, help="seconds between polls (default 2)"
        )
        status = sub.add_parser("status", help="counts and the dead letters")
        status.add_argument("--limit", type=int, default=20)
        sub.add_parser("retry-dead", help="queue every dead letter again")

    def handle(self, *args, what: str, **opts):
        console = Console(file=getattr(self.stdout, "_out", self.stdout), width=140)
        if what == "deliver":
            self._deliver(
                console, once=opts["once"], batch=opts["batch"], interval=opts["interval"]
            )
        elif what == "status":
            self._status(console, opts["limit"])
        else:
            n = services.retry_dead()
            console.print(f"重新排队 requeued: {n}")

    def _deliver(self, console: Console, *, once: bool, batch: int | None, interval: float):
        batch = batch or settings.SHOUHOU_OUTBOX_BATCH
        if once:
            r = services.deliver_all(batch=batch)
            console.print(
                f"送达 delivered {r.delivered} · 失败待重试 retrying {r.failed} · "
                f"死信 dead {r.dead}"
            )
            return
        console.print(f"shouhou outbox: delivering every {interval:g}s (batch {batch})")
        try:
            while True:
                r = services.deliver_due(batch=batch)
                if r.claimed:
                    console.print(
                        f"claimed {r.claimed}: delivered {r.delivered}, retrying {r.failed}, "
                        f"dead {r.dead}"
                    )
                    continue  # more may be due right away
                time.sleep(interval)
        except KeyboardInterrupt:
            console.print("stopped")

    def _status(self, console: Console, limit: int):
        s = services.summary()
        table = Table(title="通知发件箱 outbox")
        for col in ("待发 pending", "到期 due", "发送中 leased", "已送达 delivered", "死信 dead"):
            table.add_column(col, justify="right")
        table.add_row(*(str(s[k]) for k in ("pending", "due", "leased", "delivered", "dead")))
        console.print(table)
        dead = (
            OutboxMessage.objects.filter(status=MessageStatus.DEAD)
            .select_related("endpoint")
            .order_by("-updated_at")[:limit]
        )
        if dead:
            t = Table(title="死信 dead letters")
            for col in ("id", "topic", "endpoint", "attempts", "last error"):
                t.add_column(col)
            for m in dead:
                t.add_row(
                    str(m.id),
                    m.topic,
                    str(m.endpoint) if m.endpoint else "—",
                    str(m.attempts),
                    m.last_error[:80],
                )
            console.print(t)
