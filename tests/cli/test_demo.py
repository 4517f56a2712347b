"""`shouhou demo`: the demo shop is built through the real services, whole and repeatable."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from shouhou import demo
from shouhou.cases import lifecycle as lc
from shouhou.cases.models import Case, TimelineEvent
from shouhou.core.models import ApiKey, Role, Shop, StaffMember
from shouhou.orders.models import Order, OrderStatus
from shouhou.rules.models import AutomationRule


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_demo_builds_every_status_and_type_and_a_second_run_does_nothing(db, data_dir):
    out = StringIO()
    call_command("demo", stdout=out)

    main = Shop.objects.get(code=demo.MAIN_CODE)
    second = Shop.objects.get(code=demo.SECOND_CODE)
    assert main.name == "悦享生活旗舰店" and main.mode == "own_platform"
    assert Order.objects.count() >= 500
    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert set(statuses) >= {
        OrderStatus.PAID,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
    }
    cases = Case.objects.all()
    assert set(cases.values_list("status", flat=True)) == set(lc.Status)
    assert set(cases.values_list("type", flat=True)) == set(lc.CaseType)
    # The main shop alone shows every status but 待审核 (only the review shop has that).
    main_statuses = set(cases.filter(shop=main).values_list("status", flat=True))
    assert main_statuses == set(lc.Status) - {lc.Status.SUBMITTED}
    assert cases.filter(shop=second, status="submitted").exists()

    # Made by the services: every case's status is where its timeline says it went.
    for case in cases.prefetch_related("timeline"):
        moves = [
            e for e in case.timeline.all() if e.action == "open" or e.from_status != e.to_status
        ]
        assert moves and moves[-1].to_status == case.status, case.number
    # … and the sweep acted on some as the system, on timeout.
    assert cases.filter(auto_agreed_by_timeout=True).exists()
    assert TimelineEvent.objects.filter(by_deadline=True, action="close_overdue").exists()
    assert Case.objects.filter(awaiting_finance=True, status="awaiting_merchant").exists()
    assert Case.objects.filter(rating__isnull=False).exists()

    # People, settings and keys.
    roles = set(StaffMember.objects.filter(shop=main).values_list("role", flat=True))
    assert roles == set(Role.values)
    assert get_user_model().objects.get(username="admin").is_superuser
    assert get_user_model().objects.get(username="agent").check_password("shouhou-agent")
    assert main.return_addresses.filter(is_default=True).exists()
    vip = AutomationRule.objects.get(shop=main, template="vip_priority")
    assert vip.enabled
    assert not AutomationRule.objects.get(shop=main, template="fast_refund").enabled
    credentials = (data_dir / demo.CREDENTIALS_FILE).read_text(encoding="utf-8")
    secret = next(word for word in credentials.split() if word.startswith("sh_"))
    key = ApiKey.objects.get(shop=main)
    assert ApiKey.hash_secret(secret) == key.key_hash
    assert secret in out.getvalue()
    assert "shouhou-warehouse" in credentials
    assert (data_dir / demo.CREDENTIALS_FILE).stat().st_mode & 0o077 == 0

    counts = (Order.objects.count(), Case.objects.count(), TimelineEvent.objects.count())
    again = StringIO()
    call_command("demo", stdout=again)
    assert "already exists" in again.getvalue()
    assert (Order.objects.count(), Case.objects.count(), TimelineEvent.objects.count()) == counts


def test_demo_is_deterministic_and_reset_rebuilds_it(db, data_dir):
    def snapshot():
        return (
            sorted(Order.objects.values_list("status", "total_paid_fen")),
            sorted(Case.objects.values_list("type", "status", "reason", "refund_fen")),
        )

    first = demo.build_demo(orders=80)
    assert not first.failures and not first.mismatches, first.failures + first.mismatches
    assert set(first.by_status) == set(lc.Status), "every status even on a small build"
    taken = snapshot()

    second = demo.build_demo(orders=80, reset=True)
    assert not second.skipped
    assert snapshot() == taken
    assert Shop.objects.filter(code__in=[demo.MAIN_CODE, demo.SECOND_CODE]).count() == 2
    assert ApiKey.objects.count() == 1


def test_if_empty_leaves_a_database_with_shops_alone(db, data_dir):
    Shop.objects.create(code="real", name="真实店铺", platform="own")
    result = demo.build_demo(orders=80, if_empty=True)
    assert result.skipped
    assert not Shop.objects.filter(code=demo.MAIN_CODE).exists()
