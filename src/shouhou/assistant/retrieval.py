"""FAQ retrieval: which of a shop's published FAQ entries answers a buyer's message, and how
sure we are (PRODUCT.md §3).

Lexical retrieval with bm25s over two token fields of the same normalised text: jieba words
(precise when the buyer writes the shop's words) and character bigrams (robust to typos,
繁體 leftovers and words jieba splits differently). Each FAQ entry is indexed twice: every
phrasing on its own (question and each 相似问法; the entry scores the best of them, so one
close phrasing is enough) and all phrasings as one bag (several partial overlaps add up).
The answer is a third, light-weight document: it holds words buyers use (拒收, 红冲) that
no phrasing has.

Raw BM25 scores are not comparable across queries (a long query scores higher than a short
one), so the top hit's confidence is a small logistic model over scale-free features (the
top score relative to the query's own best possible score, the margin to the runner-up, the
share of the query's idf mass the top entry covers, …) fitted on a paraphrase set by
`retrieval_eval.refit`; its numbers and the answer threshold live in
data/faq_calibration.json (plain JSON, never pickle), or in
SHOUHOU_DATA_DIR/assistant-models/faq_calibration.json once `shouhou assistant train` wrote one.

The index of a shop is built on first use and cached in the process; it is rebuilt when the
shop's published FAQ changes (ids, count or the latest updated_at).
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .nlp.text import char_ngrams, normalize, words

DEFAULT_FAQ_FILE = "default_faq.json"
CALIBRATION_FILE = "faq_calibration.json"
# Order ids, phone and tracking numbers: they identify an order, not a question, and their
# digit bigrams would only add noise to the match and the coverage features.
_LONG_NUMBER_RE = re.compile(r"\d{5,}")
# A question longer than this is an essay; its head carries the question and BM25's cost
# grows with the query, so the rest is not scored.
MAX_QUERY_CHARS = 300


# --- settings and calibration (JSON) -------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """How the index scores; chosen on the tuning half of the paraphrase set."""

    k1: float = 1.2
    b: float = 0.75
    word_weight: float = 1.0
    char_weight: float = 1.0
    char_sizes: tuple[int, ...] = (2,)
    unit_weight: float = 1.0  # best single phrasing
    bag_weight: float = 0.5  # all phrasings together
    answer_weight: float = 0.2  # the answer text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        known = {f: data[f] for f in cls.__dataclass_fields__ if f in data}
        if "char_sizes" in known:
            known["char_sizes"] = tuple(int(n) for n in known["char_sizes"])
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__} | {
            "char_sizes": list(self.char_sizes)
        }


FEATURES: tuple[str, ...] = (
    "top_ratio",  # top score / the query's self score (how much of a perfect match)
    "margin",  # (top - second) / top
    "word_cover",  # idf share of the query's words found in the top entry
    "char_cover",  # idf share of the query's bigrams found in the top entry
    "log_top",  # log(1 + top raw score)
    "log_len",  # log(1 + number of query tokens)
)


@dataclass(frozen=True)
class Calibration:
    settings: Settings = field(default_factory=Settings)
    mean: tuple[float, ...] = (0.0,) * len(FEATURES)
    scale: tuple[float, ...] = (1.0,) * len(FEATURES)
    coef: tuple[float, ...] = (2.0, 1.0, 2.0, 2.0, 0.0, 0.0)
    intercept: float = -3.0
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)

    def probability(self, features: Sequence[float]) -> float:
        z = self.intercept + sum(
            c * (x - m) / (s or 1.0)
            for c, x, m, s in zip(self.coef, features, self.mean, self.scale, strict=True)
        )
        # A plain logistic; clipped so a huge z cannot overflow.
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        model = data.get("model", {})
        if tuple(model.get("features", FEATURES)) != FEATURES:
            raise ValueError("faq calibration: feature list does not match this code")
        return cls(
            settings=Settings.from_dict(data.get("settings", {})),
            mean=tuple(float(x) for x in model["mean"]),
            scale=tuple(float(x) for x in model["scale"]),
            coef=tuple(float(x) for x in model["coef"]),
            intercept=float(model["intercept"]),
            threshold=float(data["threshold"]),
            meta={k: v for k, v in data.items() if k not in {"settings", "model", "threshold"}},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings.to_dict(),
            "model": {
                "features": list(FEATURES),
                "mean": list(self.mean),
                "scale": list(self.scale),
                "coef": list(self.coef),
                "intercept": self.intercept,
            },
            "threshold": self.threshold,
            **self.meta,
        }


def _trained_path() -> Path | None:
    try:
        from django.conf import settings as dj
    except Exception:  # noqa: BLE001 - usable outside Django (eval, bench)
        return None
    try:
        return Path(dj.DATA_DIR) / "assistant-models" / CALIBRATION_FILE
    except Exception:  # noqa: BLE001 - settings not configured
        return None


_calibration: Calibration | None = None
_calibration_lock = threading.Lock()


def calibration() -> Calibration:
    """The calibration in use: a retrained one under DATA_DIR wins over the shipped one."""
    global _calibration
    if _calibration is None:
        with _calibration_lock:
            if _calibration is None:
                _calibration = _load_calibration()
    return _calibration


def _load_calibration() -> Calibration:
    trained = _trained_path()
    if trained is not None and trained.is_file():
        return Calibration.from_dict(json.loads(trained.read_text("utf-8")))
    shipped = resources.files("shouhou.assistant") / "data" / CALIBRATION_FILE
    if shipped.is_file():
        return Calibration.from_dict(json.loads(shipped.read_text("utf-8")))
    return Calibration()


def reset_calibration() -> None:
    """Forget the loaded calibration (after `shouhou assistant train` wrote a new one)."""
    global _calibration
    with _calibration_lock:
        _calibration = None
        _cache.clear()


def default_faq() -> list[dict[str, Any]]:
    """The default after-sales FAQ that ships with the package (key, category, question,
    answer, phrasings)."""
    path = resources.files("shouhou.assistant") / "data" / DEFAULT_FAQ_FILE
    return json.loads(path.read_text("utf-8"))


# --- the index (pure: no ORM) --------------------------------------------------------------
@dataclass(frozen=True)
class Doc:
    """One FAQ entry as the index sees it; `ref` is whatever the caller wants back."""

    ref: Any
    question: str
    phrasings: tuple[str, ...]
    answer: str = ""


@dataclass(frozen=True)
class Hit:
    position: int  # index into FaqIndex.docs
    raw: float
    features: tuple[float, ...]


def _query_text(text: str | None) -> str:
    clean = normalize(text)[:MAX_QUERY_CHARS]
    return _LONG_NUMBER_RE.sub(" ", clean)


class _Tokens:
    """The two token fields of one text."""

    __slots__ = ("words", "chars")

    def __init__(self, clean: str, sizes: tuple[int, ...]) -> None:
        self.words = words(clean)
        # Bigrams over the words glued together: punctuation, emoji and spaces are gone, so
        # "吗？" and "了 " do not become tokens.
        self.chars = char_ngrams("".join(self.words), sizes)


def _bm25(corpus: list[list[str]], settings: Settings):
    import bm25s

    # bm25s logs every index build at DEBUG; a shop's FAQ is rebuilt on each edit.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    model = bm25s.BM25(k1=settings.k1, b=settings.b)
    # An empty document would break bm25s's vocabulary; a token nobody types stands in.
    model.index([doc or ["\x00"] for doc in corpus], show_progress=False)
    return model


def _scores(model, tokens: list[str], size: int) -> np.ndarray:
    ids = model.get_tokens_ids(tokens)
    if not ids:
        return np.zeros(size, dtype=np.float32)
    return model.get_scores_from_ids(ids)


class FaqIndex:
    """BM25 over words and character bigrams of a list of FAQ docs."""

    def __init__(self, docs: Sequence[Doc], settings: Settings | None = None) -> None:
        self.docs = list(docs)
        self.settings = settings or Settings()
        s = self.settings
        n = len(self.docs)
        unit_tokens: list[_Tokens] = []
        self._unit_owner: list[int] = []
        bag_words: list[list[str]] = []
        bag_chars: list[list[str]] = []
        answer_words: list[list[str]] = []
        answer_chars: list[list[str]] = []
        self._entry_words: list[set[str]] = []
        self._entry_chars: list[set[str]] = []
        for i, doc in enumerate(self.docs):
            bag_w: list[str] = []
            bag_c: list[str] = []
            for line in (doc.question, *doc.phrasings):
                tokens = _Tokens(_query_text(line), s.char_sizes)
                if not tokens.words:
                    continue
                unit_tokens.append(tokens)
                self._unit_owner.append(i)
                bag_w += tokens.words
                bag_c += tokens.chars
            answer = _Tokens(_query_text(doc.answer), s.char_sizes)
            bag_words.append(bag_w)
            bag_chars.append(bag_c)
            answer_words.append(answer.words)
            answer_chars.append(answer.chars)
            self._entry_words.append(set(bag_w) | set(answer.words))
            self._entry_chars.append(set(bag_c) | set(answer.chars))
        self._owner = np.asarray(self._unit_owner, dtype=np.int64)
        self._n = n
        self._units = len(unit_tokens)
        if n == 0:
            return
        self._unit_w = _bm25([t.words for t in unit_tokens], s)
        self._unit_c = _bm25([t.chars for t in unit_tokens], s)
        self._bag_w = _bm25(bag_words, s)
        self._bag_c = _bm25(bag_chars, s)
        self._ans_w = _bm25(answer_words, s) if s.answer_weight else None
        self._ans_c = _bm25(answer_chars, s) if s.answer_weight else None
        # Document frequencies over the phrasing units, for idf-weighted coverage.
        self._idf_w = _idf([t.words for t in unit_tokens])
        self._idf_c = _idf([t.chars for t in unit_tokens])
        self._avg_w = max(1.0, sum(len(t.words) for t in unit_tokens) / max(1, self._units))
        self._avg_c = max(1.0, sum(len(t.chars) for t in unit_tokens) / max(1, self._units))

    def __len__(self) -> int:
        return self._n

    def _field(self, unit, bag, ans, tokens: list[str]) -> np.ndarray:
        s = self.settings
        per_unit = _scores(unit, tokens, self._units)
        best = np.zeros(self._n, dtype=np.float64)
        np.maximum.at(best, self._owner, per_unit)
        total = s.unit_weight * best + s.bag_weight * _scores(bag, tokens, self._n)
        if ans is not None:
            total = total + s.answer_weight * _scores(ans, tokens, self._n)
        return total

    def scores(self, text: str | None) -> tuple[np.ndarray, _Tokens | None]:
        """The combined score of every doc (zeros when the text has no usable token)."""
        if self._n == 0:
            return np.zeros(0), None
        tokens = _Tokens(_query_text(text), self.settings.char_sizes)
        if not tokens.words:
            return np.zeros(self._n), None
        s = self.settings
        total = s.word_weight * self._field(self._unit_w, self._bag_w, self._ans_w, tokens.words)
        total += s.char_weight * self._field(self._unit_c, self._bag_c, self._ans_c, tokens.chars)
        return total, tokens

    def search(self, text: str | None, k: int = 3) -> list[Hit]:
        """The best k docs with a positive score, best first, each with its features."""
        total, tokens = self.scores(text)
        if tokens is None or k <= 0:
            return []
        order = np.argsort(-total, kind="stable")[:k]
        order = [int(i) for i in order if total[i] > 0]
        if not order:
            return []
        ceiling = self._self_score(tokens)
        return [Hit(i, float(total[i]), self._features(tokens, total, i, ceiling)) for i in order]

    def _self_score(self, tokens: _Tokens) -> float:
        """What the query would score against a phrasing identical to itself: the ceiling a
        perfect match reaches, so top/ceiling is comparable across queries."""
        s = self.settings
        total = 0.0
        for weight, toks, idf, avg in (
            (s.word_weight, tokens.words, self._idf_w, self._avg_w),
            (s.char_weight, tokens.chars, self._idf_c, self._avg_c),
        ):
            if not toks:
                continue
            norm = s.k1 * (1 - s.b + s.b * len(toks) / avg)
            counts: dict[str, int] = {}
            for t in toks:
                counts[t] = counts.get(t, 0) + 1
            part = sum(idf.get(t, 0.0) * (s.k1 + 1) * n / (n + norm) for t, n in counts.items())
            total += weight * part * (s.unit_weight + s.bag_weight)
        return total

    def _features(
        self, tokens: _Tokens, total: np.ndarray, i: int, ceiling: float
    ) -> tuple[float, ...]:
        top = float(total[i])
        rest = np.delete(total, i)
        second = float(rest.max()) if rest.size else 0.0
        return (
            top / ceiling if ceiling > 0 else 0.0,
            (top - second) / top if top > 0 else 0.0,
            _cover(tokens.words, self._entry_words[i], self._idf_w, self._units),
            _cover(tokens.chars, self._entry_chars[i], self._idf_c, self._units),
            math.log1p(top),
            math.log1p(len(tokens.words) + len(tokens.chars)),
        )


def _idf(corpus: list[list[str]]) -> dict[str, float]:
    df: dict[str, int] = {}
    for doc in corpus:
        for t in set(doc):
            df[t] = df.get(t, 0) + 1
    n = len(corpus)
    return {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}


def _cover(query: list[str], entry: set[str], idf: dict[str, float], n: int) -> float:
    """Share of the query's idf mass found in the entry; a token no FAQ has gets the
    highest idf (it is the most telling thing the buyer said, and we cannot match it)."""
    if not query:
        return 0.0
    unseen = math.log(1 + (n + 0.5) / 0.5)
    weights = [(idf.get(t, unseen), t in entry) for t in set(query)]
    mass = sum(w for w, _ in weights)
    return sum(w for w, hit in weights if hit) / mass if mass else 0.0


# --- ORM-aware API -------------------------------------------------------------------------
@dataclass(frozen=True)
class FaqMatch:
    entry: Any  # shouhou.assistant.models.FaqEntry
    score: float  # calibrated 0..1: the chance this entry answers the message
    confident: bool  # score reached the tuned threshold: safe to answer without a human


_CACHE_SHOPS = 256
_cache: OrderedDict[int, tuple[tuple, FaqIndex]] = OrderedDict()
_cache_lock = threading.Lock()


def _phrasings(keywords: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in (keywords or "").splitlines() if line.strip())


def _shop_index(shop) -> FaqIndex:
    from django.db.models import Count, Max

    from .models import FaqEntry

    published = FaqEntry.objects.filter(shop=shop, is_published=True)
    # Cheap signature first (one aggregate + ids); the rows are read only on a change.
    agg = published.aggregate(n=Count("id"), last=Max("updated_at"))
    ids = tuple(published.order_by("id").values_list("id", flat=True))
    signature = (agg["n"], agg["last"], ids)
    with _cache_lock:
        cached = _cache.get(shop.pk)
        if cached is not None and cached[0] == signature:
            _cache.move_to_end(shop.pk)
            return cached[1]
    rows = list(published.order_by("position", "id"))
    index = FaqIndex(
        [Doc(row, row.question, _phrasings(row.keywords), row.answer) for row in rows],
        calibration().settings,
    )
    with _cache_lock:
        _cache[shop.pk] = (signature, index)
        _cache.move_to_end(shop.pk)
        while len(_cache) > _CACHE_SHOPS:
            _cache.popitem(last=False)
    return index


def match(shop, text: str, k: int = 3) -> list[FaqMatch]:
    """The shop's published FAQ entries that best answer `text`, best first (at most k).

    Only the top hit carries a calibrated score; the runners-up get a score no higher than
    the top one's, scaled by their raw score (they are alternatives to show an agent, not
    answers). Text with nothing to match (empty, emoji, markup only, foreign words) gives [].
    """
    if shop is None or not isinstance(text, str) or not text.strip():
        return []
    index = _shop_index(shop)
    hits = index.search(text, k=max(1, min(int(k), 50)))
    if not hits:
        return []
    cal = calibration()
    top = cal.probability(hits[0].features)
    out = []
    for n, hit in enumerate(hits):
        score = top if n == 0 else top * hit.raw / hits[0].raw
        score = round(min(1.0, max(0.0, score)), 4)
        out.append(FaqMatch(index.docs[hit.position].ref, score, n == 0 and score >= cal.threshold))
    return out


def best(shop, text: str) -> FaqMatch | None:
    """The top match when it is confident enough to answer without a human, else None."""
    hits = match(shop, text, k=1)
    return hits[0] if hits and hits[0].confident else None


def install_default_faq(shop, actor=None) -> int:
    """Copy the default FAQ into `shop`; questions the shop already has are skipped, so a
    second call adds nothing. One transaction; audited when an actor is given. Returns the
    number of entries added."""
    from django.db import transaction
    from django.db.models import Max

    from shouhou.core.services import audit, require_admin

    from .models import FaqEntry

    if actor is not None:
        require_admin(shop, actor)
    defaults = default_faq()
    with transaction.atomic():
        # Lock the shop row so two admins clicking at once cannot both add the same entries.
        type(shop).objects.select_for_update().filter(pk=shop.pk).first()
        have = {
            _question_key(q)
            for q in FaqEntry.objects.filter(shop=shop).values_list("question", flat=True)
        }
        start = (FaqEntry.objects.filter(shop=shop).aggregate(m=Max("position"))["m"] or 0) + 10
        new = []
        for item in defaults:
            if _question_key(item["question"]) in have:
                continue
            have.add(_question_key(item["question"]))
            new.append(
                FaqEntry(
                    shop=shop,
                    category=item["category"],
                    question=item["question"],
                    answer=item["answer"],
                    keywords="\n".join(item["phrasings"]),
                    is_published=True,
                    position=min(9999, start + 10 * len(new)),
                )
            )
        FaqEntry.objects.bulk_create(new)
        if actor is not None:
            audit(shop, actor, "faq.install_default", f"{len(new)} 条", {"added": len(new)})
    return len(new)


def _question_key(question: str) -> str:
    """Questions compare without punctuation, case or 繁/简 differences."""
    return "".join(ch for ch in normalize(question) if ch.isalnum())
