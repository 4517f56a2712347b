"""Rate limits on the buyer portal and the API, counted in Django's cache.

Fixed windows: a counter per (scope, who, window number) in the cache, created with
`add` and bumped with `incr`, so every gunicorn worker that shares the cache (Redis, or the
file cache on one machine) shares the count. Who is counted:

- `/portal/` and `/help/`: the client IP, limit `SHOUHOU_RATE_LIMIT_PORTAL`;
- `/api/v1/` with a live API key (`Authorization: Bearer sh_<prefix>_…` or `X-API-Key`,
  checked against a cached map of active keys — a made-up or revoked key is anonymous): the
  key's prefix, limit `SHOUHOU_RATE_LIMIT_API` — an ERP pushing orders at a 双11 peak has
  its own bucket, not one shared with the shop's other integrations or buyers;
- `/api/v1/` with a staff session: the user, limit `SHOUHOU_RATE_LIMIT_API`;
- any other API call (buyer tokens, no credentials): the client IP, limit
  `SHOUHOU_RATE_LIMIT_PORTAL`.

A limit is written "1200/m" (per s, m, h or d); "0", "off" or "" turns it off. Over the
limit the API answers 429 `{"code": "rate_limited", ...}` and a page answers a 429 page,
both with `Retry-After`.

The client IP is REMOTE_ADDR. `X-Forwarded-For` is read only when REMOTE_ADDR is one of
`SHOUHOU_TRUSTED_PROXIES` (addresses or networks): then the right-most address in it that
is not itself a trusted proxy is the client, so a buyer cannot pick their own IP by
sending the header.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .errors import ShouhouError

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LIMIT = re.compile(r"^(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*$")
# The wall clock the windows are cut from; tests move it instead of sleeping.
now: Callable[[], float] = time.time


@dataclass(frozen=True)
class Limit:
    count: int
    period: int  # seconds


@lru_cache(maxsize=32)
def parse_limit(text: str | None) -> Limit | None:
    """'1200/m' → Limit(1200, 60), '50/10s' → Limit(50, 10); '0', 'off', '' → None."""
    text = (text or "").strip().lower()
    if text in {"", "0", "off", "none", "false"}:
        return None
    match = _LIMIT.match(text)
    if match is None:
        raise ValueError(f"rate limit {text!r}: write it like '1200/m' or 'off'")
    count, times, unit = int(match[1]), int(match[2] or 1), match[3]
    if count == 0:
        return None
    return Limit(count, times * PERIODS[unit])


# --- who is calling -----------------------------------------------------------------------
@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip())


def _trusted(addr: str) -> bool:
    spec = getattr(settings, "SHOUHOU_TRUSTED_PROXIES", ()) or ()
    if isinstance(spec, str):
        spec = spec.split(",")
    nets = _networks(tuple(spec))
    if not nets:
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def client_ip(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or what a trusted proxy says it forwarded for.

    Also django-axes' AXES_CLIENT_IP_CALLABLE, so lockouts and limits agree on who it is.
    """
    remote = (request.META.get("REMOTE_ADDR") or "").strip()
    if not _trusted(remote):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote  # a garbled header: trust nothing in it
        if not _trusted(hop):
            return hop
    return hops[0] if hops else remote


# Active API keys as {prefix: first 16 hex of the key's SHA-256}, one cache entry shared by
# every worker, rebuilt from the database at most once a minute and dropped whenever a key is
# saved or deleted (signals wired in CoreConfig.ready), so a revoked key stops counting as a
# key at once in this process and within KEYS_TTL everywhere.
KEYS_CACHE = "rl:api-keys:v1"
KEYS_TTL = 60
_FRAGMENT = 16


def _active_keys() -> dict[str, str]:
    keys = cache.get(KEYS_CACHE)
    if keys is None:
        from .models import ApiKey

        keys = {
            prefix: key_hash[:_FRAGMENT]
            for prefix, key_hash in ApiKey.objects.filter(revoked_at__isnull=True).values_list(
                "prefix", "key_hash"
            )
        }
        cache.set(KEYS_CACHE, keys, KEYS_TTL)
    return keys


def forget_api_keys(**_kwargs) -> None:
    """Signal receiver: an API key was issued, revoked or deleted."""
    cache.delete(KEYS_CACHE)


def _api_key_prefix(request: HttpRequest) -> str | None:
    """The prefix of a live API key this request carries, else None.

    Only a key that exists, is not revoked and whose secret hashes right gets its own bucket:
    a made-up `sh_<x>_…` per request (or a real prefix with a wrong secret) is counted like
    any other anonymous call, under the client IP. Costs one cache read and one SHA-256.
    """
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    secret = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    secret = secret or request.META.get("HTTP_X_API_KEY", "").strip()
    if not secret.startswith("sh_"):
        return None
    parts = secret.split("_", 2)
    if len(parts) != 3 or not parts[1] or len(parts[1]) > 16:
        return None
    fragment = _active_keys().get(parts[1])
    if fragment is None:
        return None
    given = hashlib.sha256(secret.encode()).hexdigest()[:_FRAGMENT]
    if not hmac.compare_digest(given, fragment):
        return None
    return parts[1]


def bucket_for(request: HttpRequest) -> tuple[str, str, Limit | None] | None:
    """(scope, who, limit) for this request; None when no limit applies to its path."""
    path = request.path_info
    portal = parse_limit(getattr(settings, "SHOUHOU_RATE_LIMIT_PORTAL", ""))
    if path.startswith(("/portal/", "/help/")):
        return "portal", "ip:" + client_ip(request), portal
    if path.startswith("/api/"):
        api = parse_limit(getattr(settings, "SHOUHOU_RATE_LIMIT_API", ""))
        prefix = _api_key_prefix(request)
        if prefix:
            return "api", "key:" + prefix, api
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return "api", f"user:{user.pk}", api
        return "api-anon", "ip:" + client_ip(request), portal
    return None


# --- counting -----------------------------------------------------------------------------
def hit(scope: str, who: str, limit: Limit) -> int | None:
    """Count one request; None when it is within the limit, else seconds until the window
    resets (for Retry-After)."""
    t = now()
    window = int(t // limit.period)
    digest = hashlib.sha256(who.encode()).hexdigest()[:32]
    key = f"rl:{scope}:{limit.period}:{digest}:{window}"
    # The counter outlives its window a little so a slow clock skew cannot revive it.
    cache.add(key, 0, limit.period + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, limit.period + 5)
        count = 1
    if count <= limit.count:
        return None
    return max(1, math.ceil((window + 1) * limit.period - t))


def limited_response(
    request: HttpRequest, scope: str, retry_after: int, limit: Limit
) -> HttpResponse:
    if scope.startswith("api"):
        from shouhou.api import language

        lang = language(request)
        error = ShouhouError(
            "rate_limited", retry_after=retry_after, limit=limit.count, period=limit.period
        )
        response = HttpResponse(
            json.dumps(error.as_dict(lang), ensure_ascii=False),
            status=429,
            content_type="application/json; charset=utf-8",
        )
        response["Content-Language"] = lang
    else:
        response = render(
            request,
            "ratelimited.html",
            {"retry_after": retry_after, "retry_minutes": max(1, math.ceil(retry_after / 60))},
            status=429,
        )
    response["Retry-After"] = str(retry_after)
    return response


class RateLimitMiddleware:
    """Place after AuthenticationMiddleware: staff API calls are counted per user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bucket = bucket_for(request)
        if bucket is not None and bucket[2] is not None:
            scope, who, limit = bucket
            retry_after = hit(scope, who, limit)
            if retry_after is not None:
                return limited_response(request, scope, retry_after, limit)
        return self.get_response(request)
