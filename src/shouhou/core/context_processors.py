from __future__ import annotations

from django.http import HttpRequest

from .web import memberships


def staff(request: HttpRequest) -> dict:
    """The shops a logged-in staff member may switch between (for the top bar)."""
    if getattr(request, "member", None) is None:
        return {}
    return {"staff_memberships": memberships(request.user)}
