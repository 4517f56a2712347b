"""How well FAQ retrieval answers, measured honestly, and the fit of its confidence model.

The paraphrase set (data/faq_paraphrases.csv, columns `query,key`; an empty key means no
FAQ entry answers it and the assistant must hand over) is split in two halves, stratified by
key, by a stable hash of the query: the *tuning* half chooses the index settings, fits the
logistic confidence model and its threshold; the *held-out* half is only ever used to report.
Everything runs on an in-memory index of the default FAQ (data/default_faq.json): no
database is needed.

Entry points (used by `shouhou assistant train|eval`):

    report(calibration: Calibration | None = None) -> dict
        Figures on the held-out half with the calibration in use (or the one given):
        n_entries, n_queries, n_out_of_scope, top1_accuracy, top3_accuracy (in-scope queries,
        ignoring the threshold), threshold, answered_rate, answered_precision,
        out_of_scope_answered_rate, tradeoff (list of {threshold, answered_rate,
        answered_precision, out_of_scope_answered_rate}), plus `split` ("held-out half") and
        the tuning half's own figures under `tuning`.

    refit(write_to: str | Path | None = None, *, extra: Iterable[tuple[str, str]] = (),
          search: bool = False, settings: Settings | None = None) -> dict
        Fit the confidence model and its threshold on the tuning half plus `extra`
        (query, key) pairs — e.g. agents' FAQ corrections mapped to default-FAQ keys with
        `key_for_question`; "" or an unknown key = no entry answers it; pairs repeating a
        held-out query are dropped. The index settings are those in use (or `settings`);
        with search=True they are re-chosen by a small grid (SEARCH_GRID, about a minute).
        Writes the calibration JSON to `write_to` when given (the train command writes to
        SHOUHOU_DATA_DIR/assistant-models/faq_calibration.json, which retrieval then
        prefers), and returns {"calibration": <the JSON dict>, "report": report(...)}.

    key_for_question(question: str) -> str | None
        The default-FAQ key whose question is `question` (ignoring punctuation, 繁/简).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .retrieval import (
    DEFAULT_FEATURES,
    Calibration,
    Doc,
    FaqIndex,
    Settings,
    _question_key,
    calibration,
    default_faq,
)

PARAPHRASES_FILE = "faq_paraphrases.csv"
# A wrong answer costs more than a hand-over: the buyer is misled and an agent has to undo
# it. The threshold maximises (right answers - WRONG_COST * wrong answers) on the tuning half.
WRONG_COST = 3.0
TRADEOFF_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Query:
    text: str
    key: str  # "" = out of scope


def paraphrases() -> list[Query]:
    path = resources.files("shouhou.assistant") / "data" / PARAPHRASES_FILE
    rows = csv.DictReader(path.read_text("utf-8").splitlines())
    return [Query(r["query"], (r["key"] or "").strip()) for r in rows]


def split(queries: list[Query]) -> tuple[list[Query], list[Query]]:
    """(tuning, held_out): within each key (and among out-of-scope queries) the queries are
    ordered by a stable hash and dealt alternately, so both halves cover every entry."""
    tune: list[Query] = []
    held: list[Query] = []
    by_key: dict[str, list[Query]] = {}
    for q in queries:
        by_key.setdefault(q.key, []).append(q)
    for key in sorted(by_key):
        group = sorted(by_key[key], key=lambda q: hashlib.sha256(q.text.encode()).hexdigest())
        for n, q in enumerate(group):
            (tune if n % 2 == 0 else held).append(q)
    return tune, held


def default_index(settings: Settings | None = None) -> FaqIndex:
    docs = [
        Doc(item["key"], item["question"], tuple(item["phrasings"]), item["answer"])
        for item in default_faq()
    ]
    return FaqIndex(docs, settings or calibration().settings)


def key_for_question(question: str) -> str | None:
    wanted = _question_key(question)
    for item in default_faq():
        if _question_key(item["question"]) == wanted:
            return item["key"]
    return None


# --- measuring -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    query: Query
    ranked: tuple[str, ...]  # keys, best first (up to 3)
    features: dict[str, float] | None  # of the top hit; None when nothing matched

    @property
    def top_right(self) -> bool:
        return bool(self.query.key) and bool(self.ranked) and self.ranked[0] == self.query.key


def run(index: FaqIndex, queries: Iterable[Query]) -> list[Outcome]:
    out = []
    for q in queries:
        hits = index.search(q.text, k=3)
        out.append(
            Outcome(
                q,
                tuple(index.docs[h.position].ref for h in hits),
                hits[0].features if hits else None,
            )
        )
    return out


def _probabilities(cal: Calibration, outcomes: list[Outcome]) -> list[float]:
    return [0.0 if o.features is None else cal.probability(o.features) for o in outcomes]


def figures(outcomes: list[Outcome], probs: list[float], threshold: float) -> dict[str, Any]:
    inscope = [(o, p) for o, p in zip(outcomes, probs, strict=True) if o.query.key]
    oos = [(o, p) for o, p in zip(outcomes, probs, strict=True) if not o.query.key]
    answered = [(o, p) for o, p in zip(outcomes, probs, strict=True) if p >= threshold]
    right = sum(1 for o, _ in answered if o.top_right)
    return {
        "threshold": round(threshold, 4),
        "answered_rate": _ratio(sum(1 for o, p in inscope if p >= threshold), len(inscope)),
        "answered_precision": _ratio(right, len(answered)),
        "out_of_scope_answered_rate": _ratio(sum(1 for o, p in oos if p >= threshold), len(oos)),
    }


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def summary(outcomes: list[Outcome], cal: Calibration) -> dict[str, Any]:
    probs = _probabilities(cal, outcomes)
    inscope = [o for o in outcomes if o.query.key]
    return {
        "n_queries": len(outcomes),
        "n_out_of_scope": len(outcomes) - len(inscope),
        "top1_accuracy": _ratio(sum(o.top_right for o in inscope), len(inscope)),
        "top3_accuracy": _ratio(sum(o.query.key in o.ranked for o in inscope), len(inscope)),
        **figures(outcomes, probs, cal.threshold),
        "tradeoff": [figures(outcomes, probs, t) for t in TRADEOFF_THRESHOLDS],
    }


def report(cal: Calibration | None = None) -> dict[str, Any]:
    """Held-out figures of the calibration in use (see the module docstring for the keys)."""
    cal = cal or calibration()
    index = default_index(cal.settings)
    tune, held = split(paraphrases())
    result = {"n_entries": len(index), "split": "held-out half", **summary(run(index, held), cal)}
    result["tuning"] = {k: v for k, v in summary(run(index, tune), cal).items() if k != "tradeoff"}
    result["errors"] = [
        {"query": o.query.text, "want": o.query.key, "got": list(o.ranked[:1])}
        for o in run(index, held)
        if o.query.key and not o.top_right
    ]
    return result


# --- fitting -------------------------------------------------------------------------------
def fit_model(
    outcomes: list[Outcome], settings: Settings, features: tuple[str, ...] = DEFAULT_FEATURES
) -> Calibration:
    """Logistic regression: P(the top hit answers the query) from the top hit's features;
    out-of-scope queries and wrong top hits are the negatives."""
    from sklearn.linear_model import LogisticRegression

    rows = [o for o in outcomes if o.features is not None]
    x = np.asarray([[o.features[f] for f in features] for o in rows], dtype=np.float64)
    y = np.asarray([1 if o.top_right else 0 for o in rows])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit((x - mean) / scale, y)
    cal = Calibration(
        settings=settings,
        features=tuple(features),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        threshold=0.5,
    )
    return replace(cal, threshold=choose_threshold(outcomes, cal))


def choose_threshold(outcomes: list[Outcome], cal: Calibration) -> float:
    probs = _probabilities(cal, outcomes)
    best_t, best_u = 0.5, -1e9
    for t in np.arange(0.05, 0.96, 0.01):
        answered = [o for o, p in zip(outcomes, probs, strict=True) if p >= t]
        right = sum(o.top_right for o in answered)
        utility = right - WRONG_COST * (len(answered) - right)
        if utility > best_u + 1e-9:
            best_t, best_u = float(t), utility
    return round(best_t, 2)


# A small neighbourhood of the shipped settings (the wide search that chose them is in the
# commit history); 24 index builds, well under a minute.
SEARCH_GRID: dict[str, tuple] = {
    "char_weight": (0.7, 1.0, 1.5),
    "bag_weight": (0.5, 1.0),
    "answer_weight": (0.8, 1.2),
    "k1": (1.2, 2.0),
}
PHRASING_FOLDS = 4


def phrasing_cv(settings: Settings, folds: int = PHRASING_FOLDS) -> float:
    """Top-1 accuracy of the FAQ's own phrasings against an index built without them
    (k folds). A second, larger judge for settings: the tuning half alone has two or three
    queries per entry, and settings that suit only them would not suit real buyers."""
    faq = default_faq()
    right = total = 0
    for fold in range(folds):
        docs, queries = [], []
        for item in faq:
            kept = tuple(p for i, p in enumerate(item["phrasings"]) if i % folds != fold)
            queries += [
                Query(p, item["key"]) for i, p in enumerate(item["phrasings"]) if i % folds == fold
            ]
            docs.append(Doc(item["key"], item["question"], kept, item["answer"]))
        outcomes = run(FaqIndex(docs, settings), queries)
        right += sum(o.top_right for o in outcomes)
        total += len(outcomes)
    return right / total if total else 0.0


def search_settings(queries: list[Query], base: Settings | None = None) -> Settings:
    """Pick index settings from SEARCH_GRID by top-1 accuracy on `queries` plus the
    phrasing cross-validation (equal weights)."""
    base = base or Settings()
    best: float | None = None
    chosen = base
    keys = list(SEARCH_GRID)
    for values in itertools.product(*(SEARCH_GRID[k] for k in keys)):
        settings = replace(base, **dict(zip(keys, values, strict=True)))
        inscope = [o for o in run(default_index(settings), queries) if o.query.key]
        top1 = sum(o.top_right for o in inscope) / len(inscope) if inscope else 0.0
        score = top1 + phrasing_cv(settings)
        if best is None or score > best + 1e-9:
            best, chosen = score, settings
    return chosen


def refit(
    write_to: str | Path | None = None,
    *,
    extra: Iterable[tuple[str, str]] = (),
    search: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Fit the calibration on the tuning half (+ extra pairs); see the module docstring."""
    tune, held = split(paraphrases())
    keys = {item["key"] for item in default_faq()}
    # An extra pair that repeats a held-out query would make the report flatter itself.
    reserved = {_question_key(q.text) for q in held}
    extra = [
        Query(q, k if k in keys else "")
        for q, k in extra
        if q and q.strip() and _question_key(q) not in reserved
    ]
    tune = tune + extra
    if search:
        settings = search_settings(tune, settings)
    elif settings is None:
        settings = calibration().settings
    cal = fit_model(run(default_index(settings), tune), settings)
    result = report(cal)
    cal = replace(
        cal,
        meta={
            "fitted_on": f"tuning half of {PARAPHRASES_FILE} (+{len(extra)} extra)",
            "held_out": {
                k: result[k]
                for k in (
                    "threshold",
                    "top1_accuracy",
                    "top3_accuracy",
                    "answered_rate",
                    "answered_precision",
                    "out_of_scope_answered_rate",
                )
            },
        },
    )
    data = cal.to_dict()
    if write_to is not None:
        path = Path(write_to)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return {"calibration": data, "report": result}


__all__ = [
    "Query",
    "key_for_question",
    "paraphrases",
    "refit",
    "report",
    "split",
]
