"""Who is calling the API: a shop's API key, a staff session, or a buyer's portal token.

Each authenticator returns an `Actor` (ninja stores it as `request.auth`) and leaves the
caller's shop on the request, so handlers never look a shop up from client input. A buyer
token is also bound to one order: `buyer_order_id(request)` says which.

Order matters: ninja stops at the first authenticator that raises, and the session check
raises on a failed CSRF check, so the header-based ones run first.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, APIKeyHeader, HttpBearer
from ninja.utils import check_csrf

from shouhou.cases.actors import Actor
from shouhou.cases.lifecycle import ActorRole
from shouhou.core.errors import ShouhouError
from shouhou.core.models import ApiKey, Shop, StaffMember

LAST_USED_GRANULARITY = timedelta(minutes=1)
BUYER_TOKEN_SALT = "shouhou.portal.buyer-token"
# The same cost as a real lookup, so a wrong prefix and a wrong secret take equally long.
_DUMMY_HASH = hashlib.sha256(b"shouhou-no-such-key").hexdigest()


def _remember(request: HttpRequest, shop: Shop, order_id: int | None = None) -> None:
    request.shouhou_shop = shop  # type: ignore[attr-defined]
    request.shouhou_order_id = order_id  # type: ignore[attr-defined]


def current_actor(request: HttpRequest) -> Actor:
    return request.auth  # type: ignore[attr-defined,return-value]


def current_shop(request: HttpRequest) -> Shop:
    return request.shouhou_shop  # type: ignore[attr-defined,no-any-return]


def buyer_order_id(request: HttpRequest) -> int | None:
    """The one order a buyer token reaches; None for staff and API keys."""
    return getattr(request, "shouhou_order_id", None)


def require_roles(actor: Actor, roles: set[ActorRole] | frozenset[ActorRole]) -> None:
    if actor.role not in roles:
        raise ShouhouError("permission_denied", role=actor.role.value)


# --- API keys -----------------------------------------------------------------------------
def actor_for_api_key(request: HttpRequest, secret: str | None) -> Actor | None:
    """`sh_<prefix>_<secret>`: find the key by its prefix, compare SHA-256 in constant time."""
    if not secret or not secret.startswith("sh_"):
        return None
    parts = secret.strip().split("_", 2)
    if len(parts) != 3 or not parts[1] or len(parts[1]) > 16:
        return None
    key = ApiKey.objects.select_related("shop").filter(prefix=parts[1]).first()
    given = ApiKey.hash_secret(secret.strip())
    if not hmac.compare_digest(given, key.key_hash if key else _DUMMY_HASH) or key is None:
        return None
    if key.revoked_at is not None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_GRANULARITY:
        # A guarded UPDATE: busy integrations write this row once a minute, not per call.
        ApiKey.objects.filter(pk=key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_GRANULARITY)
        ).update(last_used_at=now)
    _remember(request, key.shop)
    return Actor(
        role=ActorRole.INTEGRATION,
        shop_id=key.shop_id,
        label=f"API：{key.name}"[:120],
        api_key_id=key.id,
    )


class ApiKeyBearer(HttpBearer):
    """`Authorization: Bearer sh_<prefix>_<secret>`."""

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        return actor_for_api_key(request, token)


class ApiKeyInHeader(APIKeyHeader):
    """`X-API-Key: sh_<prefix>_<secret>` for clients that cannot set Authorization."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        return actor_for_api_key(request, key)


# --- buyer tokens -------------------------------------------------------------------------
def buyer_token_max_age() -> int:
    return int(getattr(settings, "SHOUHOU_BUYER_TOKEN_MAX_AGE", 2 * 3600))


def issue_buyer_token(shop_id: int, customer_id: int, order_id: int) -> str:
    signer = signing.TimestampSigner(salt=BUYER_TOKEN_SALT)
    return signer.sign_object({"s": shop_id, "c": customer_id, "o": order_id}, compress=True)


def read_buyer_token(token: str) -> dict | None:
    signer = signing.TimestampSigner(salt=BUYER_TOKEN_SALT)
    try:
        data = signer.unsign_object(token, max_age=buyer_token_max_age())
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in "sco"):
        return None
    return data


PORTAL_MAX_FAILURES_PER_ORDER = 5
PORTAL_MAX_FAILURES_PER_CLIENT = 30
PORTAL_LOCK_MINUTES = 15


def open_buyer_session(
    *, shop_code: str, order_external_id: str, phone_last4: str, client: str = ""
) -> tuple[str, int]:
    """The buyer names the order and the phone's last four digits; return (token, order id).

    Four digits are only 10,000 guesses, so wrong answers are counted per order and per
    client in the cache and lock both out for a while; a wrong shop, order or phone all
    answer the same `not_found`, so nothing tells which part was wrong.
    """
    from django.core.cache import cache

    from shouhou.orders.models import Order

    order_key = (
        "portal-fail:o:" + hashlib.sha256(f"{shop_code}|{order_external_id}".encode()).hexdigest()
    )
    client_key = "portal-fail:c:" + hashlib.sha256(client.encode()).hexdigest()
    if (cache.get(order_key) or 0) >= PORTAL_MAX_FAILURES_PER_ORDER or (
        cache.get(client_key) or 0
    ) >= PORTAL_MAX_FAILURES_PER_CLIENT:
        raise ShouhouError("too_many_attempts", minutes=PORTAL_LOCK_MINUTES)
    order = (
        Order.objects.select_related("customer")
        .filter(shop__code=shop_code, external_id=order_external_id)
        .first()
    )
    expected = ""
    if order is not None:
        expected = order.customer.phone_last4 or (order.receiver_phone or "")[-4:]
    if not (expected and hmac.compare_digest(expected.encode(), phone_last4.encode())):
        for key in (order_key, client_key):
            cache.add(key, 0, PORTAL_LOCK_MINUTES * 60)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, PORTAL_LOCK_MINUTES * 60)
        raise ShouhouError("not_found", what="订单")
    cache.delete(order_key)
    return issue_buyer_token(order.shop_id, order.customer_id, order.id), order.id


class BuyerToken(APIKeyHeader):
    """`X-Buyer-Token` from POST /api/v1/portal/session: one buyer, one order."""

    param_name = "X-Buyer-Token"

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        if not key:
            return None
        data = read_buyer_token(key)
        if data is None:
            return None
        shop = Shop.objects.filter(pk=data["s"]).first()
        if shop is None:
            return None
        _remember(request, shop, order_id=data["o"])
        return Actor(role=ActorRole.BUYER, shop_id=shop.id, customer_id=data["c"], label="买家")


# --- staff sessions -----------------------------------------------------------------------
class StaffSession(APIKeyCookie):
    """Django's session cookie; the actor's role is the staff member's role in the shop.

    Staff in several shops name one with `X-Shop: <code>` or `?shop=<code>`. Unsafe methods
    need the CSRF token, as every Django form does.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # no session: no CSRF check either, so other credentials may follow
        if (
            request.method not in {"GET", "HEAD", "OPTIONS", "TRACE"}
            and not getattr(request, "_ninja_csrf_exempt", False)
            and check_csrf(request) is not None
        ):
            raise ShouhouError("csrf_failed")
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        members = StaffMember.objects.select_related("shop").filter(user=user, is_active=True)
        code = (request.headers.get("X-Shop") or request.GET.get("shop") or "").strip()
        if code and (len(code) > 40 or not code.isprintable()):
            raise ShouhouError("not_found", what="店铺")  # never reaches the database
        if code:
            member = members.filter(shop__code=code).first()
            if member is None:
                raise ShouhouError("not_found", what="店铺")
        else:
            found = list(members[:2])
            if not found:
                raise ShouhouError("permission_denied", role="—")
            if len(found) > 1:
                raise ShouhouError("shop_ambiguous")
            member = found[0]
        _remember(request, member.shop)
        return Actor(
            role=ActorRole(member.role),
            shop_id=member.shop_id,
            staff_id=member.id,
            label=(member.display_name or user.get_username())[:120],
        )


# Header credentials first: a failed CSRF check in the session auth ends the search.
API_AUTH = [ApiKeyBearer(), ApiKeyInHeader(), BuyerToken(), StaffSession()]
