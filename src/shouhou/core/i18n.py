"""Chinese first, English through the language switch.

Pages keep both wordings side by side where they are written (`{% tr "队列" "Queue" %}`),
so a template reads in both languages and no catalogue can drift from it. Pages are
Chinese unless the visitor used the switch (Django's `set_language` cookie); the API
follows Accept-Language (core/middleware.py).
"""

from __future__ import annotations

from django.utils import translation


def is_english(lang: str | None = None) -> bool:
    return (lang or translation.get_language() or "zh-hans").lower().startswith("en")


def tr(zh: str, en: str, lang: str | None = None) -> str:
    """The wording for the active language."""
    return en if is_english(lang) else zh
