"""`shouhou customer export|erase --shop CODE --buyer EXTID`: one customer's personal data.

Runs as the shop admin would (the same services, the same audit entries, actor "命令行 CLI").
`export` writes the JSON to stdout or `-o FILE` (created with mode 0600: it holds the plain
phone and address). `erase` asks to type the buyer id again unless `--yes`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from shouhou.cases.actors import Actor
from shouhou.cases.lifecycle import ActorRole
from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop
from shouhou.customers import privacy
from shouhou.customers.models import Customer


class Command(BaseCommand):
    help = "客户个人信息导出/删除 · export or erase one customer's personal data"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("export", "导出 JSON · export everything held on the customer as JSON"),
            ("erase", "删除个人信息，保留账目 · erase the person, keep the accounting"),
        ):
            p = sub.add_parser(name, help=text)
            p.add_argument("--shop", required=True, help="店铺代码 · shop code")
            p.add_argument("--buyer", required=True, help="买家ID · the customer's buyer id")
            if name == "export":
                p.add_argument("-o", "--output", help="输出文件 · write to this file")
            else:
                p.add_argument("--yes", action="store_true", help="不再确认 · do not ask")

    def handle(self, *args, action: str, shop: str, buyer: str, **options):
        shop_row = Shop.objects.filter(code=shop).first()
        if shop_row is None:
            raise CommandError(f"店铺不存在 / no shop with code {shop!r}")
        customer = Customer.objects.filter(shop=shop_row, external_id=buyer).first()
        if customer is None:
            raise CommandError(f"买家不存在 / no customer {buyer!r} in shop {shop!r}")
        actor = Actor(role=ActorRole.ADMIN, shop_id=shop_row.id, label="命令行 CLI")
        try:
            if action == "export":
                self._export(actor, customer, options.get("output"))
            else:
                self._erase(actor, customer, options["yes"])
        except ShouhouError as exc:
            raise CommandError(f"{exc.message('zh-hans')} / {exc.message('en')}") from exc

    def _export(self, actor: Actor, customer: Customer, output: str | None) -> None:
        data = privacy.export_customer(actor, customer.id)
        body = json.dumps(data, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder) + "\n"
        if not output or output == "-":
            self.stdout.write(body, ending="")
            return
        path = Path(output)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        self.stderr.write(f"已导出 exported to {path}")

    def _erase(self, actor: Actor, customer: Customer, yes: bool) -> None:
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError("需要 --yes（非交互） / pass --yes when not interactive")
            typed = input(f"输入买家ID {customer.external_id} 以确认 / type the buyer id: ")
            if typed.strip() != customer.external_id:
                raise CommandError("未确认，未删除 / not confirmed, nothing erased")
        result = privacy.erase_customer(actor, customer.id)
        if result.get("already_erased"):
            self.stdout.write("该客户的个人信息已删除过 · already erased; nothing changed")
        else:
            self.stdout.write(
                "已删除个人信息 erased: " + ", ".join(f"{k} {v}" for k, v in result.items())
            )
