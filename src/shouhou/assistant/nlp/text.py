"""Text the assistant reads: one normalisation and one tokenizer for every model.

Buyers write 繁體 and 简体, full-width digits, emoji, pasted HTML and whole essays; every
model and the FAQ index see the same cleaned text, so what was trained is what is served.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import unicodedata

import jieba
import zhconv

# A chat message longer than this is an essay or a paste: the start carries the ask, and
# the cap keeps a 100 KB message from costing more than a normal one.
MAX_CHARS = 2000

# Only real markup (a tag name, a closing tag, a comment or doctype) is removed: a buyer's
# "预算<100元，尺码要>XL" keeps its words.
_TAG_RE = re.compile(r"</?[a-zA-Z!][^<>]{0,500}>")
_SPACE_RE = re.compile(r"\s+")
_jieba_lock = threading.Lock()
_jieba_ready = False


def normalize(text: str | None) -> str:
    """Plain, simplified, lower-case text with markup removed and spaces collapsed."""
    if not text:
        return ""
    text = str(text)[: MAX_CHARS * 4]
    text = html.unescape(_TAG_RE.sub(" ", text))
    text = unicodedata.normalize("NFKC", text)
    text = zhconv.convert(text, "zh-cn")
    text = _SPACE_RE.sub(" ", text).strip().lower()
    return text[:MAX_CHARS]


def _ensure_jieba() -> None:
    global _jieba_ready
    if _jieba_ready:
        return
    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(logging.WARNING)
            # jieba caches its prefix dictionary in the temp dir, never in the source tree.
            jieba.initialize()
            _jieba_ready = True


def words(text: str) -> list[str]:
    """jieba words of already-normalised text, without spaces and lone punctuation."""
    if not text:
        return []
    _ensure_jieba()
    return [w for w in jieba.lcut(text) if w.strip() and not _is_punct(w)]


def char_ngrams(text: str, sizes: tuple[int, ...] = (1, 2, 3)) -> list[str]:
    """Character n-grams of already-normalised text (spaces dropped): robust to typos,
    pinyin fragments and words jieba does not know."""
    compact = text.replace(" ", "")
    return [compact[i : i + n] for n in sizes for i in range(len(compact) - n + 1)]


def _is_punct(token: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PZS" for ch in token)
