"""Training the assistant's models from the data that ships with the package (intents,
reasons), the shopping-review CSV (sentiment) and the agents' corrections.

Sentiment: logistic regression over NB-scaled features (Wang & Manning's NB-SVM idea: each
bucket scaled by its log-count ratio between positive and negative reviews, then a linear
model; the ratio is folded into the stored weights, so serving is one dot product). It is
trained on the 80 % of the review file whose text does not hash into the held-out fifth:
the held-out fifth is fixed by the text itself (CRC-32 of the review mod 5 == 0), so every
run, every machine and every retrain measure the same unseen reviews.

Intent, reason and case type: a linear SVM on the same features, its scores turned into
probabilities by a softmax with a temperature fitted on out-of-fold scores.
Agent corrections count more than a seed message (CORRECTION_WEIGHT): an agent said
this exact message means that, and the model should learn it.

Pure Python + numpy/scipy/scikit-learn; the database is read only by `db_corrections`,
and only when Django is configured.
"""

from __future__ import annotations

import csv
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .linear import Featurizer, LinearModel, from_sklearn
from .text import normalize

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # src/shouhou/assistant
DATA_DIR = PACKAGE_DIR / "data"
PACKAGED_MODELS = PACKAGE_DIR / "models"
INTENTS_CSV = DATA_DIR / "intents.csv"
REASONS_CSV = DATA_DIR / "reasons.csv"
REVIEWS_ENV = "SHOUHOU_REVIEWS_CSV"
REVIEWS_RELATIVE = Path("shared") / "data" / "reviews" / "online_shopping_reviews.csv"

# Sentiment reads character 1–3-grams only. With jieba words and word bigrams as well it
# scored 0.9389 on the held-out fifth (10,096 reviews) against 0.9373 without — 16
# reviews, inside the noise (±0.24 points) — but cost 0.52 ms per review at the median and
# 1.8 ms at p95, against 0.20 and 0.59 ms: jieba is most of the time, and long reviews
# are where it shows. Under 1 ms for nearly every message is worth more than 0.16 points.
SENTIMENT_FEATURES = Featurizer(n_bits=21, use_words=False, word_bigrams=False)
CLASSIFIER_FEATURES = Featurizer(n_bits=20)
SENTIMENT_C = 10.0
# 5-fold CV macro-F1 on the seed sets (4,143 intents / 735 reasons): C=1 0.901 / 0.876,
# C=2 0.904 / 0.880, C=4 0.907 / 0.883, C=8 0.908 (intent). Multinomial logistic
# regression reached 0.885 (C=30, and slower); char 1–4-grams, digit folding and
# start/end grams changed nothing; adding a kNN vote did not help either.
CLASSIFIER_C = 4.0
# Weights with |w| at or below these are dropped from the stored model; the held-out
# accuracy is measured on the pruned model (see the model's JSON). Sentiment with words,
# C=10, on the held-out fifth: all 1,148,318 weights 0.9387; |w| > 0.01: 579,953, 0.9389; > 0.02:
# 445,871, 0.9389; > 0.05: 274,600, 0.9387; > 0.1: 170,707, 0.9383 (C=5: 0.9382, C=20:
# 0.9378 at 0.02) — pruning at 0.02 costs nothing and keeps the file near 1.4 MB.
SENTIMENT_PRUNE = 0.02
CLASSIFIER_PRUNE = 0.01
CORRECTION_WEIGHT = 5.0
HELDOUT_MOD = 5  # one review in five is held out


class TrainingDataError(ValueError):
    """A training file is missing or not in the expected columns."""


# --- reviews (sentiment) ------------------------------------------------------------------
@dataclass(frozen=True)
class Review:
    cat: str
    label: int  # 1 positive, 0 negative
    text: str


def default_reviews_path() -> Path:
    """$SHOUHOU_REVIEWS_CSV, else ../shared/data/reviews/… beside the project (the
    repository root is settings.BASE_DIR's grandparent), else beside the working dir."""
    env = os.environ.get(REVIEWS_ENV)
    if env:
        return Path(env)
    repo_root = PACKAGE_DIR.parent.parent.parent  # src/shouhou/assistant → repository
    candidates = [repo_root.parent / REVIEWS_RELATIVE, Path.cwd().parent / REVIEWS_RELATIVE]
    for path in candidates:
        if path.is_file():
            return path
    return candidates[0]


def read_reviews(path: Path) -> list[Review]:
    """Rows of a `cat,label,review` CSV (label 1 positive, 0 negative); rows with an empty
    review or another label are skipped."""
    if not path.is_file():
        raise TrainingDataError(f"reviews CSV not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"cat", "label", "review"} - set(reader.fieldnames or [])
        if missing:
            raise TrainingDataError(f"{path}: missing columns {sorted(missing)}")
        out = []
        for row in reader:
            text = (row.get("review") or "").strip()
            label = (row.get("label") or "").strip()
            if text and label in {"0", "1"}:
                out.append(Review((row.get("cat") or "").strip(), int(label), text))
    if not out:
        raise TrainingDataError(f"{path}: no labelled reviews")
    return out


def is_heldout(text: str) -> bool:
    return zlib.crc32(text.encode("utf-8")) % HELDOUT_MOD == 0


def split_reviews(rows: list[Review]) -> tuple[list[Review], list[Review]]:
    """(train, held-out) by a stable hash of the review text."""
    train, held = [], []
    for r in rows:
        (held if is_heldout(r.text) else train).append(r)
    return train, held


def fit_sentiment(
    rows: list[Review],
    *,
    C: float = SENTIMENT_C,
    prune: float = SENTIMENT_PRUNE,
    featurizer: Featurizer = SENTIMENT_FEATURES,
    meta: dict[str, Any] | None = None,
) -> LinearModel:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    y = np.array([r.label for r in rows])
    if len(set(y.tolist())) < 2:
        raise TrainingDataError("sentiment training needs positive and negative reviews")
    X = featurizer.matrix([normalize(r.text) for r in rows])
    used = np.unique(X.indices)
    X = X[:, used]
    # Log-count ratio of each bucket (presence counts, add-one smoothing).
    B = X.copy()
    B.data[:] = 1.0
    p = 1.0 + np.asarray(B[y == 1].sum(axis=0)).ravel()
    q = 1.0 + np.asarray(B[y == 0].sum(axis=0)).ravel()
    ratio = np.log((p / p.sum()) / (q / q.sum()))
    Xs = X @ sparse.diags(ratio)
    clf = LogisticRegression(C=C, solver="liblinear", max_iter=2000)
    clf.fit(Xs, y)
    coef = clf.coef_ * ratio[None, :]  # fold the scaling into the weights
    info = {
        "kind": "sentiment",
        "algorithm": "logistic regression on NB log-count-ratio scaled features",
        "C": C,
        "prune": prune,
        "n_train": len(rows),
        "n_used_buckets": int(len(used)),
        **(meta or {}),
    }
    return from_sklearn(
        ("negative", "positive"), featurizer, used, coef, clf.intercept_, prune=prune, meta=info
    )


# --- labelled messages (intent, reason, case type) -----------------------------------------
def read_labelled(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV with a `text` column and the given label columns; blank rows skipped."""
    if not path.is_file():
        raise TrainingDataError(f"training file not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"text", *columns} - set(reader.fieldnames or [])
        if missing:
            raise TrainingDataError(f"{path}: missing columns {sorted(missing)}")
        rows = [
            {k: (row.get(k) or "").strip() for k in ("text", *columns)}
            for row in reader
            if (row.get("text") or "").strip()
        ]
    return rows


@dataclass(frozen=True)
class Correction:
    text: str
    corrected: str


def db_corrections(kind: str = "intent") -> list[Correction]:
    """Agents' corrections from the database, oldest first (a later correction of the same
    text wins). Empty when Django is not configured or the table is not there."""
    try:
        from django.conf import settings

        if not settings.configured:
            return []
        from django.db import DatabaseError

        from shouhou.assistant.models import AssistantCorrection

        rows = AssistantCorrection.objects.filter(kind=kind).order_by("created_at", "id")
        return [Correction(c.text, c.corrected) for c in rows.only("text", "corrected")]
    except (ImportError, DatabaseError):
        return []


def intent_examples(
    corrections: Iterable[Correction] = (), *, path: Path = INTENTS_CSV
) -> tuple[list[str], list[str], list[float], int]:
    """(normalised texts, intents, sample weights, corrections used). A correction replaces
    any seed message with the same normalised text."""
    from . import INTENTS

    by_text: dict[str, str] = {}
    for c in corrections:
        key = normalize(c.text)
        if key and c.corrected in INTENTS:
            by_text[key] = c.corrected
    texts, labels, weights = [], [], []
    for row in read_labelled(path, ("intent",)):
        key = normalize(row["text"])
        if not key or key in by_text or row["intent"] not in INTENTS:
            continue
        texts.append(key)
        labels.append(row["intent"])
        weights.append(1.0)
    for key, label in by_text.items():
        texts.append(key)
        labels.append(label)
        weights.append(CORRECTION_WEIGHT)
    return texts, labels, weights, len(by_text)


def reason_examples(path: Path = REASONS_CSV) -> tuple[list[str], list[str], list[str]]:
    """(normalised texts, reasons, case types) of the triage seed set."""
    from shouhou.cases.lifecycle import DEFAULT_REASON_TYPES, CaseType, Reason

    texts, reasons, types = [], [], []
    for row in read_labelled(path, ("reason", "case_type")):
        key = normalize(row["text"])
        if not key or row["reason"] not in set(Reason) or row["case_type"] not in set(CaseType):
            continue
        if CaseType(row["case_type"]) not in DEFAULT_REASON_TYPES[Reason(row["reason"])]:
            continue  # the policy would refuse it: not something to suggest
        texts.append(key)
        reasons.append(row["reason"])
        types.append(row["case_type"])
    return texts, reasons, types


def _svm_columns(clf, order: tuple[str, ...], Xr) -> tuple[np.ndarray, np.ndarray]:
    """(coef, intercept) with one row per class of `order`."""
    if len(clf.classes_) == 2:
        # scikit-learn fits one column (for classes_[1]) when there are two classes; split
        # it into two opposite half-columns: the softmax of (-z/2, z/2) is sigmoid(z).
        full_coef = np.vstack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
        full_intercept = np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
    else:
        full_coef, full_intercept = clf.coef_, clf.intercept_
    col = {c: i for i, c in enumerate(clf.classes_)}
    return full_coef[[col[c] for c in order]], full_intercept[[col[c] for c in order]]


def _temperature(z: np.ndarray, y: np.ndarray) -> float:
    """The T that makes softmax(z / T) best predict y (least log-loss): temperature
    scaling (Guo et al. 2017), one number, so the ranking of classes is unchanged."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        s = z / np.exp(log_t)
        s = s - s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return -float(logp[np.arange(len(y)), y].mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-6.0, 3.0), method="bounded").x))


def fit_classifier(
    texts: list[str],
    labels: list[str],
    *,
    classes: tuple[str, ...] | None = None,
    sample_weight: list[float] | None = None,
    C: float = CLASSIFIER_C,
    prune: float = CLASSIFIER_PRUNE,
    featurizer: Featurizer = CLASSIFIER_FEATURES,
    X=None,
    meta: dict[str, Any] | None = None,
) -> LinearModel:
    """A linear SVM (one-vs-rest, the best macro-F1 of what we tried on the seed sets,
    and a second to fit) whose scores become probabilities by a softmax with a temperature
    fitted on out-of-fold scores (3-fold), folded into the stored weights. `classes`
    fixes the column order (classes absent from the data get no column)."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    present = sorted(set(labels))
    if len(present) < 2:
        raise TrainingDataError("a classifier needs at least two labels")
    order = tuple(c for c in (classes or tuple(present)) if c in present)
    if X is None:
        X = featurizer.matrix(texts)
    used = np.unique(X.indices)
    Xr = X[:, used]
    y = np.asarray(labels)
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)

    def fit(rows) -> LinearSVC:
        clf = LinearSVC(C=C, max_iter=5000)
        clf.fit(Xr[rows], y[rows], sample_weight=None if w is None else w[rows])
        return clf

    temperature = 1.0
    counts = np.unique(y, return_counts=True)[1]
    if counts.min() >= 3:
        z = np.zeros((len(y), len(order)))
        for tr, te in StratifiedKFold(3, shuffle=True, random_state=0).split(Xr, y):
            part = fit(tr)
            if len(part.classes_) != len(order):
                break
            coef, intercept = _svm_columns(part, order, Xr)
            z[te] = np.asarray(Xr[te] @ coef.T) + intercept
        else:
            temperature = _temperature(z, np.array([order.index(v) for v in y]))
    clf = fit(np.arange(len(y)))
    coef, intercept = _svm_columns(clf, order, Xr)
    info = {
        "algorithm": "linear SVM (one-vs-rest), softmax with a fitted temperature",
        "C": C,
        "temperature": temperature,
        "prune": prune,
        "n_train": len(texts),
        "label_counts": {c: labels.count(c) for c in order},
        **(meta or {}),
    }
    return from_sklearn(
        order,
        featurizer,
        used,
        coef / temperature,
        intercept / temperature,
        prune=prune,
        meta=info,
    )


# --- evaluation helpers ---------------------------------------------------------------------
def accuracy_and_f1(y_true: list[str], y_pred: list[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    if not y_true:
        return {"n": 0, "accuracy": float("nan"), "macro_f1": float("nan")}
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def file_info(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"file": path.name, "bytes": len(data), "crc32": f"{zlib.crc32(data):08x}"}


# --- the whole training run ------------------------------------------------------------------
TASKS = ("sentiment", "intent", "reason", "faq")


def sentiment_heldout_figures(model: LinearModel, heldout: list[Review]) -> dict[str, Any]:
    """Accuracy and macro-F1 of a model on held-out reviews, overall and per category."""
    pred = model.predict([normalize(r.text) for r in heldout]) if heldout else []
    truth = [SENTIMENT_CODES[r.label] for r in heldout]
    per_cat: dict[str, Any] = {}
    for cat in sorted({r.cat for r in heldout}):
        ix = [i for i, r in enumerate(heldout) if r.cat == cat]
        per_cat[cat] = accuracy_and_f1([truth[i] for i in ix], [pred[i] for i in ix])
    return {"overall": accuracy_and_f1(truth, pred), "per_category": per_cat}


SENTIMENT_CODES = {0: "negative", 1: "positive"}


def train(
    out_dir: Path,
    *,
    only: str | None = None,
    reviews_path: Path | None = None,
    intent_corrections: list[Correction] | None = None,
    faq_to: Path | None = None,
    from_db: bool = True,
    log=print,
) -> dict[str, Any]:
    """Train the models (`only` one task, else all) into out_dir and return what was done.
    FAQ: H2's retrieval_eval.refit, when that module is installed, writing its
    calibration to `faq_to` (default out_dir/faq_calibration.json).

    Corrections (intent and FAQ) are read from the database when Django is configured
    and from_db is true; `intent_corrections` replaces the intent ones."""
    from shouhou.cases.lifecycle import CaseType, Reason

    from . import INTENTS

    wanted = (only,) if only else TASKS
    report: dict[str, Any] = {"out_dir": str(out_dir), "trained_at": now_iso()}
    if "sentiment" in wanted:
        path = reviews_path or default_reviews_path()
        rows = read_reviews(path)
        train_rows, held = split_reviews(rows)
        log(f"sentiment: {len(train_rows):,} training reviews, {len(held):,} held out ({path})")
        m = fit_sentiment(
            train_rows,
            meta={"data": {**file_info(path), "n_rows": len(rows), "n_heldout": len(held)}},
        )
        m.meta["trained_at"] = report["trained_at"]
        m.meta["heldout"] = sentiment_heldout_figures(m, held)
        m.save(out_dir, "sentiment")
        report["sentiment"] = {
            "n_train": len(train_rows),
            "n_weights": len(m.indices),
            "heldout": m.meta["heldout"],
        }
    if "intent" in wanted:
        if intent_corrections is not None:
            corrections = intent_corrections
        else:
            corrections = db_corrections("intent") if from_db else []
        texts, labels, weights, n_corr = intent_examples(corrections)
        log(f"intent: {len(texts):,} messages, {n_corr} agent corrections used")
        m = fit_classifier(
            texts,
            labels,
            classes=INTENTS,
            sample_weight=weights,
            meta={
                "kind": "intent",
                "data": file_info(INTENTS_CSV),
                "n_corrections": n_corr,
                "correction_weight": CORRECTION_WEIGHT,
                "trained_at": report["trained_at"],
            },
        )
        m.save(out_dir, "intent")
        report["intent"] = {
            "n_train": len(texts),
            "n_corrections": n_corr,
            "n_weights": len(m.indices),
        }
    if "reason" in wanted:
        if REASONS_CSV.is_file():
            texts, reasons, types = reason_examples()
            log(f"reason and case type: {len(texts):,} descriptions")
            X = CLASSIFIER_FEATURES.matrix(texts)
            meta = {"data": file_info(REASONS_CSV), "trained_at": report["trained_at"]}
            rm = fit_classifier(
                texts,
                reasons,
                classes=tuple(r.value for r in Reason),
                X=X,
                meta={"kind": "reason", **meta},
            )
            tm = fit_classifier(
                texts,
                types,
                classes=tuple(t.value for t in CaseType),
                X=X,
                meta={"kind": "case_type", **meta},
            )
            rm.save(out_dir, "reason")
            tm.save(out_dir, "case_type")
            report["reason"] = {"n_train": len(texts), "n_weights": len(rm.indices)}
        else:
            log(f"reason: {REASONS_CSV} is not there yet; skipped")
            report["reason"] = {"skipped": "no reasons.csv"}
    if "faq" in wanted:
        report["faq"] = refit_faq(
            faq_to or out_dir / "faq_calibration.json", None if from_db else [], log=log
        )
    return report


def faq_correction_pairs() -> list[tuple[str, str]]:
    """Agents' FAQ corrections as (buyer's text, default-FAQ key) pairs for the FAQ
    confidence refit; "" = no entry should answer. Corrections to an entry the shop wrote
    itself (not from the default FAQ) have no key and are left out."""
    try:
        from django.conf import settings

        if not settings.configured:
            return []
        from django.db import DatabaseError

        from shouhou.assistant import retrieval_eval
        from shouhou.assistant.models import AssistantCorrection

        pairs = []
        rows = AssistantCorrection.objects.filter(kind="faq").select_related("faq_entry")
        for c in rows.order_by("created_at", "id"):
            if not c.corrected:
                pairs.append((c.text, ""))
            elif c.faq_entry is not None:
                key = retrieval_eval.key_for_question(c.faq_entry.question)
                if key:
                    pairs.append((c.text, key))
        return pairs
    except (ImportError, AttributeError, DatabaseError):
        return []


def refit_faq(
    write_to: Path | None, extra: list[tuple[str, str]] | None = None, log=print
) -> dict[str, Any]:
    """H2's FAQ confidence refit (shouhou.assistant.retrieval_eval.refit), fed with the
    agents' FAQ corrections; skipped when that module is not installed."""
    try:
        from shouhou.assistant import retrieval_eval
    except ImportError:
        log("faq: shouhou.assistant.retrieval_eval is not installed; skipped")
        return {"skipped": "retrieval_eval missing"}
    refit = getattr(retrieval_eval, "refit", None)
    if refit is None:
        log("faq: retrieval_eval has no refit(); skipped")
        return {"skipped": "no refit()"}
    extra = faq_correction_pairs() if extra is None else extra
    log(f"faq: refitting the answer confidence, {len(extra)} agent corrections used")
    result = refit(write_to, extra=extra)
    out = dict(result) if isinstance(result, dict) else {"result": str(result)}
    out["n_corrections"] = len(extra)
    out["written_to"] = str(write_to) if write_to else None
    return out
