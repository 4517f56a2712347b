"""Pages every role shares: log in and out, the start page, switching shop."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .web import SHOP_SESSION_KEY, current_member, home_for, memberships


class LoginView(auth_views.LoginView):
    template_name = "login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return home_for(current_member(self.request))


def home(request: HttpRequest) -> HttpResponse:
    """Staff land on their role's page; everyone else on the buyer portal."""
    if request.user.is_authenticated:
        member = current_member(request)
        if member is not None:
            return HttpResponseRedirect(home_for(member))
        if request.user.is_staff:
            return HttpResponseRedirect("/admin/")
    return HttpResponseRedirect("/portal/")


@require_POST
def switch_shop(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/login/")
    code = request.POST.get("shop", "")
    for member in memberships(request.user):
        if member.shop.code == code:
            request.session[SHOP_SESSION_KEY] = code
            return HttpResponseRedirect(home_for(member))
    return HttpResponseRedirect("/")


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return fallback


def lockout(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer once a username + IP is locked: a page saying until when."""
    import math

    from axes.helpers import get_cool_off
    from django.shortcuts import render

    from . import clock

    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    until = timezone.localtime(timezone.now() + cool_off, clock.SHANGHAI) if cool_off else None
    response = render(
        request,
        "lockout.html",
        {"until": until, "minutes": max(1, math.ceil(seconds / 60)) if seconds else 0},
        status=429,
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
