"""Staff login lockout: django-axes' database handler plus a lock on the client IP alone.

axes counts failures per username + IP (AXES_LOCKOUT_PARAMETERS) and locks that pair after
AXES_FAILURE_LIMIT. That alone lets one address spray a few passwords at every username, so
this handler also locks the IP once its failures over all usernames within the cool-off
reach SHOUHOU_LOGIN_IP_FAILURE_LIMIT (30 by default, higher than the per-user limit so an
office behind one NAT address does not lock itself out over a few typos). axes applies one
limit to every parameter combination, which is why the IP lock is here and not a second
entry in AXES_LOCKOUT_PARAMETERS.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_ip_address, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone


def ip_failure_limit() -> int:
    return int(getattr(settings, "SHOUHOU_LOGIN_IP_FAILURE_LIMIT", 30) or 0)


class LoginLockoutHandler(AxesDatabaseHandler):
    def ip_failures(self, request) -> int:
        ip = getattr(request, "axes_ip_address", None) or get_client_ip_address(request)
        attempts = AccessAttempt.objects.filter(ip_address=ip)
        cool_off = get_cool_off(request)
        if cool_off:
            attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
        return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0

    def ip_locked(self, request) -> bool:
        limit = ip_failure_limit()
        return bool(limit) and self.ip_failures(request) >= limit

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        return super().is_locked(request, credentials) or self.ip_locked(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and not getattr(request, "axes_locked_out", False):
            if self.ip_locked(request):
                request.axes_locked_out = True
                request.axes_credentials = credentials
