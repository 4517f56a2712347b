"""The default after-sales FAQ and the paraphrase set that ship with the package: enough
entries, every category, clean keys, answers a shop can publish as they are, and a paraphrase
set that is not a copy of the FAQ it is meant to test."""

from __future__ import annotations

import re
from collections import Counter

from shouhou.assistant import retrieval, retrieval_eval
from shouhou.assistant.models import FaqCategory
from shouhou.assistant.nlp.text import normalize


def _same(text: str) -> str:
    return "".join(ch for ch in normalize(text) if ch.isalnum())


def test_the_default_faq_has_enough_clean_entries():
    faq = retrieval.default_faq()
    assert len(faq) >= 45
    keys = [e["key"] for e in faq]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]{2,40}", k) for k in keys)
    questions = [_same(e["question"]) for e in faq]
    assert len(set(questions)) == len(questions)
    for entry in faq:
        assert set(entry) == {"key", "category", "question", "answer", "phrasings"}
        assert entry["category"] in FaqCategory.values
        assert 3 <= len(entry["phrasings"]) <= 6, entry["key"]
        assert len(entry["question"]) <= 200 and len(entry["answer"]) <= 4000
        # 1–4 sentences, in the shop's voice, and no made-up phone numbers or links.
        sentences = [s for s in re.split(r"[。！？!?]", entry["answer"]) if s.strip()]
        assert 1 <= len(sentences) <= 4, entry["key"]
        assert not re.search(r"\d{7,}|https?://|www\.", entry["answer"]), entry["key"]
        # Phrasings are other ways to ask, not the question again.
        assert _same(entry["question"]) not in {_same(p) for p in entry["phrasings"]}


def test_the_default_faq_covers_every_category():
    used = {e["category"] for e in retrieval.default_faq()}
    assert {c for c in FaqCategory.values if c != FaqCategory.OTHER} <= used
    per = Counter(e["category"] for e in retrieval.default_faq())
    assert all(per[c] >= 4 for c in FaqCategory.values if c != FaqCategory.OTHER)


def test_the_paraphrase_set_covers_every_entry_and_copies_none():
    faq = retrieval.default_faq()
    queries = retrieval_eval.paraphrases()
    keys = {e["key"] for e in faq}
    per_key = Counter(q.key for q in queries)
    assert set(per_key) - {""} <= keys
    assert all(per_key[k] >= 3 for k in keys)
    assert per_key[""] >= 60
    written = {_same(e["question"]) for e in faq} | {_same(p) for e in faq for p in e["phrasings"]}
    copies = [q.text for q in queries if _same(q.text) in written]
    assert copies == []
    texts = [normalize(q.text) for q in queries]
    assert len(set(texts)) == len(texts)


def test_the_split_is_stable_stratified_and_disjoint():
    queries = retrieval_eval.paraphrases()
    tune, held = retrieval_eval.split(queries)
    assert retrieval_eval.split(queries) == (tune, held)
    assert not {q.text for q in tune} & {q.text for q in held}
    assert len(tune) + len(held) == len(queries)
    # Every entry is asked about in both halves (each has at least 3 paraphrases).
    assert {q.key for q in tune} == {q.key for q in held}
