"""The customer page (shop admin: export, erase) and reveal (admin and agent, audited).

Views stay thin: every read of a full value and every export or erasure goes through
`shouhou.customers.privacy`, which checks the role and writes the audit log.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from shouhou.core.crypto import mask_name
from shouhou.core.errors import ShouhouError
from shouhou.core.i18n import tr
from shouhou.core.models import Role
from shouhou.core.web import attempt, error_text, staff_page
from shouhou.customers import privacy
from shouhou.customers import selectors as customer_selectors
from shouhou.customers.models import Customer
from shouhou.orders.models import Order

REVEAL_ROLES = (Role.ADMIN, Role.AGENT)


def _customer_or_404(request: HttpRequest, customer_id: int) -> Customer:
    customer = Customer.objects.filter(shop=request.shop, pk=customer_id).first()
    if customer is None:
        raise Http404
    return customer


@require_GET
@staff_page(Role.ADMIN)
def customer_page(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer_or_404(request, customer_id)
    archive = customer_selectors.archive(request.shop.id, customer.id, limit=50)
    orders = list(
        Order.objects.filter(shop=request.shop, customer=customer).order_by("-placed_at", "-id")[
            :50
        ]
    )
    context = {
        "customer": customer,
        "name_masked": mask_name(customer.name),
        "archive": archive,
        "orders": orders,
        "open_cases": sum(
            1 for c in archive["cases"] if c["status"] not in {"completed", "closed"}
        ),
    }
    return render(request, "workbench/customers/page.html", context)


def _back(request: HttpRequest) -> str:
    """The page to go back to: a path on this site only (never `//evil.com`, a scheme or
    another host — the link would be an open redirect)."""
    back = request.POST.get("next", "")
    ok = back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return back if ok else ""


def _revealed(request: HttpRequest, value: str, testid: str) -> HttpResponse:
    context = {"value": value, "testid": testid, "back": _back(request)}
    if request.headers.get("HX-Request"):
        response = render(request, "workbench/customers/_revealed.html", context)
    else:
        response = render(request, "workbench/customers/revealed.html", context)
    # A full phone or address: kept by no cache, shared or the browser's (back button).
    add_never_cache_headers(response)
    return response


@require_POST
@staff_page(*REVEAL_ROLES)
def reveal(request: HttpRequest, customer_id: int, field: str) -> HttpResponse:
    if field not in privacy.REVEALABLE:
        raise Http404
    try:
        values = privacy.reveal_customer(request.actor, customer_id, [field])
    except ShouhouError as exc:
        if exc.code == "not_found":
            raise Http404 from None
        return HttpResponse(error_text(exc), status=exc.status)
    return _revealed(request, values[field] or "—", f"customer-{field}")


@require_POST
@staff_page(*REVEAL_ROLES)
def reveal_receiver(
    request: HttpRequest, customer_id: int, order_id: int, field: str
) -> HttpResponse:
    if field not in privacy.REVEALABLE:
        raise Http404
    if not Order.objects.filter(shop=request.shop, customer_id=customer_id, pk=order_id).exists():
        raise Http404
    try:
        values = privacy.reveal_order_receiver(request.actor, order_id, [field])
    except ShouhouError as exc:
        return HttpResponse(error_text(exc), status=exc.status)
    return _revealed(request, values[field] or "—", f"receiver-{field}")


@require_POST
@staff_page(Role.ADMIN)
def export(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer_or_404(request, customer_id)
    data = attempt(request, lambda: privacy.export_customer(request.actor, customer.id))
    if data is None:
        return HttpResponseRedirect(f"/wb/customers/{customer.id}/")
    body = json.dumps(data, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    name = f"customer-{request.shop.code}-{customer.id}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    add_never_cache_headers(response)
    return response


@require_POST
@staff_page(Role.ADMIN)
def erase(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer_or_404(request, customer_id)
    back = HttpResponseRedirect(f"/wb/customers/{customer.id}/")
    if request.POST.get("confirm", "").strip() != customer.external_id:
        messages.error(
            request,
            tr(
                "买家ID不一致，未删除：请输入该客户的买家ID以确认",
                "Nothing erased: type the customer's buyer id to confirm",
            ),
        )
        return back
    attempt(
        request,
        lambda: privacy.erase_customer(request.actor, customer.id),
        success=tr("已删除该客户的个人信息", "The customer's personal data was erased"),
    )
    return back
