"""`shouhou demo [--reset] [--orders N]`: load the demo shops (see shouhou/demo.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from shouhou import demo
from shouhou.cases import lifecycle as lc
from shouhou.orders.models import OrderStatus


class Command(BaseCommand):
    help = "载入演示店铺 Load the demo shop 悦享生活旗舰店 (does nothing if it is already loaded)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="delete the demo shops and accounts, then rebuild"
        )
        parser.add_argument(
            "--orders",
            type=int,
            default=demo.DEFAULT_ORDERS,
            help=f"orders in the main shop (default {demo.DEFAULT_ORDERS})",
        )
        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="load only into a database without any shop (what `make run` uses)",
        )

    def handle(self, *args, reset: bool, orders: int, seed: int, if_empty: bool, **options):
        if orders < 1:
            raise CommandError("--orders must be at least 1")
        console = Console(file=getattr(self.stdout, "_out", self.stdout), width=110)
        result = demo.build_demo(
            orders=orders,
            seed=seed,
            reset=reset,
            if_empty=if_empty,
            log=lambda msg: console.print(f"[dim]{msg}[/]"),
        )
        if result.skipped:
            console.print(result.skipped)
            if not if_empty:
                console.print("如需重建请加 --reset / use --reset to rebuild it")
            return
        self._report(console, result)

    def _report(self, console: Console, result: demo.DemoResult) -> None:
        console.print(
            f"[bold green]演示数据已载入 demo loaded[/] in {result.seconds:.1f} s: "
            f"{', '.join(result.shops)}; {result.orders} 个订单 orders, "
            f"{result.cases} 个售后单 cases ({result.sweep_applied} by the deadline sweep)"
        )
        table = Table(title="售后单状态 cases by status")
        table.add_column("状态 status")
        table.add_column("数量 count", justify="right")
        for status in lc.Status:
            table.add_row(
                f"{lc.STATUS_LABELS[status]} {status.value}", str(result.by_status[status])
            )
        console.print(table)
        types = ", ".join(f"{lc.CASE_TYPE_LABELS[t]} {result.by_type[t]}" for t in lc.CaseType)
        console.print(f"类型 types: {types}")
        statuses = ", ".join(
            f"{label.split()[0]} {result.order_statuses[value]}"
            for value, label in OrderStatus.choices
        )
        console.print(f"订单状态 orders: {statuses}")
        for problem in result.failures + result.mismatches:
            console.print(f"[yellow]注意 note: {problem}[/]")

        logins = Table(title="演示账号 demo logins")
        for column in ("用户名 username", "密码 password", "角色 role", "店铺 shops"):
            logins.add_column(column)
        for username, password, _role, display, shops in demo.ACCOUNTS:
            logins.add_row(username, password, display, ", ".join(shops) or "superuser (all shops)")
        console.print(logins)
        console.print(
            f"API 密钥 key for {demo.MAIN_CODE} (只显示这一次 shown only once):\n"
            f"  [bold]{result.api_key}[/]"
        )
        console.print(f"已写入 written to {result.credentials_path}")
