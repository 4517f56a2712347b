"""/wb/settings/…: the shop admin's pages. Thin: parse the form, call the service through
`attempt`, redirect after a write (POST/redirect/GET) or show the form again with the error.
Only the shop's admin reaches them; every id is looked up within the admin's shop."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from shouhou.assistant import services as knowledge
from shouhou.assistant.models import CannedReply, FaqEntry
from shouhou.cases import policies
from shouhou.cases.models import ReturnAddress
from shouhou.core import services as core_services
from shouhou.core.i18n import tr
from shouhou.core.models import Role
from shouhou.core.web import attempt, int_or_none, staff_page
from shouhou.rules import services as rule_services

from . import selectors
from .forms import (
    ApiKeyForm,
    CannedForm,
    FaqForm,
    PolicyForm,
    ReturnAddressForm,
    StaffAddForm,
    first_error,
)

admin_only = staff_page(Role.ADMIN)
INVALID = 422


def _page(
    request: HttpRequest, template: str, tab: str, status: int = 200, **context
) -> HttpResponse:
    return render(
        request, f"workbench/shopadmin/{template}", {"tab": tab, **context}, status=status
    )


def _form_error(request: HttpRequest, form) -> None:
    messages.error(request, first_error(form), extra_tags="form_invalid")


def _move(request: HttpRequest) -> int:
    return -1 if request.POST.get("direction") == "up" else 1


# --- policy -------------------------------------------------------------------------------
@admin_only
@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            saved = attempt(
                request,
                lambda: policies.change_policy(request.shop, request.actor, **form.changes()),
            )
            if saved is not None:
                messages.success(
                    request,
                    tr(
                        f"已保存，售后政策为第 {saved.version} 版。",
                        f"Saved: policy version {saved.version}.",
                    ),
                )
                return redirect("wb:settings_policy")
        else:
            _form_error(request, form)
        status = INVALID
    typed = request.POST if request.method == "POST" else None
    return _page(
        request, "policy.html", "policy", status, **selectors.policy_page(request.shop, typed)
    )


# --- automation rules ---------------------------------------------------------------------
@admin_only
def rules(request: HttpRequest) -> HttpResponse:
    return _page(request, "rules.html", "rules", **selectors.rules_page(request.shop))


@admin_only
@require_POST
def rule_switch(request: HttpRequest, rule_id: int) -> HttpResponse:
    on = request.POST.get("enabled") == "1"
    attempt(
        request,
        lambda: rule_services.switch_rule(request.shop, request.actor, rule_id, on),
        success=tr("规则已启用。", "Rule switched on.")
        if on
        else tr("规则已停用。", "Rule switched off."),
    )
    return redirect("wb:settings_rules")


@admin_only
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = selectors.rule_form(request.shop, rule_id)
    if rule is None:
        raise Http404
    status = 200
    rows = selectors.condition_rows(rule.conditions)
    if request.method == "POST":
        typed = list(
            zip(
                request.POST.getlist("field"),
                request.POST.getlist("op"),
                request.POST.getlist("value"),
                strict=False,
            )
        )
        done = attempt(
            request,
            lambda: rule_services.update_conditions(request.shop, request.actor, rule.id, typed),
            success=tr("规则条件已保存。", "Conditions saved."),
        )
        if done is not None:
            return redirect("wb:settings_rules")
        status = INVALID
        rows = [{"field": f, "op": o, "value": v} for f, o, v in typed]
    return _page(
        request,
        "rule_edit.html",
        "rules",
        status,
        rule=rule,
        rows=rows,
        fields=selectors.field_choices(),
        ops=selectors.op_choices(),
        actions=[selectors.describe_action(a) for a in rule.actions],
    )


# --- return addresses ---------------------------------------------------------------------
def _address_form_call(request: HttpRequest, form: ReturnAddressForm, address_id: int | None):
    d = form.cleaned_data
    return attempt(
        request,
        lambda: policies.save_return_address(
            request.shop,
            request.actor,
            label=d["label"],
            contact_name=d["contact_name"],
            phone=d["phone"],
            address=d["address"],
            make_default=d["make_default"],
            address_id=address_id,
        ),
        success=tr("退货地址已保存。", "Return address saved."),
    )


@admin_only
@require_http_methods(["GET", "POST"])
def addresses(request: HttpRequest) -> HttpResponse:
    form, status = ReturnAddressForm(), 200
    if request.method == "POST":
        form = ReturnAddressForm(request.POST)
        if form.is_valid():
            if _address_form_call(request, form, None) is not None:
                return redirect("wb:settings_addresses")
        else:
            _form_error(request, form)
        status = INVALID
    return _page(
        request,
        "addresses.html",
        "addresses",
        status,
        rows=selectors.addresses(request.shop),
        form=form,
    )


@admin_only
@require_http_methods(["GET", "POST"])
def address_edit(request: HttpRequest, address_id: int) -> HttpResponse:
    row = ReturnAddress.objects.filter(shop=request.shop, pk=address_id).first()
    if row is None:
        raise Http404
    status = 200
    if request.method == "POST":
        form = ReturnAddressForm(request.POST)
        if form.is_valid():
            if _address_form_call(request, form, row.id) is not None:
                return redirect("wb:settings_addresses")
        else:
            _form_error(request, form)
        status = INVALID
    else:
        form = ReturnAddressForm(
            initial={
                "label": row.label,
                "contact_name": row.contact_name,
                "phone": row.phone,
                "address": row.address,
                "make_default": row.is_default,
            }
        )
    return _page(request, "address_edit.html", "addresses", status, row=row, form=form)


@admin_only
@require_POST
def address_default(request: HttpRequest, address_id: int) -> HttpResponse:
    attempt(
        request,
        lambda: policies.set_default_return_address(request.shop, request.actor, address_id),
        success=tr("已设为默认退货地址。", "Now the default return address."),
    )
    return redirect("wb:settings_addresses")


@admin_only
@require_POST
def address_delete(request: HttpRequest, address_id: int) -> HttpResponse:
    attempt(
        request,
        lambda: policies.delete_return_address(request.shop, request.actor, address_id),
        success=tr("退货地址已删除。", "Return address deleted."),
    )
    return redirect("wb:settings_addresses")


# --- team ---------------------------------------------------------------------------------
@admin_only
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    form, status = StaffAddForm(), 200
    if request.method == "POST":
        form = StaffAddForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            done = attempt(
                request,
                lambda: core_services.add_staff(
                    request.shop,
                    request.actor,
                    username=d["username"],
                    display_name=d["display_name"],
                    role=d["role"],
                    password=d["password"],
                ),
                success=tr(f"已添加成员 {d['username']}。", f"Added {d['username']}."),
            )
            if done is not None:
                return redirect("wb:settings_team")
        else:
            _form_error(request, form)
        status = INVALID
    return _page(
        request,
        "team.html",
        "team",
        status,
        members=selectors.team(request.shop),
        form=form,
        roles=[(r.value, r.label) for r in Role if r != Role.ARBITER],
    )


@admin_only
@require_POST
def team_role(request: HttpRequest, member_id: int) -> HttpResponse:
    attempt(
        request,
        lambda: core_services.change_role(
            request.shop, request.actor, member_id, request.POST.get("role", "")
        ),
        success=tr("角色已修改。", "Role changed."),
    )
    return redirect("wb:settings_team")


@admin_only
@require_POST
def team_active(request: HttpRequest, member_id: int) -> HttpResponse:
    on = request.POST.get("active") == "1"
    attempt(
        request,
        lambda: core_services.set_staff_active(request.shop, request.actor, member_id, on),
        success=tr("成员已启用。", "Member reactivated.")
        if on
        else tr("成员已停用。", "Member deactivated."),
    )
    return redirect("wb:settings_team")


# --- canned replies -----------------------------------------------------------------------
def _save_canned(request: HttpRequest, form: CannedForm, reply_id: int | None):
    d = form.cleaned_data
    return attempt(
        request,
        lambda: knowledge.save_canned(
            request.shop,
            request.actor,
            title=d["title"],
            body=d["body"],
            case_types=d["case_types"],
            statuses=d["statuses"],
            is_active=d["is_active"],
            position=d["position"],
            reply_id=reply_id,
        ),
        success=tr("快捷回复已保存。", "Canned reply saved."),
    )


@admin_only
@require_http_methods(["GET", "POST"])
def replies(request: HttpRequest) -> HttpResponse:
    form, status = CannedForm(initial={"is_active": True, "position": 100}), 200
    if request.method == "POST":
        form = CannedForm(request.POST)
        if form.is_valid():
            if _save_canned(request, form, None) is not None:
                return redirect("wb:settings_replies")
        else:
            _form_error(request, form)
        status = INVALID
    return _page(
        request,
        "replies.html",
        "replies",
        status,
        rows=selectors.canned(request.shop),
        form=form,
        variables=selectors.variables(),
    )


@admin_only
@require_http_methods(["GET", "POST"])
def reply_edit(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = CannedReply.objects.filter(shop=request.shop, pk=reply_id).first()
    if reply is None:
        raise Http404
    status = 200
    if request.method == "POST":
        form = CannedForm(request.POST)
        if form.is_valid():
            if _save_canned(request, form, reply.id) is not None:
                return redirect("wb:settings_replies")
        else:
            _form_error(request, form)
        status = INVALID
    else:
        form = CannedForm(
            initial={
                "title": reply.title,
                "body": reply.body,
                "case_types": reply.case_types,
                "statuses": reply.statuses,
                "is_active": reply.is_active,
                "position": reply.position,
            }
        )
    return _page(
        request,
        "reply_edit.html",
        "replies",
        status,
        reply=reply,
        form=form,
        variables=selectors.variables(),
    )


@admin_only
@require_POST
def reply_delete(request: HttpRequest, reply_id: int) -> HttpResponse:
    attempt(
        request,
        lambda: knowledge.delete_canned(request.shop, request.actor, reply_id),
        success=tr("快捷回复已删除。", "Canned reply deleted."),
    )
    return redirect("wb:settings_replies")


@admin_only
@require_POST
def reply_move(request: HttpRequest, reply_id: int) -> HttpResponse:
    attempt(
        request,
        lambda: knowledge.move_canned(request.shop, request.actor, reply_id, _move(request)),
    )
    return redirect("wb:settings_replies")


# --- FAQ ----------------------------------------------------------------------------------
def _save_faq(request: HttpRequest, form: FaqForm, entry_id: int | None):
    d = form.cleaned_data
    return attempt(
        request,
        lambda: knowledge.save_faq(
            request.shop,
            request.actor,
            category=d["category"],
            question=d["question"],
            answer=d["answer"],
            keywords=d["keywords"],
            is_published=d["is_published"],
            position=d["position"],
            entry_id=entry_id,
        ),
        success=tr("常见问题已保存。", "FAQ entry saved."),
    )


@admin_only
@require_http_methods(["GET", "POST"])
def faq(request: HttpRequest) -> HttpResponse:
    form, status = FaqForm(initial={"is_published": True, "position": 100}), 200
    if request.method == "POST":
        form = FaqForm(request.POST)
        if form.is_valid():
            if _save_faq(request, form, None) is not None:
                return redirect("wb:settings_faq")
        else:
            _form_error(request, form)
        status = INVALID
    return _page(
        request,
        "faq.html",
        "faq",
        status,
        groups=selectors.faq_by_category(request.shop),
        form=form,
    )


@admin_only
@require_http_methods(["GET", "POST"])
def faq_edit(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = FaqEntry.objects.filter(shop=request.shop, pk=entry_id).first()
    if entry is None:
        raise Http404
    status = 200
    if request.method == "POST":
        form = FaqForm(request.POST)
        if form.is_valid():
            if _save_faq(request, form, entry.id) is not None:
                return redirect("wb:settings_faq")
        else:
            _form_error(request, form)
        status = INVALID
    else:
        form = FaqForm(
            initial={
                "category": entry.category,
                "question": entry.question,
                "answer": entry.answer,
                "keywords": entry.keywords,
                "is_published": entry.is_published,
                "position": entry.position,
            }
        )
    return _page(request, "faq_edit.html", "faq", status, entry=entry, form=form)


@admin_only
@require_POST
def faq_publish(request: HttpRequest, entry_id: int) -> HttpResponse:
    on = request.POST.get("published") == "1"
    attempt(
        request,
        lambda: knowledge.set_faq_published(request.shop, request.actor, entry_id, on),
        success=tr("已发布。", "Published.") if on else tr("已取消发布。", "Unpublished."),
    )
    return redirect("wb:settings_faq")


@admin_only
@require_POST
def faq_delete(request: HttpRequest, entry_id: int) -> HttpResponse:
    attempt(
        request,
        lambda: knowledge.delete_faq(request.shop, request.actor, entry_id),
        success=tr("常见问题已删除。", "FAQ entry deleted."),
    )
    return redirect("wb:settings_faq")


@admin_only
@require_POST
def faq_install_default(request: HttpRequest) -> HttpResponse:
    """载入默认 FAQ: copy the shipped after-sales FAQ in; questions the shop has are kept."""
    from shouhou.assistant import retrieval

    added = attempt(request, lambda: retrieval.install_default_faq(request.shop, request.actor))
    if added is not None:
        messages.success(request, tr(f"已添加 {added} 条。", f"Added {added} entries."))
    return redirect("wb:settings_faq")


@admin_only
@require_POST
def faq_move(request: HttpRequest, entry_id: int) -> HttpResponse:
    attempt(
        request, lambda: knowledge.move_faq(request.shop, request.actor, entry_id, _move(request))
    )
    return redirect("wb:settings_faq")


# --- API keys -----------------------------------------------------------------------------
@admin_only
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    form, status = ApiKeyForm(), 200
    if request.method == "POST":
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            issued = attempt(
                request,
                lambda: core_services.issue_api_key(
                    request.shop, request.actor, form.cleaned_data["name"]
                ),
            )
            if issued is not None:
                key, secret = issued
                # The secret lives only in this response: never in the database, the session
                # or a redirect; the page is not cached and a reload shows the list instead.
                response = _page(
                    request, "api_key_created.html", "api_keys", key=key, secret=secret
                )
                response["Cache-Control"] = "no-store"
                return response
        else:
            _form_error(request, form)
        status = INVALID
    return _page(
        request,
        "api_keys.html",
        "api_keys",
        status,
        keys=selectors.api_keys(request.shop),
        form=form,
    )


@admin_only
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    attempt(
        request,
        lambda: core_services.revoke_api_key(request.shop, request.actor, key_id),
        success=tr(
            "密钥已吊销，使用它的请求将被拒绝。", "Key revoked: requests using it are refused."
        ),
    )
    return redirect("wb:settings_api_keys")


# --- audit log ----------------------------------------------------------------------------
@admin_only
def audit(request: HttpRequest) -> HttpResponse:
    chosen = {k: request.GET.get(k, "").strip()[:120] for k in ("action", "actor")}
    rows, more = selectors.audit_page(
        request.shop, int_or_none(request.GET.get("before")), **chosen
    )
    filters = selectors.audit_filters(request.shop)
    more_query = urlencode({**{k: v for k, v in chosen.items() if v}, "before": more or ""})
    return _page(
        request,
        "audit.html",
        "audit",
        rows=rows,
        more=more,
        more_query=more_query,
        chosen=chosen,
        **filters,
    )
