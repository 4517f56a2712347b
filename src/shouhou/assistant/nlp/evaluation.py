"""The figures `shouhou assistant eval` prints and bench/assistant.py reuses.

- Intent and reason/case type: stratified k-fold cross-validation of the same training
  recipe on the seed set (+ agent corrections), macro-F1, per-label precision/recall/F1
  and the confusion matrix (rows: true label, columns: predicted).
- Sentiment: the installed model on the held-out fifth of the review CSV (never trained
  on: see training.is_heldout), overall and per category, with SnowNLP's built-in
  sentiment (sentiments ≥ 0.5 → positive) on the very same reviews as the baseline.
- FAQ: shouhou.assistant.retrieval_eval.report() when that module is installed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import INTENTS, model
from .linear import LinearModel
from .text import normalize
from .training import (
    CLASSIFIER_FEATURES,
    SENTIMENT_CODES,
    Correction,
    Review,
    accuracy_and_f1,
    fit_classifier,
    intent_examples,
    reason_examples,
)


def cross_validate(
    texts: list[str],
    labels: list[str],
    classes: tuple[str, ...],
    *,
    folds: int = 5,
    sample_weight: list[float] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Stratified k-fold CV of fit_classifier: macro-F1, accuracy, per-label figures and
    the confusion matrix over all out-of-fold predictions."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    w = np.asarray(sample_weight if sample_weight is not None else [1.0] * len(labels))
    X = CLASSIFIER_FEATURES.matrix(texts)
    pred = np.empty(len(y), dtype=object)
    confidence = np.zeros(len(y))
    fold_f1 = []
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        m = fit_classifier(
            [texts[i] for i in tr],
            y[tr].tolist(),
            classes=classes,
            sample_weight=w[tr].tolist(),
            X=X[tr],
        )
        p = m.proba_matrix(X[te])
        pred[te] = [m.classes[j] for j in p.argmax(axis=1)]
        confidence[te] = p.max(axis=1)
        fold_f1.append(float(f1_score(y[te], pred[te].astype(str), average="macro")))
    pred = pred.astype(str)
    present = [c for c in classes if c in set(labels)]
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=present, zero_division=0)
    return {
        "folds": folds,
        "n": len(y),
        "macro_f1": float(f1_score(y, pred, labels=present, average="macro")),
        "macro_f1_per_fold": fold_f1,
        "accuracy": float((y == pred).mean()),
        "labels": present,
        "per_label": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "n": int(s[i])}
            for i, c in enumerate(present)
        },
        "confusion": confusion_matrix(y, pred, labels=present).tolist(),
        "calibration": calibration_error(confidence, y == pred),
        "errors": [
            {"text": texts[i], "true": str(y[i]), "predicted": str(pred[i])}
            for i in np.flatnonzero(y != pred)[:200]
        ],
    }


def calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict:
    """Expected calibration error of the top label's probability (10 equal-width bins):
    how far "score 0.8" is from "right 80 % of the time", averaged over the messages."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece, table = 0.0, []
    for b in range(bins):
        ix = which == b
        if not ix.any():
            continue
        conf, acc = float(confidence[ix].mean()), float(correct[ix].mean())
        ece += ix.mean() * abs(conf - acc)
        table.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "n": int(ix.sum()),
                "mean_score": conf,
                "accuracy": acc,
            }
        )
    return {"ece": float(ece), "bins": table}


def intent_cv(folds: int = 5, corrections: list[Correction] | None = None) -> dict[str, Any]:
    texts, labels, weights, n_corr = intent_examples(corrections or [])
    out = cross_validate(texts, labels, INTENTS, folds=folds, sample_weight=weights)
    out["n_corrections"] = n_corr
    return out


def reason_cv(folds: int = 5) -> dict[str, Any]:
    from shouhou.cases.lifecycle import CaseType, Reason

    texts, reasons, types = reason_examples()
    return {
        "reason": cross_validate(texts, reasons, tuple(r.value for r in Reason), folds=folds),
        "case_type": cross_validate(texts, types, tuple(t.value for t in CaseType), folds=folds),
    }


def anger_rates() -> dict[str, Any]:
    """Share of the seed chat messages of each intent that is_angry flags, and why."""
    from . import anger_words, is_angry

    texts, labels, _, _ = intent_examples([])
    out: dict[str, Any] = {}
    for code in INTENTS:
        mine = [t for t, lab in zip(texts, labels, strict=True) if lab == code]
        flagged = [t for t in mine if is_angry(t)]
        out[code] = {
            "n": len(mine),
            "angry_rate": len(flagged) / len(mine) if mine else 0.0,
            "by_words_rate": sum(bool(anger_words(t)) for t in mine) / len(mine) if mine else 0.0,
            "examples": flagged[:5],
        }
    return out


# --- sentiment ------------------------------------------------------------------------------
def snownlp_label(text: str) -> str:
    from snownlp import SnowNLP

    return "positive" if SnowNLP(text).sentiments >= 0.5 else "negative"


def snownlp_available() -> bool:
    try:
        import snownlp  # noqa: F401
    except ImportError:
        return False
    return True


def sentiment_heldout(
    heldout: list[Review],
    *,
    sentiment_model: LinearModel | None = None,
    baseline: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Our installed model and (baseline=True) SnowNLP on the same held-out reviews:
    accuracy and macro-F1 overall and per category, plus the time each took."""
    m = sentiment_model or model("sentiment")
    if m is None:
        raise LookupError("no sentiment model installed: run `shouhou assistant train`")
    truth = [SENTIMENT_CODES[r.label] for r in heldout]
    t0 = time.perf_counter()
    ours: list[str] = []
    for start in range(0, len(heldout), 1000):
        batch = heldout[start : start + 1000]
        ours += m.predict([normalize(r.text) for r in batch])
    ours_seconds = time.perf_counter() - t0
    snow: list[str] | None = None
    snow_seconds = None
    if baseline and snownlp_available():
        t0 = time.perf_counter()
        snow = []
        for i, r in enumerate(heldout):
            # SnowNLP reads the raw review, as its users would call it.
            snow.append(snownlp_label(r.text))
            if progress and (i + 1) % 200 == 0:
                progress(i + 1, len(heldout))
        snow_seconds = time.perf_counter() - t0
        if progress:
            progress(len(heldout), len(heldout))

    def figures(ix: list[int]) -> dict[str, Any]:
        row = {"n": len(ix), "ours": accuracy_and_f1([truth[i] for i in ix], [ours[i] for i in ix])}
        if snow is not None:
            row["snownlp"] = accuracy_and_f1([truth[i] for i in ix], [snow[i] for i in ix])
        return row

    cats = sorted({r.cat for r in heldout})
    return {
        "n_heldout": len(heldout),
        "overall": figures(list(range(len(heldout)))),
        "per_category": {
            c: figures([i for i, r in enumerate(heldout) if r.cat == c]) for c in cats
        },
        "seconds": {"ours": ours_seconds, "snownlp": snow_seconds},
        "model": {k: m.meta.get(k) for k in ("trained_at", "n_train", "C", "prune", "n_weights")},
        "baseline": "SnowNLP(text).sentiments >= 0.5 → positive" if snow is not None else "skipped",
    }


def faq_report() -> dict[str, Any] | None:
    try:
        from shouhou.assistant import retrieval_eval
    except ImportError:
        return None
    report = getattr(retrieval_eval, "report", None)
    return report() if report else None
