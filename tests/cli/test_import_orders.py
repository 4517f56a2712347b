"""`shouhou import-orders`: a back-office CSV export, one row per order line."""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shouhou.customers.models import Customer
from shouhou.orders.models import Order, OrderLine

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "orders_sample.csv"
BAD_ROW = 14  # 两件 in the quantity column; line 1 is the header
ORDERS_IN_FILE = 14
LINES_IN_FILE = 20


def _import(shop, path=SAMPLE, **options) -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("import_orders", str(path), shop=shop.code, stdout=out, **options)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_sample_imports_and_reports_the_bad_row_by_its_line_number(shop):
    out, error = _import(shop)

    assert error is not None and error.returncode == 1, "a rejected row makes the exit code 1"
    assert Order.objects.filter(shop=shop).count() == ORDERS_IN_FILE - 1
    assert OrderLine.objects.filter(shop=shop).count() == LINES_IN_FILE - 1
    assert not Order.objects.filter(external_id="YX2611110009").exists()
    assert "import_invalid" in out
    assert f"导入文件第 {BAD_ROW} 行有误" in out
    assert "两件" in out

    order = Order.objects.get(shop=shop, external_id="YX2611040004")
    assert order.lines.count() == 3
    assert order.total_paid_fen == 69900 + 7980 + 0
    assert order.status == "delivered"
    assert order.has_shipping_insurance
    assert order.delivered_at == datetime(2026, 11, 7, 15, 45, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert order.customer.tier == "vip"
    assert order.receiver_phone == "13566778899"  # decrypted from the encrypted column
    # "已签收" (a Chinese back-office label) is read as delivered.
    assert Order.objects.get(external_id="YX2611030003").status == "delivered"
    # A returning buyer is one customer across orders.
    assert Customer.objects.get(shop=shop, external_id="yx_u200001").orders.count() == 2


def test_reimporting_the_same_file_changes_nothing(shop):
    _import(shop)
    before = {
        o.external_id: (o.status, o.total_paid_fen, o.lines.count())
        for o in Order.objects.filter(shop=shop)
    }
    customers = Customer.objects.filter(shop=shop).count()

    out, error = _import(shop)

    assert error is not None  # the bad row is still bad
    after = {
        o.external_id: (o.status, o.total_paid_fen, o.lines.count())
        for o in Order.objects.filter(shop=shop)
    }
    assert after == before
    assert OrderLine.objects.filter(shop=shop).count() == LINES_IN_FILE - 1
    assert Customer.objects.filter(shop=shop).count() == customers
    assert "新建 created" in out and "更新 updated" in out


def test_strict_imports_nothing_when_a_row_is_bad(shop):
    out, error = _import(shop, strict=True)
    assert error is not None and "nothing was imported" in str(error)
    assert Order.objects.filter(shop=shop).count() == 0
    assert f"导入文件第 {BAD_ROW} 行有误" in out


def test_strict_imports_a_clean_file(shop, tmp_path):
    clean = tmp_path / "clean.csv"
    clean.write_text(
        "".join(
            line
            for n, line in enumerate(SAMPLE.read_text(encoding="utf-8").splitlines(True), 1)
            if n != BAD_ROW
        ),
        encoding="utf-8",
    )
    out, error = _import(shop, path=clean, strict=True)
    assert error is None, out
    assert Order.objects.filter(shop=shop).count() == ORDERS_IN_FILE - 1


def test_chinese_headers_in_gbk(shop, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "订单号,子订单号,订单状态,买家ID,收货人,收货电话,商品标题,数量,单价(分)\n"
        "PDD001,PDD001-1,已发货,b1,钱多多,13900002222,陶瓷花瓶,1,5900\n",
        encoding="gbk",
    )
    out, error = _import(shop, path=path, encoding="gbk")
    assert error is None, out
    order = Order.objects.get(shop=shop, external_id="PDD001")
    assert order.status == "shipped"
    assert order.lines.get().paid_fen == 5900


def test_an_order_whose_rows_disagree_is_rejected(shop, tmp_path):
    path = tmp_path / "clash.csv"
    path.write_text(
        "order_no,line_no,status,buyer_id,title,quantity,unit_price_fen\n"
        "A1,A1-1,paid,b1,杯子,1,100\n"
        "A1,A1-2,shipped,b1,盘子,1,200\n"
        "A2,A2-1,paid,b2,碗,1,300\n",
        encoding="utf-8",
    )
    out, error = _import(shop, path=path)
    assert error is not None
    assert "导入文件第 3 行有误" in out
    assert list(Order.objects.filter(shop=shop).values_list("external_id", flat=True)) == ["A2"]


def test_missing_columns_and_unknown_shop_stop_before_importing(shop, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("order_no,title\nA1,杯子\n", encoding="utf-8")
    with pytest.raises(CommandError, match="missing required columns"):
        call_command("import_orders", str(path), shop=shop.code, stdout=StringIO())
    with pytest.raises(CommandError, match="no shop"):
        call_command("import_orders", str(SAMPLE), shop="nope", stdout=StringIO())
    assert Order.objects.count() == 0
