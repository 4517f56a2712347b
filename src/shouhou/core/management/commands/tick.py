"""`shouhou tick`: move the shared application clock forward and apply what fell due.

shouhou tick --hours 73                 # three days and an hour later
shouhou tick --to "2026-11-30 12:00"    # read in Asia/Shanghai
shouhou tick                            # just show the clock and the next deadlines
shouhou tick --hours 73 --no-sweep      # move the clock only; let `shouhou worker` act
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shouhou.cases import lifecycle as lc
from shouhou.cases.deadlines import sweep
from shouhou.cases.models import Case, TimelineEvent
from shouhou.core import clock

SHANGHAI = clock.SHANGHAI


def parse_local(text: str) -> datetime:
    """A wall-clock time as a merchant in China reads it."""
    try:
        return clock.parse_local(text)
    except ValueError:
        raise CommandError(
            f'无法识别的时间 {text!r}，请用 "2026-11-30 12:00" 的格式 / use YYYY-MM-DD HH:MM'
        ) from None


def local(at: datetime | None) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if at else "—"


def _status(code: str) -> str:
    try:
        return f"{lc.STATUS_LABELS[lc.Status(code)]} {code}"
    except ValueError:
        return code or "—"


def _action(code: str) -> str:
    try:
        return f"{lc.ACTION_LABELS[lc.Action(code)]} {code}"
    except ValueError:
        return code


class Command(BaseCommand):
    help = "拨动应用时钟并执行到期的超时动作 Move the app clock and apply due deadlines."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--to", help='target time in Asia/Shanghai, e.g. "2026-11-30 12:00"')
        group.add_argument("--hours", type=float, help="move forward by this many hours")
        parser.add_argument(
            "--no-sweep",
            action="store_true",
            help="only move the clock; leave the deadlines to `shouhou worker`",
        )
        parser.add_argument("--limit", type=int, default=50, help="rows to show (default 50)")

    def handle(self, *args, to=None, hours=None, no_sweep=False, limit=50, **options):
        console = Console(file=getattr(self.stdout, "_out", self.stdout), width=140)
        before = clock.now()
        if to is None and hours is None:
            console.print(f"应用时钟 app clock: [bold]{local(before)}[/] (Asia/Shanghai)")
            self._upcoming(console, before, limit)
            return
        if hours is not None and hours < 0:
            raise CommandError("时钟只能向前拨 / the clock only moves forward (--hours ≥ 0)")
        target = parse_local(to) if to is not None else before + timedelta(hours=hours)
        try:
            after = clock.move_to(target)
        except ValueError as exc:
            raise CommandError(f"时钟只能向前拨：现在是 {local(before)} / {exc}") from None
        console.print(
            f"应用时钟 app clock: {local(before)} → [bold]{local(after)}[/] (Asia/Shanghai)"
        )
        if no_sweep:
            due = Case.objects.filter(deadline_at__lte=after).count()
            console.print(f"未执行扫描 sweep skipped: {due} 个售后单已到期 cases due")
            return

        last_event = TimelineEvent.objects.aggregate(m=Max("id"))["m"] or 0
        result = sweep()
        events = list(
            TimelineEvent.objects.filter(id__gt=last_event, by_deadline=True)
            .exclude(action="refund_issued")
            .select_related("case", "shop")
            .order_by("id")
        )
        table = Table(title=f"超时自动处理 deadline actions applied: {result.applied}")
        for column in ("店铺 shop", "售后单 case", "类型 type", "动作 action", "状态 status"):
            table.add_column(column)
        for event in events[:limit]:
            case = event.case
            table.add_row(
                escape(event.shop.name),
                case.number,
                case.type_label,
                _action(event.action),
                f"{_status(event.from_status)} → {_status(event.to_status)}",
            )
        if events:
            console.print(table)
            if len(events) > limit:
                console.print(f"…另有 {len(events) - limit} 条 and {len(events) - limit} more")
        else:
            console.print("没有到期的售后单 nothing was due")
        if result.by_action:
            summary = ", ".join(f"{_action(k)}: {v}" for k, v in sorted(result.by_action.items()))
            console.print(f"合计 totals — {summary}")
        if result.failed:
            console.print(
                f"[red]{result.failed} 个售后单的超时动作未能执行 deadline actions refused[/]"
                " (flagged deadline_failed, retried in an hour)"
            )

    def _upcoming(self, console: Console, now: datetime, limit: int) -> None:
        rows = list(
            Case.objects.filter(deadline_at__isnull=False)
            .select_related("shop")
            .order_by("deadline_at", "id")[: min(limit, 10)]
        )
        if not rows:
            console.print("没有待到期的售后单 no open deadlines")
            return
        table = Table(title="即将到期 next deadlines")
        for column in (
            "店铺 shop",
            "售后单 case",
            "状态 status",
            "截止 deadline",
            "超时动作 on timeout",
        ):
            table.add_column(column)
        for case in rows:
            overdue = " [red](已到期 due)[/]" if case.deadline_at <= now else ""
            table.add_row(
                escape(case.shop.name),
                case.number,
                _status(case.status),
                local(case.deadline_at) + overdue,
                _action(case.deadline_action),
            )
        console.print(table)
