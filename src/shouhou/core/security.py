"""Security headers Django's own middleware does not send: Content-Security-Policy and
Permissions-Policy.

Every page gets a fresh nonce (`request.csp_nonce`); the few inline <script> blocks carry
it (`<script nonce="{{ request.csp_nonce }}">`), so an injected script without it does not
run. Styles may be inline (the templates use style="" attributes), scripts may not: event
handler attributes (onclick=…) are refused by the policy, so pages wire them in app.js.
No 'unsafe-eval': nothing uses htmx's evaluated attributes (hx-vals="js:…", hx-on, trigger
filters) — the chat and conversation pollers add their parameters in app.js, and
htmx.config.allowEval is off (base.html's meta tag) so a stray one fails closed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), "
    "gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()"
)


def content_security_policy(nonce: str) -> str:
    extra = getattr(settings, "SHOUHOU_CSP_EXTRA", "")
    policy = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        # Photo previews before upload are blob: URLs; ECharts exports use data: images.
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    if extra:
        policy.append(extra)
    return "; ".join(policy)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = SimpleLazyObject(lambda: secrets.token_urlsafe(16))  # type: ignore[attr-defined]
        response = self.get_response(request)
        # Pages get the policy; files (evidence PDFs and videos, JSON) do not — nosniff and
        # their content type keep them from running as a page, and a policy on a PDF can
        # stop the browser's own viewer.
        if response.get("Content-Type", "").startswith("text/html"):
            nonce = str(request.csp_nonce)  # type: ignore[attr-defined]
            response.headers.setdefault("Content-Security-Policy", content_security_policy(nonce))
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response
