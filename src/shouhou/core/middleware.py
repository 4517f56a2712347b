"""Which language a request is answered in."""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class LanguageMiddleware(LocaleMiddleware):
    """Pages are Chinese unless the visitor pressed the language switch (its cookie); a
    merchant's team in an English-language browser still works in the shop's language.
    The API follows `Accept-Language`, as integrators expect."""

    def process_request(self, request):
        if request.path_info.startswith("/api/"):
            return super().process_request(request)
        lang = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if lang not in dict(settings.LANGUAGES):
            lang = settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = translation.get_language()
