"""The assistant's models: intent, sentiment, triage (PRODUCT.md §3), all offline.

Every function takes raw text (a chat message, a review, a case description) and
normalises it first (`text.normalize`: markup removed, NFKC, 繁→简, lower case, capped at
2,000 characters), so a 100 KB paste costs what a long message costs and `<script>` is
just more characters. Empty or whitespace-only text gets a fixed answer with score 0.0
(0.5 for sentiment: no evidence either way) and never reaches a model.

Models are linear (`linear.LinearModel`), loaded lazily once per process from
SHOUHOU_DATA_DIR/assistant-models/ when `shouhou assistant train` wrote one there, else
from the package (src/shouhou/assistant/models/). A process notices a retrained model
within RELOAD_CHECK_SECONDS; `reload()` forces it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .text import normalize, words

if TYPE_CHECKING:
    from .linear import LinearModel

logger = logging.getLogger(__name__)

INTENTS: tuple[str, ...] = (
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
INTENT_LABELS: dict[str, str] = {
    "greeting": "寒暄",
    "product_inquiry": "商品咨询",
    "promotion_price": "优惠与价格",
    "shipping_time": "发货咨询/催发货",
    "logistics_tracking": "物流查询",
    "order_change": "修改订单/取消订单",
    "return_refund": "退换货/退款",
    "quality_complaint": "质量问题/投诉",
    "other": "其他",
}
SENTIMENTS: tuple[str, ...] = ("negative", "positive")
MODEL_NAMES: tuple[str, ...] = ("sentiment", "intent", "reason", "case_type")
MODELS_SUBDIR = "assistant-models"
PACKAGED_MODELS = Path(__file__).resolve().parent.parent / "models"
RELOAD_CHECK_SECONDS = 30.0

# Sentiment alone cannot tell anger from an after-sales topic: the model learnt from
# reviews, where 退货 and 没收到 mean a bad purchase, so a calm "退货寄到哪里" scores 0.996
# negative. A message is angry on sentiment when it is this negative AND carries an
# intensity marker (太差, 死了, 骗, !!, 😡 …). On the ~4,000 seed chat messages this flags a
# third of the quality complaints, under 1 % of shipping, logistics and refund questions,
# and no greeting, product, price or order-change message (`shouhou assistant eval` prints
# the rate per intent).
ANGRY_NEGATIVE = 0.98
_INTENSITY_RE = re.compile(
    # 破/烂 alone describe damage (破了, 烂了一半), not temper: only the insulting forms.
    r"太差|太烂|太坑|太过分|太离谱|太失望|死了|什么破|破玩意|破东西|烂货|稀烂|坑|骗|假货|失望"
    r"|再也不|什么玩意|差劲|恶心"
    r"|气人|无语|离谱|[!！]{2,}|[?？]{2,}|😡|🤬|💢|👎|一星"
)
# Words that mean escalation whatever the model says: complaints to the platform or the
# authorities, threats of bad reviews, insults. Matched on normalised (simplified) text;
# whole phrases (工商局, 找媒体, 滚蛋) keep 工商银行, 多媒体 and 滚筒 from counting, a
# look-ahead keeps 垃圾袋, and hotline numbers must not sit inside a longer number (an
# order id); 妈的 must not be 我妈的.
ANGER_WORDS: tuple[str, ...] = (
    "投诉",
    "12315",
    "工商局",
    "消协",
    "消费者协会",
    "市场监管",
    "举报",
    "差评",
    "骗子",
    "骗人",
    "欺诈",
    "诈骗",
    "黑店",
    "坑人",
    "坑爹",
    "垃圾",
    "律师",
    "起诉",
    "法院",
    "曝光",
    "找媒体",
    "退一赔三",
    "假一赔",
    "气死",
    "恶心",
    "滚蛋",
    "滚犊子",
    "tmd",
    "他妈",
    "妈的",
    "尼玛",
    "卧槽",
    "忍无可忍",
    "什么态度",
    "太过分",
)
_ANGER_PATTERNS = {
    "垃圾": "垃圾(?![袋桶箱分处])",
    "12315": r"(?<!\d)12315(?!\d)",
    "妈的": "(?<![我你他她老姑舅姨大后亲])妈的",  # not 给我妈的生日礼物
    "他妈": "他妈(?!妈)",  # not 他妈妈
}
_ANGER_RE = re.compile("|".join(_ANGER_PATTERNS.get(w, re.escape(w)) for w in ANGER_WORDS))


@dataclass(frozen=True)
class Label:
    label: str
    score: float  # model probability of that label, 0..1


@dataclass(frozen=True)
class Triage:
    reason: str
    reason_score: float
    case_type: str
    type_score: float


EMPTY_INTENT = Label("other", 0.0)
EMPTY_SENTIMENT = Label("positive", 0.5)
EMPTY_REASON = Label("other", 0.0)


# --- models -------------------------------------------------------------------------------
def data_models_dir() -> Path:
    """SHOUHOU_DATA_DIR/assistant-models (settings.DATA_DIR when Django is configured)."""
    try:
        from django.conf import settings

        if settings.configured:
            return Path(settings.DATA_DIR) / MODELS_SUBDIR
    except ImportError:  # pragma: no cover - Django is a dependency
        pass
    return Path(os.environ.get("SHOUHOU_DATA_DIR", Path.cwd() / "var")).resolve() / MODELS_SUBDIR


def model_path(name: str) -> Path | None:
    """The directory the named model is served from: the data dir's when train wrote one
    there, else the package's; None when neither has it."""
    for directory in (data_models_dir(), PACKAGED_MODELS):
        if (directory / f"{name}.npz").is_file() and (directory / f"{name}.json").is_file():
            return directory
    return None


class _Registry:
    """Models loaded once per process, thread-safe; re-checked for a retrained file at
    most every RELOAD_CHECK_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, tuple[LinearModel | None, Path | None, float, float]] = {}

    def get(self, name: str) -> LinearModel | None:
        entry = self._models.get(name)
        now = time.monotonic()
        if entry is not None and now - entry[3] < RELOAD_CHECK_SECONDS:
            return entry[0]
        with self._lock:
            entry = self._models.get(name)
            if entry is not None and now - entry[3] < RELOAD_CHECK_SECONDS:
                return entry[0]
            directory = model_path(name)
            mtime = _mtime(directory, name)
            if entry is not None and entry[1] == directory and entry[2] == mtime:
                self._models[name] = (entry[0], directory, mtime, now)
                return entry[0]
            model = _load(name, directory)
            self._models[name] = (model, directory, mtime, now)
            return model

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


def _load(name: str, directory: Path | None) -> LinearModel | None:
    """The model from `directory`; a retrained file that does not load (another format, a
    damaged copy) is logged and the packaged one is served instead of failing every call."""
    from .linear import LinearModel

    if directory is None:
        return None
    try:
        return LinearModel.load(directory, name)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        if directory == PACKAGED_MODELS:
            raise
        logger.error("assistant model %s in %s does not load (%s); using the packaged one",
                     name, directory, exc)  # fmt: skip
        if (PACKAGED_MODELS / f"{name}.npz").is_file():
            return LinearModel.load(PACKAGED_MODELS, name)
        return None


def _mtime(directory: Path | None, name: str) -> float:
    if directory is None:
        return 0.0
    try:
        return (directory / f"{name}.npz").stat().st_mtime
    except OSError:
        return 0.0


_registry = _Registry()


def model(name: str) -> LinearModel | None:
    """The named model (sentiment, intent, reason, case_type), or None if none is installed."""
    return _registry.get(name)


def reload() -> None:
    """Forget loaded models; the next call loads them again (after `train`)."""
    _registry.clear()


def warm() -> None:
    """Load jieba and every model now, so the first buyer of a fresh server process does
    not wait the second or so they take (the server calls this as each worker starts)."""
    for name in ("intent", "sentiment", "reason", "case_type"):
        model(name)
    words("预热")


# --- classifiers ----------------------------------------------------------------------------
def _classify(name: str, texts: list[str], empty: Label) -> list[Label]:
    norm = [normalize(t) for t in texts]
    out: list[Label] = [empty] * len(norm)
    todo = [i for i, t in enumerate(norm) if t]
    m = model(name) if todo else None
    if m is None:
        return out
    proba = m.proba([norm[i] for i in todo])
    best = proba.argmax(axis=1)
    for row, i in enumerate(todo):
        j = int(best[row])
        out[i] = Label(m.classes[j], round(float(proba[row, j]), 6))
    return out


def intents(texts: list[str]) -> list[Label]:
    """Intent of each buyer message (one of INTENTS); empty text → Label("other", 0.0)."""
    return _classify("intent", list(texts), EMPTY_INTENT)


def intent(text: str) -> Label:
    return intents([text])[0]


def sentiments(texts: list[str]) -> list[Label]:
    """Sentiment of each text, "positive" or "negative" with its probability; empty text →
    Label("positive", 0.5): no evidence either way, and nothing to escalate."""
    return _classify("sentiment", list(texts), EMPTY_SENTIMENT)


def sentiment(text: str) -> Label:
    return sentiments([text])[0]


def negative_probability(label: Label) -> float:
    return label.score if label.label == "negative" else 1.0 - label.score


def anger_words(text: str) -> list[str]:
    """The escalation words found in the (normalised) text."""
    return [m.group(0) for m in _ANGER_RE.finditer(normalize(text))]


def is_angry(text: str) -> bool:
    """Escalation words (投诉, 12315, 差评, 骗子 …), or strongly negative with an intensity
    marker (see ANGRY_NEGATIVE)."""
    norm = normalize(text)
    if not norm:
        return False
    if _ANGER_RE.search(norm):
        return True
    return bool(_INTENSITY_RE.search(norm)) and (
        negative_probability(sentiment(text)) >= ANGRY_NEGATIVE
    )


def reasons(texts: list[str]) -> list[Label]:
    """Case reason (a shouhou.cases.lifecycle.Reason code) of each description."""
    return _classify("reason", list(texts), EMPTY_REASON)


def reason(text: str) -> Label:
    return reasons([text])[0]


def triage(text: str) -> Triage:
    """Suggested reason and case type for a case description: the most probable
    (reason, type) pair that the default policy allows (DEFAULT_REASON_TYPES).
    type_score is the type's probability among the types allowed for that reason."""
    from shouhou.cases.lifecycle import DEFAULT_REASON_TYPES, CaseType, Reason

    norm = normalize(text)
    reason_model = model("reason") if norm else None
    type_model = model("case_type") if norm else None
    if reason_model is None:
        return Triage("other", 0.0, _default_type("other"), 0.0)
    r_proba = reason_model.proba([norm])[0]
    if type_model is None:
        j = int(r_proba.argmax())
        code = reason_model.classes[j]
        return Triage(code, float(r_proba[j]), _default_type(code), 0.0)
    t_proba = dict(zip(type_model.classes, type_model.proba([norm])[0].tolist(), strict=True))
    best: tuple[float, str, str, float, float] | None = None
    for r_code, p_r in zip(reason_model.classes, r_proba.tolist(), strict=True):
        allowed = [t.value for t in DEFAULT_REASON_TYPES.get(Reason(r_code), set(CaseType))]
        total = sum(t_proba.get(t, 0.0) for t in allowed)
        for t in allowed:
            p_t = t_proba.get(t, 0.0)
            joint = p_r * p_t
            if best is None or joint > best[0]:
                best = (joint, r_code, t, p_r, p_t / total if total else 0.0)
    assert best is not None
    _, r_code, t_code, p_r, p_t = best
    return Triage(r_code, round(p_r, 6), t_code, round(p_t, 6))


def _default_type(reason_code: str) -> str:
    """A type the policy allows for the reason, for when no type model is installed."""
    from shouhou.cases.lifecycle import DEFAULT_REASON_TYPES, CaseType, Reason

    allowed = DEFAULT_REASON_TYPES.get(Reason(reason_code), frozenset(CaseType))
    for preferred in (CaseType.RETURN_REFUND, CaseType.REFUND_ONLY):
        if preferred in allowed:
            return preferred.value
    return sorted(t.value for t in allowed)[0]


__all__ = [
    "ANGER_WORDS",
    "INTENTS",
    "INTENT_LABELS",
    "SENTIMENTS",
    "Label",
    "Triage",
    "anger_words",
    "intent",
    "intents",
    "is_angry",
    "model",
    "normalize",
    "reason",
    "reasons",
    "reload",
    "sentiment",
    "sentiments",
    "triage",
]
