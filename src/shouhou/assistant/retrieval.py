"""FAQ retrieval: which of a shop's published FAQ entries answers a buyer's message, and how
sure we are (PRODUCT.md §3).

Lexical retrieval with bm25s over two token fields of the same normalised text: jieba words
(precise when the buyer writes the shop's words) and character unigrams + bigrams (robust to
typos, 繁體 leftovers and words jieba splits differently). Before tokenising, grammar words
are dropped (吗, 能不能, 订单 …) and everyday synonyms folded (邮费 → 运费, 咋 → 怎么). Each
entry is indexed three ways and the scores add up: every phrasing on its own (question and
each 相似问法; the entry scores the best one, so one close phrasing is enough), all
phrasings as one bag (several partial overlaps add up), and the answer (it holds words
buyers use, 拒收, 红冲, 新疆, that no phrasing has). The weights were chosen on the tuning half
of the paraphrase set and on a cross-validation of the FAQ's own phrasings
(retrieval_eval.search_settings); they are stored with the calibration.

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
from collections.abc import Iterable, Sequence
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
_LATIN_RE = re.compile(r"[a-z]+")
# A question longer than this is an essay; its head carries the question and BM25's cost
# grows with the query, so the rest is not scored.
MAX_QUERY_CHARS = 300
# Grammar, not meaning: particles, pronouns and the yes/no frames (能不能, 可以) buyers wrap
# every question in. Left in, "能不能给我发京东快递" matches "私人订制能不能换" on 能不能.
# Question words that tell questions apart (多久, 哪里, 什么时候, 谁) are kept.
STOPWORDS = frozenset(
    "的 了 吗 呢 啊 吧 呀 哦 噢 嘛 么 呗 哈 嗯 哎 啦 亲 亲亲 您 我 你 你们 我们 他 她 它 "
    "这个 那个 这 那 是 就 都 也 请问 一下 能 能不能 可以 可不可以 可不可以 会不会 行不行 "
    "想 要 请 麻烦 给 帮 帮我 一个 个 下 "
    # Every buyer message is about an order; the word tells no question from another.
    "订单 订单号 单号是".split()
)


# --- settings and calibration (JSON) -------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """How the index scores; chosen on the tuning half of the paraphrase set."""

    k1: float = 2.0
    b: float = 1.0
    word_weight: float = 1.0
    char_weight: float = 1.0
    char_sizes: tuple[int, ...] = (1, 2)
    unit_weight: float = 1.0  # best single phrasing
    bag_weight: float = 1.0  # all phrasings together
    answer_weight: float = 1.2  # the answer text
    stopwords: bool = True
    synonyms: bool = True

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


# Scale-free facts about the top hit that the confidence model may use (the calibration
# JSON names the ones it was fitted on).
FEATURES: dict[str, str] = {
    "top_ratio": "top score / the query's self score (how close to a perfect match)",
    "margin": "(top - second) / top",
    "word_cover": "idf share of the query's words found in the top entry's phrasings",
    "char_cover": "idf share of the query's character n-grams found in the top entry's phrasings",
    "answer_cover": "idf share of the query's words found in the top entry's phrasings or answer",
    "unit_cover": "idf share of the best phrasing's n-grams that the query contains",
    "unseen": "idf share of the query's words that no FAQ phrasing or answer has",
    "log_top": "log(1 + top raw score)",
    "log_len": "log(1 + number of query tokens)",
}
DEFAULT_FEATURES: tuple[str, ...] = (
    "top_ratio",
    "margin",
    "word_cover",
    "char_cover",
    "unit_cover",
    "unseen",
    "log_len",
)


@dataclass(frozen=True)
class Calibration:
    """A logistic model over named features of the top hit, and the answer threshold."""

    settings: Settings = field(default_factory=Settings)
    features: tuple[str, ...] = DEFAULT_FEATURES
    mean: tuple[float, ...] = (0.0,) * len(DEFAULT_FEATURES)
    scale: tuple[float, ...] = (1.0,) * len(DEFAULT_FEATURES)
    # Uncalibrated fallback (no JSON at all): trust coverage, distrust unseen words.
    coef: tuple[float, ...] = (1.0, 1.0, 2.0, 2.0, 1.0, -2.0, 0.0)
    intercept: float = -4.0
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept
        for name, c, m, s in zip(self.features, self.coef, self.mean, self.scale, strict=True):
            z += c * (values[name] - m) / (s or 1.0)
        # A plain logistic; clipped so a huge z cannot overflow.
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        model = data["model"]
        names = tuple(model["features"])
        unknown = [n for n in names if n not in FEATURES]
        if unknown:
            raise ValueError(f"faq calibration: unknown features {unknown}")
        numbers = [model["mean"], model["scale"], model["coef"]]
        if any(len(v) != len(names) for v in numbers):
            raise ValueError("faq calibration: feature and coefficient counts differ")
        return cls(
            settings=Settings.from_dict(data.get("settings", {})),
            features=names,
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
                "features": list(self.features),
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
    with _cache_lock:
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
    features: dict[str, float]


# Words buyers use interchangeably for the same thing, folded to the FAQ's word before
# tokenising (both the FAQ and the query go through it): 邮费 and 快递费 are 运费, 咋 is 怎么,
# Taiwanese 保固 is 保修. Only equivalences that hold in every after-sales question.
SYNONYMS: dict[str, str] = {
    "啥时候": "什么时候",
    "啥": "什么",
    "咋": "怎么",
    "怎样": "怎么",
    "如何": "怎么",
    "多长时间": "多久",
    "多少天": "多久",
    "几天": "多久",
    "邮费": "运费",
    "快递费": "运费",
    "邮资": "运费",
    "免运费": "包邮",
    "免邮": "包邮",
    "退钱": "退款",
    "出货": "发货",
    "品质": "质量",
    "保固": "保修",
    "质保": "保修",
    "码数": "尺码",
    "码子": "尺码",
    "保价": "价保",
    "开发票": "开票",
    "宝贝": "商品",
    "东西": "商品",
    "卖家": "商家",
    "店家": "商家",
}
_SYNONYM_RE = re.compile("|".join(sorted(map(re.escape, SYNONYMS), key=len, reverse=True)))


def _query_text(text: str | None, synonyms: bool = True) -> str:
    clean = normalize(text)[:MAX_QUERY_CHARS]
    clean = _LONG_NUMBER_RE.sub(" ", clean)
    return _SYNONYM_RE.sub(lambda m: SYNONYMS[m.group(0)], clean) if synonyms else clean


class _Tokens:
    """The two token fields of one text."""

    __slots__ = ("words", "chars")

    def __init__(self, clean: str, sizes: tuple[int, ...], stop: bool = True) -> None:
        found = words(clean)
        kept = [w for w in found if w not in STOPWORDS] if stop else found
        # A message of nothing but grammar ("你好吗") keeps its words: better a weak match
        # the calibration rejects than an empty query.
        self.words = kept or found
        # N-grams over the words glued together: punctuation, emoji and spaces are gone, so
        # "吗？" and "了 " do not become tokens. Latin words stay whole (in `words`): their
        # letters would match any English sentence ("hello" shares e, l, o with "EMS").
        glued = "".join(w for w in self.words if not _LATIN_RE.fullmatch(w))
        self.chars = char_ngrams(glued, sizes)


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
        self._unit_tokens = unit_tokens
        self._unit_owner: list[int] = []
        bag_words: list[list[str]] = []
        bag_chars: list[list[str]] = []
        answer_words: list[list[str]] = []
        answer_chars: list[list[str]] = []
        self._entry_words: list[set[str]] = []
        self._entry_chars: list[set[str]] = []
        self._answer_words: list[set[str]] = []
        for i, doc in enumerate(self.docs):
            bag_w: list[str] = []
            bag_c: list[str] = []
            for line in (doc.question, *doc.phrasings):
                tokens = _Tokens(_query_text(line, s.synonyms), s.char_sizes, s.stopwords)
                if not tokens.words:
                    continue
                unit_tokens.append(tokens)
                self._unit_owner.append(i)
                bag_w += tokens.words
                bag_c += tokens.chars
            answer = _Tokens(_query_text(doc.answer, s.synonyms), s.char_sizes, s.stopwords)
            bag_words.append(bag_w)
            bag_chars.append(bag_c)
            answer_words.append(answer.words)
            answer_chars.append(answer.chars)
            self._entry_words.append(set(bag_w))
            self._entry_chars.append(set(bag_c))
            self._answer_words.append(set(answer.words))
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
        self._known_words = set().union(*self._entry_words, *self._answer_words)

    def __len__(self) -> int:
        return self._n

    def _field(self, unit, bag, ans, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(entry scores, unit scores) of one token field."""
        s = self.settings
        per_unit = _scores(unit, tokens, self._units)
        best = np.zeros(self._n, dtype=np.float64)
        np.maximum.at(best, self._owner, per_unit)
        total = s.unit_weight * best + s.bag_weight * _scores(bag, tokens, self._n)
        if ans is not None:
            total = total + s.answer_weight * _scores(ans, tokens, self._n)
        return total, per_unit

    def _score(self, text: str | None):
        if self._n == 0:
            return None
        s = self.settings
        tokens = _Tokens(_query_text(text, s.synonyms), s.char_sizes, s.stopwords)
        if not tokens.words:
            return None
        s = self.settings
        word_total, word_units = self._field(self._unit_w, self._bag_w, self._ans_w, tokens.words)
        char_total, char_units = self._field(self._unit_c, self._bag_c, self._ans_c, tokens.chars)
        total = s.word_weight * word_total + s.char_weight * char_total
        units = s.word_weight * word_units + s.char_weight * char_units
        return tokens, total, units

    def scores(self, text: str | None) -> np.ndarray:
        """The combined raw score of every doc (zeros when the text has no usable token)."""
        scored = self._score(text)
        return np.zeros(self._n) if scored is None else scored[1]

    def search(self, text: str | None, k: int = 3) -> list[Hit]:
        """The best k docs with a positive score, best first, each with its features."""
        scored = self._score(text)
        if scored is None or k <= 0:
            return []
        tokens, total, units = scored
        order = np.argsort(-total, kind="stable")[:k]
        order = [int(i) for i in order if total[i] > 0]
        if not order:
            return []
        ceiling = self._self_score(tokens)
        return [
            Hit(i, float(total[i]), self._features(tokens, total, units, i, ceiling)) for i in order
        ]

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
        self, tokens: _Tokens, total: np.ndarray, units: np.ndarray, i: int, ceiling: float
    ) -> dict[str, float]:
        top = float(total[i])
        rest = np.delete(total, i)
        second = float(rest.max()) if rest.size else 0.0
        mine = np.flatnonzero(self._owner == i)
        best_unit = self._unit_tokens[int(mine[np.argmax(units[mine])])] if mine.size else None
        unseen_mass = _unseen(tokens.words, self._known_words, self._idf_w, self._units)
        return {
            "top_ratio": top / ceiling if ceiling > 0 else 0.0,
            "margin": (top - second) / top if top > 0 else 0.0,
            "word_cover": _cover(tokens.words, self._entry_words[i], self._idf_w, self._units),
            "char_cover": _cover(tokens.chars, self._entry_chars[i], self._idf_c, self._units),
            "answer_cover": _cover(
                tokens.words,
                self._entry_words[i] | self._answer_words[i],
                self._idf_w,
                self._units,
            ),
            "unit_cover": (
                _cover(best_unit.chars, set(tokens.chars), self._idf_c, self._units)
                if best_unit is not None
                else 0.0
            ),
            "unseen": unseen_mass,
            "log_top": math.log1p(top),
            "log_len": math.log1p(len(tokens.words) + len(tokens.chars)),
        }


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


def _unseen(query: list[str], known: set[str], idf: dict[str, float], n: int) -> float:
    """Share of the query's idf mass in words the whole FAQ never uses: the buyer is most
    likely asking about something else (老板, 作业, 缩水)."""
    if not query:
        return 0.0
    unseen = math.log(1 + (n + 0.5) / 0.5)
    weights = [(idf.get(t, unseen), t not in known) for t in set(query)]
    mass = sum(w for w, _ in weights)
    return sum(w for w, out in weights if out) / mass if mass else 0.0


# --- ORM-aware API -------------------------------------------------------------------------
@dataclass(frozen=True)
class FaqMatch:
    entry: Any  # shouhou.assistant.models.FaqEntry
    score: float  # calibrated 0..1: the chance this entry answers the message
    confident: bool  # score reached the tuned threshold: safe to answer without a human


_CACHE_SHOPS = 256
_cache: OrderedDict[int, tuple[tuple, FaqIndex]] = OrderedDict()
_cache_lock = threading.Lock()
_build_lock = threading.Lock()


def _phrasings(keywords: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in (keywords or "").splitlines() if line.strip())


def _signature(stamps: Iterable[tuple[int, Any]]) -> tuple:
    """(count, latest updated_at, ids) of the published entries: any add, edit, delete,
    publish or unpublish changes it."""
    stamps = sorted(stamps)
    return (len(stamps), max((at for _, at in stamps), default=None), tuple(i for i, _ in stamps))


def _cached(shop_id: int, signature: tuple) -> FaqIndex | None:
    with _cache_lock:
        cached = _cache.get(shop_id)
        if cached is None or cached[0] != signature:
            return None
        _cache.move_to_end(shop_id)
        return cached[1]


def _shop_index(shop) -> FaqIndex:
    from .models import FaqEntry

    published = FaqEntry.objects.filter(shop=shop, is_published=True)
    # One small query per message; the full rows are read only when something changed.
    index = _cached(shop.pk, _signature(published.values_list("id", "updated_at")))
    if index is not None:
        return index
    # One build at a time: twenty buyers of a shop whose FAQ was just edited need one
    # rebuild, not twenty. A build is a few tens of milliseconds.
    with _build_lock:
        rows = list(published.order_by("position", "id"))
        signature = _signature((row.id, row.updated_at) for row in rows)
        index = _cached(shop.pk, signature)
        if index is not None:
            return index
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
