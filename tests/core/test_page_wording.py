"""The words pages use for cases: labels in both languages and deadlines in plain words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import translation

from shouhou.cases import lifecycle as lc
from shouhou.cases import wording

NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "kind,table",
    [
        ("status", lc.Status),
        ("type", lc.CaseType),
        ("reason", lc.Reason),
        ("action", lc.Action),
        ("role", lc.ActorRole),
        ("proposal", lc.ProposalKind),
    ],
)
def test_every_code_has_a_chinese_and_an_english_label(kind, table):
    for code in table:
        zh = wording.label(kind, code, "zh-hans")
        en = wording.label(kind, code, "en")
        assert zh and en and zh != code and en != code, (kind, code)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), (kind, code, zh)
        assert en.isascii(), (kind, code, en)


def test_a_timeline_only_action_has_labels_too():
    assert wording.label("action", "note", "zh-hans") == "内部备注"
    assert wording.label("action", "note", "en") == "Internal note"
    assert wording.label("action", "something_new", "en") == "something_new"


@pytest.mark.parametrize(
    "delta,zh,en",
    [
        (timedelta(days=2, hours=3, minutes=20), "2天3小时", "2 d 3 h"),
        (timedelta(hours=5, minutes=7), "5小时7分钟", "5 h 7 min"),
        (timedelta(minutes=12, seconds=30), "12分钟", "12 min"),
        (timedelta(seconds=10), "1分钟", "1 min"),
        (timedelta(seconds=-50), "1分钟", "1 min"),
    ],
)
def test_durations_in_words(delta, zh, en):
    assert wording.duration_words(delta, "zh-hans") == zh
    assert wording.duration_words(delta, "en") == en


def test_the_buyer_reads_who_acts_next_by_when_and_what_happens_if_not():
    text = wording.next_step(
        "awaiting_merchant",
        NOW + timedelta(days=2, hours=3),
        "超时将自动同意",
        NOW,
        buyer=True,
        lang="zh-hans",
    )
    assert text == "商家将在 2天3小时 内处理，超时将自动同意"
    en = wording.next_step(
        "awaiting_merchant",
        NOW + timedelta(days=2, hours=3),
        "超时将自动同意",
        NOW,
        buyer=True,
        lang="en",
    )
    assert en == "The shop will respond within 2 d 3 h; if not, the request is agreed automatically"


def test_staff_read_their_own_side_and_overdue_cases_say_so():
    staff = wording.next_step(
        "awaiting_merchant",
        NOW + timedelta(hours=5),
        "超时将自动同意",
        NOW,
        buyer=False,
        lang="zh-hans",
    )
    assert staff.startswith("请在 5小时0分钟 内处理")
    late = wording.next_step(
        "awaiting_merchant",
        NOW - timedelta(hours=2),
        "超时将自动同意",
        NOW,
        buyer=False,
        lang="zh-hans",
    )
    assert late == "已超时 2小时0分钟"


def test_finished_and_undated_cases():
    assert wording.next_step("completed", None, "", NOW, buyer=True, lang="zh-hans") == "售后已完成"
    assert wording.next_step("closed", None, "", NOW, buyer=True, lang="en") == "Closed"
    assert wording.next_step("awaiting_merchant", None, "", NOW, buyer=True, lang="zh-hans") == ""


def test_every_dated_status_has_buyer_and_staff_wording():
    for status in lc.DEADLINES:
        if status not in lc.Status.__members__.values():
            continue
        for buyer in (True, False):
            text = wording.next_step(
                status, NOW + timedelta(hours=30), "", NOW, buyer=buyer, lang="zh-hans"
            )
            assert "1天6小时" in text, (status, buyer, text)


def test_template_tags_render_money_labels_and_a_live_countdown(db):
    from shouhou.core import clock

    deadline = clock.now() + timedelta(hours=3)
    html = Template(
        '{% load shouhou %}{{ 12990|fen }}|{{ "refunding"|case_label:"status" }}|{% tr "队列" "Queue" %}|{% countdown d %}'
    ).render(Context({"d": deadline}))
    money, status, word, span = html.split("|", 3)
    assert (money, status, word) == ("¥129.90", "退款中", "队列")
    assert 'class="countdown near"' in span and deadline.isoformat() in span
    with translation.override("en"):
        html = Template(
            '{% load shouhou %}{{ "refunding"|case_label:"status" }}|{% tr "队列" "Queue" %}'
        ).render(Context({}))
    assert html == "Refunding|Queue"


def test_money_filter_handles_big_negative_and_missing_amounts():
    t = Template("{% load shouhou %}{{ a|fen }} {{ b|fen }} {{ c|fen }}")
    assert t.render(Context({"a": 123456789, "b": -5, "c": None})) == "¥1,234,567.89 -¥0.05 —"


def test_every_timeout_outcome_has_english_words():
    for rule in lc.DEADLINES.values():
        en = wording.outcome(rule.label, "en")
        assert en.isascii() and en.startswith("if not"), (rule.label, en)
        assert wording.outcome(rule.label, "zh-hans") == rule.label
