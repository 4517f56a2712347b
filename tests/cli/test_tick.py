"""`shouhou tick` moves the shared clock, and the real sweep applies what fell due."""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shouhou.cases import services
from shouhou.cases.models import Case
from shouhou.core import clock
from tests.factories import buyer, make_order

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _open_refund(shop):
    order = make_order(shop)
    line = order.lines.get()
    return services.open_case(
        shop,
        buyer(order),
        order=order,
        type="refund_only",
        reason="quality",
        lines=[services.LineRequest(line.id, 1)],
    )


def test_tick_auto_agrees_a_case_once_its_72_hour_deadline_passes(shop):
    case = _open_refund(shop)
    assert case.status == "awaiting_merchant" and case.deadline_action == "agree"

    early = StringIO()
    call_command("tick", hours=71, stdout=early)
    case.refresh_from_db()
    assert case.status == "awaiting_merchant", "not due yet: nothing happens"
    assert "nothing was due" in early.getvalue()

    out = StringIO()
    call_command("tick", hours=2, stdout=out)
    case.refresh_from_db()
    assert case.status == "refunding"
    assert case.auto_agreed_by_timeout
    agree = case.timeline.get(action="agree")
    assert agree.by_deadline and agree.actor_role == "system"
    assert agree.from_status == "awaiting_merchant" and agree.to_status == "refunding"
    printed = out.getvalue()
    assert case.number in printed
    assert "applied: 1" in printed
    assert "待商家处理 awaiting_merchant → 退款中 refunding" in printed


def test_tick_to_reads_the_time_in_shanghai(shop):
    call_command("tick", to="2030-01-01 08:00", stdout=StringIO())
    now = clock.now()
    target = datetime(2030, 1, 1, 8, 0, tzinfo=SHANGHAI)
    assert abs((now - target).total_seconds()) < 5
    assert now.astimezone(ZoneInfo("UTC")).hour == 0  # 08:00 in Shanghai is midnight UTC


def test_tick_never_moves_the_clock_backwards(shop):
    call_command("tick", to="2030-01-01 08:00", stdout=StringIO())
    with pytest.raises(CommandError, match="forward"):
        call_command("tick", to="2029-12-31 08:00", stdout=StringIO())
    with pytest.raises(CommandError, match="forward"):
        call_command("tick", hours=-1, stdout=StringIO())


def test_tick_no_sweep_only_moves_the_clock(shop):
    case = _open_refund(shop)
    out = StringIO()
    call_command("tick", hours=80, no_sweep=True, stdout=out)
    case.refresh_from_db()
    assert case.status == "awaiting_merchant"
    assert "1 个售后单已到期" in out.getvalue()
    assert Case.objects.filter(deadline_at__lte=clock.now()).count() == 1


def test_tick_without_arguments_shows_the_next_deadlines(shop):
    case = _open_refund(shop)
    out = StringIO()
    call_command("tick", stdout=out)
    assert case.number in out.getvalue()
    assert "同意 agree" in out.getvalue()
