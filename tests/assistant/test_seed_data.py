"""The labelled seed data the assistant's classifiers learn from (src/shouhou/assistant/data).

These read the shipped CSV files as they are: a wrong label, a dropped intent, a duplicate
or a templated batch of messages fails here before it skews a model.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import zhconv

from shouhou.cases.lifecycle import DEFAULT_REASON_TYPES, CaseType, Reason

DATA = Path(__file__).resolve().parents[2] / "src" / "shouhou" / "assistant" / "data"
INTENTS_CSV = DATA / "intents.csv"
REASONS_CSV = DATA / "reasons.csv"

# PRODUCT.md §3: the nine intents, in the contract's order.
INTENT_CODES = (
    "greeting",
    "product_inquiry",
    "promotion_price",
    "shipping_time",
    "logistics_tracking",
    "order_change",
    "return_refund",
    "quality_complaint",
    "other",
)
MIN_PER_INTENT = 80  # issue 4's minimum
MIN_PER_REASON = 40
MAX_CHARS = 300

_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPACE = re.compile(r"\s+")


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), f"{path.name} starts with a BOM"
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


@pytest.fixture(scope="module")
def intents() -> list[dict[str, str]]:
    header, rows = _read(INTENTS_CSV)
    assert header == ["text", "intent"]
    return rows


@pytest.fixture(scope="module")
def reasons() -> list[dict[str, str]]:
    header, rows = _read(REASONS_CSV)
    assert header == ["text", "reason", "case_type"]
    return rows


def _key(text: str) -> str:
    """What a model sees as the same message: NFKC, 繁→简, lower case, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = zhconv.convert(text, "zh-cn")
    return _SPACE.sub(" ", text).strip().lower()


def _by(rows: list[dict[str, str]], column: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        out[row[column]].append(row["text"])
    return out


def _is_traditional(text: str) -> bool:
    return zhconv.convert(text, "zh-cn") != text


def _is_english(text: str) -> bool:
    return not _CJK.search(text) and re.search(r"[A-Za-z]{2,}", text) is not None


def _has_emoji(text: str) -> bool:
    return any(unicodedata.category(ch) == "So" for ch in text)


# --- both files ----------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["intents", "reasons"])
def test_rows_are_complete_single_line_and_sanely_long(which, request):
    rows = request.getfixturevalue(which)
    for row in rows:
        assert None not in row, f"extra column in {row}"
        assert all(v is not None for v in row.values()), f"missing column in {row}"
        text = row["text"]
        assert text == text.strip(), f"leading/trailing space: {text!r}"
        assert 1 <= len(text) <= MAX_CHARS, f"length {len(text)}: {text[:40]!r}"
        assert "\n" not in text and "\r" not in text, f"line break in {text[:40]!r}"


@pytest.mark.parametrize("which", ["intents", "reasons"])
def test_no_duplicate_messages_after_normalisation(which, request):
    rows = request.getfixturevalue(which)
    counts = Counter(_key(r["text"]) for r in rows)
    dupes = sorted(k for k, n in counts.items() if n > 1)
    assert not dupes, f"{len(dupes)} duplicates, e.g. {dupes[:5]}"


# --- intents -------------------------------------------------------------------------------
def test_every_intent_label_is_one_of_the_nine(intents):
    assert {r["intent"] for r in intents} == set(INTENT_CODES)


def test_intent_codes_match_the_classifier_contract():
    from shouhou.assistant import nlp

    assert tuple(nlp.INTENTS) == INTENT_CODES


def test_enough_messages_per_intent(intents):
    counts = Counter(r["intent"] for r in intents)
    short = {k: counts[k] for k in INTENT_CODES if counts[k] < MIN_PER_INTENT}
    assert not short, f"intents under {MIN_PER_INTENT}: {short}"


def test_intents_are_not_wildly_unbalanced(intents):
    # A class five times bigger than another would teach the model a prior, not language.
    counts = Counter(r["intent"] for r in intents)
    assert max(counts.values()) <= 3 * min(counts.values()), counts


def test_each_intent_has_numbers_latin_letters_and_order_ids(intents):
    # Buyers paste order numbers, sizes (XL, 42), models (iPhone 15) and pinyin (tui款).
    for intent, texts in _by(intents, "intent").items():
        n = sum(re.search(r"[0-9A-Za-z]", t) is not None for t in texts)
        assert n >= 10, f"{intent}: only {n} messages with a digit or Latin letter"
    with_order_id = [r for r in intents if re.search(r"3921[0-9x]{6,}", r["text"])]
    assert len({r["intent"] for r in with_order_id}) >= 4


def test_each_intent_has_traditional_chinese_and_english(intents):
    for intent, texts in _by(intents, "intent").items():
        trad = sum(_is_traditional(t) for t in texts)
        english = sum(_is_english(t) for t in texts)
        assert trad >= 5, f"{intent}: {trad} messages in 繁體"
        assert english >= 5, f"{intent}: {english} messages in English"


def test_each_intent_has_short_and_long_messages(intents):
    for intent, texts in _by(intents, "intent").items():
        short = sum(len(t) <= 6 for t in texts)
        long_ = sum(len(t) > 20 for t in texts)
        assert short >= 20, f"{intent}: {short} short messages"
        assert long_ >= 10, f"{intent}: {long_} messages over 20 characters"


def test_emoji_appear_across_intents(intents):
    by_intent = _by(intents, "intent")
    with_emoji = {k: sum(_has_emoji(t) for t in v) for k, v in by_intent.items()}
    assert sum(n >= 5 for n in with_emoji.values()) >= 6, with_emoji


def test_no_template_phrase_carries_an_intent(intents):
    # No four characters in a row may sit in more than a fifth of one intent's messages:
    # a seed set written from a template teaches the template, not the buyers.
    for intent, texts in _by(intents, "intent").items():
        keys = [_key(t) for t in texts]
        grams = Counter(g for k in keys for g in {k[i : i + 4] for i in range(len(k) - 3)})
        gram, n = grams.most_common(1)[0]
        assert n <= 0.2 * len(texts), f"{intent}: {gram!r} in {n} of {len(texts)} messages"
        lead, m = Counter(k[:2] for k in keys).most_common(1)[0]
        assert m <= 0.25 * len(texts), f"{intent}: {m} messages start with {lead!r}"


@pytest.mark.parametrize(
    "text,intent",
    [
        # The boundaries README.md writes down, checked on the messages that pin them.
        ("咋还不发货", "shipping_time"),
        ("物流三天没更新了", "logistics_tracking"),
        ("拍错了能改地址吗", "order_change"),
        ("退kuan", "return_refund"),
        ("质量太差了吧", "quality_complaint"),
        ("能开发票吗", "other"),
        ("转人工", "other"),
        ("我刚买完就降价了 能退差价吗", "promotion_price"),
        ("收到杯子碎了 能补发一个吗", "return_refund"),
        ("再不处理我就投诉到12315", "quality_complaint"),
    ],
)
def test_boundary_examples_are_labelled_as_the_guidelines_say(intents, text, intent):
    labels = {r["text"]: r["intent"] for r in intents}
    assert labels.get(text) == intent


# --- reasons -------------------------------------------------------------------------------
def test_every_reason_and_case_type_is_a_lifecycle_code(reasons):
    reason_codes = {r.value for r in Reason}
    type_codes = {t.value for t in CaseType}
    for row in reasons:
        assert row["reason"] in reason_codes, row
        assert row["case_type"] in type_codes, row


def test_every_case_type_is_allowed_for_its_reason(reasons):
    bad = [
        row
        for row in reasons
        if CaseType(row["case_type"]) not in DEFAULT_REASON_TYPES[Reason(row["reason"])]
    ]
    assert not bad, f"{len(bad)} rows with a type the default policy forbids, e.g. {bad[:3]}"


def test_enough_descriptions_per_reason(reasons):
    counts = Counter(r["reason"] for r in reasons)
    short = {r.value: counts[r.value] for r in Reason if counts[r.value] < MIN_PER_REASON}
    assert not short, f"reasons under {MIN_PER_REASON}: {short}"


def test_reasons_with_a_choice_of_types_use_more_than_one(reasons):
    # Triage suggests a type too: a reason whose policy allows several types must show the
    # model more than one of them, or it would learn a constant.
    used: dict[str, set[str]] = defaultdict(set)
    for row in reasons:
        used[row["reason"]].add(row["case_type"])
    for reason, allowed in DEFAULT_REASON_TYPES.items():
        if len(allowed) > 1:
            assert len(used[reason.value]) >= 2, f"{reason.value} uses only {used[reason.value]}"


def test_reason_descriptions_vary_in_script_and_length(reasons):
    by_reason = _by(reasons, "reason")
    for reason, texts in by_reason.items():
        assert sum(_is_traditional(t) or _is_english(t) for t in texts) >= 1, reason
        assert sum(len(t) > 15 for t in texts) >= 5, f"{reason}: few full descriptions"
