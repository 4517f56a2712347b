"""What every staff page shares: who is logged in, in which shop, with which role.

A view declares the roles it serves with `@staff_page(Role.AGENT, ...)`; the decorator
sends anonymous visitors to the login page, finds the member's shop (the one chosen in the
session, or the only one), answers 403 with a page when the role may not be here, and
leaves `request.member`, `request.shop` and `request.actor` for the view. Views stay thin:
they parse a form, call a service through `attempt`, and render.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation

from shouhou.cases.actors import Actor
from shouhou.cases.lifecycle import ActorRole
from shouhou.core.errors import ShouhouError
from shouhou.core.models import Role, StaffMember

SHOP_SESSION_KEY = "shouhou_shop_code"
T = TypeVar("T")

# Where each role lands after logging in.
HOME_BY_ROLE = {
    Role.AGENT: "/wb/",
    Role.ADMIN: "/wb/",
    Role.WAREHOUSE: "/wb/warehouse/",
    Role.FINANCE: "/wb/finance/",
    Role.ARBITER: "/wb/arbitration/",
}


def memberships(user) -> list[StaffMember]:
    return list(
        StaffMember.objects.select_related("shop")
        .filter(user=user, is_active=True)
        .order_by("shop__name", "id")
    )


def current_member(request: HttpRequest) -> StaffMember | None:
    """The membership this session works in: the chosen shop, else the first one."""
    if not request.user.is_authenticated:
        return None
    found = memberships(request.user)
    if not found:
        return None
    code = request.session.get(SHOP_SESSION_KEY)
    for member in found:
        if member.shop.code == code:
            return member
    return found[0]


def actor_for(member: StaffMember) -> Actor:
    return Actor(
        role=ActorRole(member.role),
        shop_id=member.shop_id,
        staff_id=member.id,
        label=(member.display_name or member.user.get_username())[:120],
    )


def home_for(member: StaffMember | None) -> str:
    if member is None:
        return "/login/"
    return HOME_BY_ROLE.get(Role(member.role), "/wb/")


def forbidden(request: HttpRequest, why: str = "") -> HttpResponse:
    return render(request, "403.html", {"why": why}, status=403)


def staff_page(*roles: str) -> Callable:
    """Only logged-in staff of the current shop with one of `roles` reach the view."""
    allowed = {str(r) for r in roles}

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), "/login/")
            member = current_member(request)
            if member is None:
                return forbidden(request, "no_shop")
            if allowed and member.role not in allowed:
                return forbidden(request, "role")
            request.member = member  # type: ignore[attr-defined]
            request.shop = member.shop  # type: ignore[attr-defined]
            request.actor = actor_for(member)  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        guarded.staff_roles = allowed  # type: ignore[attr-defined]
        return guarded

    return decorate


def error_text(exc: ShouhouError) -> str:
    return exc.message(translation.get_language() or "zh-hans")


def attempt(request: HttpRequest, work: Callable[[], T], *, success: str = "") -> T | None:
    """Run a service call; on a ShouhouError show its message on the page and return None.

    The service's own transaction has rolled back by then, so a refused action leaves
    nothing half-written.
    """
    try:
        result = work()
    except ShouhouError as exc:
        messages.error(request, error_text(exc), extra_tags=exc.code)
        return None
    if success:
        messages.success(request, success)
    return result


def int_or_none(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def ids_from(values: Iterable[Any]) -> list[int]:
    return [n for n in (int_or_none(v) for v in values) if n is not None]
