"""`shouhou import-orders FILE.csv --shop CODE`: orders from a back-office CSV export.

One row per order line; rows sharing an order number make one order (order-level columns
are read from the group's first row). Every order goes through
`shouhou.orders.services.upsert_order`, so importing the same file twice changes nothing.
A bad row is reported as `import_invalid` with its line number in the file (the header is
line 1) and its order is skipped; the rest of the file still imports, unless --strict, in
which case nothing is imported when any row is bad. Money columns are integer fen (分).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.core.models import Shop
from shouhou.customers.models import Tier
from shouhou.orders.models import Channel, OrderStatus
from shouhou.orders.services import CustomerData, LineData, OrderData, upsert_order

# Canonical column → accepted header spellings (English code or the Chinese label).
COLUMNS: dict[str, tuple[str, ...]] = {
    "order_no": ("order_no", "订单号"),
    "line_no": ("line_no", "子订单号"),
    "status": ("status", "订单状态"),
    "channel": ("channel", "渠道"),
    "placed_at": ("placed_at", "下单时间"),
    "paid_at": ("paid_at", "付款时间"),
    "shipped_at": ("shipped_at", "发货时间"),
    "delivered_at": ("delivered_at", "签收时间"),
    "buyer_id": ("buyer_id", "买家ID", "买家id"),
    "buyer_nickname": ("buyer_nickname", "买家昵称"),
    "buyer_tier": ("buyer_tier", "会员等级"),
    "receiver_name": ("receiver_name", "收货人"),
    "receiver_phone": ("receiver_phone", "收货电话", "手机"),
    "receiver_address": ("receiver_address", "收货地址"),
    "shipping_fee_fen": ("shipping_fee_fen", "运费(分)"),
    "has_shipping_insurance": ("has_shipping_insurance", "运费险"),
    "sku_code": ("sku_code", "SKU编码", "sku"),
    "title": ("title", "商品标题"),
    "quantity": ("quantity", "数量"),
    "unit_price_fen": ("unit_price_fen", "单价(分)"),
    "paid_fen": ("paid_fen", "实付(分)"),
}
REQUIRED = ("order_no", "line_no", "buyer_id", "title", "quantity", "unit_price_fen")
ORDER_FIELDS = (
    "status",
    "channel",
    "placed_at",
    "paid_at",
    "shipped_at",
    "delivered_at",
    "buyer_id",
    "buyer_nickname",
    "buyer_tier",
    "receiver_name",
    "receiver_phone",
    "receiver_address",
    "shipping_fee_fen",
    "has_shipping_insurance",
)
# Order statuses by code or by the label a Chinese back office exports.
STATUS_ALIASES = {
    **{value: value for value in OrderStatus.values},
    "待付款": OrderStatus.UNPAID,
    "待发货": OrderStatus.PAID,
    "已付款": OrderStatus.PAID,
    "已发货": OrderStatus.SHIPPED,
    "已签收": OrderStatus.DELIVERED,
    "交易成功": OrderStatus.COMPLETED,
    "已完成": OrderStatus.COMPLETED,
    "已取消": OrderStatus.CANCELLED,
    "交易关闭": OrderStatus.CANCELLED,
}
TRUE = {"1", "true", "yes", "y", "是", "有"}
FALSE = {"", "0", "false", "no", "n", "否", "无"}
PHONE_RE = re.compile(r"^\+?[0-9][0-9\- ]{4,19}$")


class RowError(Exception):
    pass


@dataclass
class Group:
    order_no: str
    first_row: int
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    error: ShouhouError | None = None


@dataclass
class Summary:
    rows: int = 0
    orders: int = 0
    created: int = 0
    updated: int = 0
    lines: int = 0
    errors: list[tuple[int, str, ShouhouError]] = field(default_factory=list)


def _int(value: str, column: str, *, minimum: int = 0) -> int:
    text = value.strip().replace(",", "")
    if not re.fullmatch(r"-?\d+", text):
        raise RowError(f"{column} 须为整数 must be a whole number: {value!r}")
    number = int(text)
    if number < minimum:
        raise RowError(f"{column} 不能小于 {minimum} must be ≥ {minimum}: {number}")
    if number > 2**62:
        raise RowError(f"{column} 过大 too large: {number}")
    return number


def _when(value: str, column: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        return clock.parse_local(value)
    except ValueError:
        raise RowError(f"{column} 不是合法时间 not a valid time: {value!r}") from None


def _bool(value: str, column: str) -> bool:
    text = value.strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise RowError(f"{column} 须为 是/否 (1/0): {value!r}")


def read_groups(path: Path, encoding: str) -> tuple[list[Group], int]:
    """Read the file into order groups (file order); header problems stop everything."""
    groups: dict[str, Group] = {}
    rows = 0
    with path.open(newline="", encoding=encoding) as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        mapping = _map_header(header)
        reader.fieldnames = header
        for raw in reader:
            rows += 1
            row_no = reader.line_num
            row = {canon: (raw.get(source) or "").strip() for canon, source in mapping.items()}
            if not any(row.values()):
                continue  # a blank line from a spreadsheet
            order_no = row.get("order_no", "")
            key = order_no or f"#row{row_no}"
            group = groups.get(key)
            if group is None:
                group = groups[key] = Group(order_no=order_no, first_row=row_no)
            group.rows.append((row_no, row))
    return list(groups.values()), rows


def _map_header(header: list[str]) -> dict[str, str]:
    lowered = {h.lower(): h for h in header}
    mapping = {}
    for canon, spellings in COLUMNS.items():
        for spelling in spellings:
            if spelling.lower() in lowered:
                mapping[canon] = lowered[spelling.lower()]
                break
    missing = [c for c in REQUIRED if c not in mapping]
    if missing:
        raise CommandError(
            "CSV 缺少必需列 missing required columns: "
            + ", ".join(f"{c} ({COLUMNS[c][-1]})" for c in missing)
        )
    return mapping


def build_order(group: Group) -> OrderData:
    """Turn one group into OrderData, or raise ShouhouError('import_invalid', row=…)."""
    head = group.rows[0][1]
    lines: list[LineData] = []
    for row_no, row in group.rows:
        try:
            for column in REQUIRED:
                if not row.get(column):
                    raise RowError(f"缺少 {column} ({COLUMNS[column][-1]}) is empty")
            for column in ORDER_FIELDS:
                value = row.get(column, "")
                if value and value != head.get(column, ""):
                    raise RowError(
                        f"{column} 与本订单第 {group.first_row} 行不一致"
                        f" differs from line {group.first_row} of the same order"
                    )
            quantity = _int(row["quantity"], "quantity", minimum=1)
            unit_price = _int(row["unit_price_fen"], "unit_price_fen")
            paid = _int(row["paid_fen"], "paid_fen") if row.get("paid_fen") else None
            if paid is not None and paid > unit_price * quantity:
                raise RowError("paid_fen 超过 单价×数量 exceeds unit price × quantity")
            if len(row["line_no"]) > 64 or len(row["order_no"]) > 64:
                raise RowError("订单号/子订单号最长 64 个字符 ids are at most 64 characters")
            lines.append(
                LineData(
                    external_id=row["line_no"],
                    title=row["title"][:200],
                    quantity=quantity,
                    unit_price_fen=unit_price,
                    paid_fen=paid,
                    sku_code=row.get("sku_code", ""),
                )
            )
        except RowError as exc:
            raise ShouhouError("import_invalid", row=row_no, detail=str(exc)) from None
    row_no = group.first_row
    try:
        status = STATUS_ALIASES.get(head.get("status") or OrderStatus.PAID)
        if status is None:
            raise RowError(f"status 未知的订单状态 unknown order status: {head['status']!r}")
        channel = head.get("channel") or Channel.API
        if channel not in Channel.values:
            raise RowError(f"channel 未知渠道 unknown channel: {channel!r}")
        tier = head.get("buyer_tier") or None
        if tier is not None and tier not in Tier.values:
            raise RowError(f"buyer_tier 须为 {'/'.join(Tier.values)}: {tier!r}")
        phone = head.get("receiver_phone", "")
        if phone and not PHONE_RE.match(phone):
            raise RowError(f"receiver_phone 不是合法电话 not a phone number: {phone!r}")
        fee = head.get("shipping_fee_fen", "")
        data = OrderData(
            external_id=group.order_no,
            customer=CustomerData(
                external_id=head["buyer_id"][:64],
                nickname=head.get("buyer_nickname", "")[:80],
                name=head.get("receiver_name", ""),
                phone=phone,
                address=head.get("receiver_address", ""),
                tier=tier,
            ),
            lines=lines,
            status=status,
            channel=channel,
            placed_at=_when(head.get("placed_at", ""), "placed_at"),
            paid_at=_when(head.get("paid_at", ""), "paid_at"),
            shipped_at=_when(head.get("shipped_at", ""), "shipped_at"),
            delivered_at=_when(head.get("delivered_at", ""), "delivered_at"),
            shipping_fee_fen=_int(fee, "shipping_fee_fen") if fee else 0,
            has_shipping_insurance=_bool(
                head.get("has_shipping_insurance", ""), "has_shipping_insurance"
            ),
            receiver_name=head.get("receiver_name", ""),
            receiver_phone=phone,
            receiver_address=head.get("receiver_address", ""),
        )
    except RowError as exc:
        raise ShouhouError("import_invalid", row=row_no, detail=str(exc)) from None
    return data


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "从 CSV 导入订单 Import orders from a CSV file (one row per order line)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, UTF-8 (with or without BOM) by default")
        parser.add_argument("--shop", required=True, help="店铺代码 the shop's code")
        parser.add_argument(
            "--strict", action="store_true", help="import nothing if any row is invalid"
        )
        parser.add_argument(
            "--encoding", default="utf-8-sig", help="file encoding, e.g. gbk (default utf-8-sig)"
        )

    def handle(self, *args, file: str, shop: str, strict: bool, encoding: str, **options):
        console = Console(file=getattr(self.stdout, "_out", self.stdout), width=120)
        shop_obj = Shop.objects.filter(code=shop).first()
        if shop_obj is None:
            raise CommandError(f"店铺 {shop!r} 不存在 / no shop with code {shop!r}")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"找不到文件 file not found: {file}")
        try:
            groups, row_count = read_groups(path, encoding)
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"文件编码不是 {encoding}，可用 --encoding gbk 重试 / not {encoding}: {exc}"
            ) from None
        summary = Summary(rows=row_count)
        try:
            with transaction.atomic() if strict else nullcontext():
                self._import(console, shop_obj, groups, summary)
                if strict and summary.errors:
                    raise _Rollback
        except _Rollback:
            summary.created = summary.updated = summary.orders = summary.lines = 0
        self._report(console, shop_obj, summary, strict)
        if summary.errors:
            raise CommandError(
                f"{len(summary.errors)} 个订单未导入 orders rejected"
                + ("；--strict：整个文件未导入 nothing was imported" if strict else ""),
                returncode=1,
            )

    def _import(self, console, shop, groups: list[Group], summary: Summary):
        columns = (
            TextColumn("[bold]导入订单 importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("orders", total=len(groups))
            for group in _iter(groups, progress, task):
                try:
                    if not group.order_no:
                        raise ShouhouError(
                            "import_invalid", row=group.first_row, detail="缺少 order_no 订单号"
                        )
                    data = build_order(group)
                    _, created = upsert_order(shop, data)
                except ShouhouError as exc:
                    if exc.code != "import_invalid":
                        exc = ShouhouError(
                            "import_invalid", row=group.first_row, detail=exc.message()
                        )
                    summary.errors.append((exc.params["row"], group.order_no, exc))
                    continue
                summary.orders += 1
                summary.lines += len(data.lines)
                if created:
                    summary.created += 1
                else:
                    summary.updated += 1

    def _report(self, console: Console, shop: Shop, summary: Summary, strict: bool) -> None:
        if summary.errors:
            table = Table(title="有误的行 rejected rows (import_invalid)")
            table.add_column("行 row", justify="right")
            table.add_column("订单号 order")
            table.add_column("原因 problem")
            for row, order_no, exc in summary.errors:
                table.add_row(str(row), escape(order_no or "—"), escape(exc.message()))
            console.print(table)
        table = Table(title=f"导入结果 import summary — {escape(shop.name)} ({shop.code})")
        table.add_column("项目 item")
        table.add_column("数量 count", justify="right")
        table.add_row("读取行 rows read", str(summary.rows))
        table.add_row("导入订单 orders imported", str(summary.orders))
        table.add_row("  新建 created", str(summary.created))
        table.add_row("  更新 updated", str(summary.updated))
        table.add_row("订单行 order lines", str(summary.lines))
        table.add_row("未导入订单 orders rejected", str(len(summary.errors)))
        console.print(table)
        if strict and summary.errors:
            console.print("[red]--strict：有误，整个文件未导入 nothing was imported[/]")


def _iter(groups: list[Group], progress: Progress, task) -> Iterator[Group]:
    for group in groups:
        yield group
        progress.advance(task)
