"""/wb/settings/notifications/…: where the shop's notifications go (signed webhooks,
e-mail, WeCom and DingTalk robots), a test message through the real outbox, and the dead
letters. Thin like the other settings pages: parse, call a notify service through
`attempt`, redirect after a write. Only the shop's admin reaches them; an id of another
shop is a 404 before any service is called."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from shouhou.core.i18n import tr
from shouhou.core.models import Role
from shouhou.core.web import attempt, ids_from, staff_page
from shouhou.notify import channels
from shouhou.notify import services as notify
from shouhou.notify.models import Channel, Endpoint, MessageStatus, OutboxMessage

from . import selectors
from .forms import EndpointForm, first_error

admin_only = staff_page(Role.ADMIN)
INVALID = 422


def _page(request: HttpRequest, template: str, status: int = 200, **context) -> HttpResponse:
    return render(
        request,
        f"workbench/notify/{template}",
        {"tab": "notifications", **_help(), **context},
        status=status,
    )


def _help() -> dict:
    return {
        "signature_header": channels.SIGNATURE_HEADER,
        "timestamp_header": channels.TIMESTAMP_HEADER,
        "message_id_header": channels.MESSAGE_ID_HEADER,
        "topic_header": channels.TOPIC_HEADER,
        "tolerance": channels.SIGNATURE_TOLERANCE,
    }


def _own(request: HttpRequest, endpoint_id: int) -> Endpoint:
    ep = Endpoint.objects.filter(shop=request.shop, pk=endpoint_id).first()
    if ep is None:
        raise Http404
    return ep


def _secret_shown(request: HttpRequest, ep: Endpoint, secret: str, *, rotated: bool):
    # The secret lives only in this response: the database keeps it encrypted, never the
    # session or a redirect; the page is not cached and a reload shows the list instead.
    response = _page(request, "secret.html", ep=ep, secret=secret, rotated=rotated)
    response["Cache-Control"] = "no-store"
    return response


def _form_context(form: EndpointForm, ep: Endpoint | None, topics: list[str]) -> dict:
    return {
        "form": form,
        "ep": ep,
        "chosen_topics": topics,
        "topics": selectors.topic_choices(),
        "channels": selectors.channel_choices(),
        "secret_mask": selectors.mask_secret(ep.secret) if ep else "",
    }


# --- list ---------------------------------------------------------------------------------
@admin_only
def index(request: HttpRequest) -> HttpResponse:
    rows = selectors.endpoints(request.shop)
    dead = OutboxMessage.objects.filter(shop=request.shop, status=MessageStatus.DEAD).count()
    return _page(request, "index.html", rows=rows, dead_total=dead)


# --- add / edit ---------------------------------------------------------------------------
def _submit(request: HttpRequest, ep: Endpoint | None):
    """The posted form → (form, topics, the service's result or None with the error shown)."""
    form = EndpointForm(request.POST)
    topics = request.POST.getlist("topics")
    if not form.is_valid():
        messages.error(request, first_error(form), extra_tags="form_invalid")
        return form, topics, None
    d = form.cleaned_data
    common = {"name": d["name"], "topics": topics, "url": d["url"], "recipients": d["recipients"]}
    if ep is None:
        return (
            form,
            topics,
            attempt(
                request,
                lambda: notify.add_endpoint(
                    request.shop, request.actor, channel=d["channel"], secret=d["secret"], **common
                ),
            ),
        )
    return (
        form,
        topics,
        attempt(
            request,
            lambda: notify.update_endpoint(
                request.shop,
                request.actor,
                ep.id,
                secret=d["secret"] or None,
                clear_secret=d["clear_secret"],
                **common,
            ),
            success=tr("通知端点已保存。", "Endpoint saved."),
        ),
    )


@admin_only
@require_http_methods(["GET", "POST"])
def add(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(initial={"channel": Channel.WEBHOOK})
    topics = [t for t, _ in selectors.topic_choices()]
    status = 200
    if request.method == "POST":
        form, topics, made = _submit(request, None)
        if made is not None:
            ep, secret = made
            if secret:
                return _secret_shown(request, ep, secret, rotated=False)
            messages.success(
                request, tr(f"已添加通知端点「{ep.name}」。", f"Added the endpoint {ep.name}.")
            )
            return redirect("wb:settings_notify")
        status = INVALID
    return _page(request, "edit.html", status, **_form_context(form, None, topics))


@admin_only
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    ep = _own(request, endpoint_id)
    status = 200
    if request.method == "POST":
        form, topics, done = _submit(request, ep)
        if done is not None:
            return redirect("wb:settings_notify")
        status = INVALID
    else:
        # Stored with no topics means every topic: all boxes ticked.
        topics = ep.topics or [t for t, _ in selectors.topic_choices()]
        form = EndpointForm(
            initial={
                "name": ep.name,
                "channel": ep.channel,
                "url": ep.url,
                "recipients": ep.recipients,
            }
        )
    return _page(request, "edit.html", status, **_form_context(form, ep, topics))


# --- switch, delete, rotate, test -----------------------------------------------------------
@admin_only
@require_POST
def active(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    ep = _own(request, endpoint_id)
    on = request.POST.get("active") == "1"
    done = attempt(
        request, lambda: notify.set_endpoint_active(request.shop, request.actor, ep.id, on)
    )
    if done is not None:
        _, pending = done
        if on:
            text = tr("通知端点已启用。", "Endpoint switched on.")
        elif pending:
            text = tr(
                f"通知端点已停用。它的 {pending} 条待发送消息不会发出，重试用尽后转入死信；"
                "重新启用后可在死信列表重试。",
                f"Endpoint switched off. Its {pending} pending message(s) will not go out and "
                "become dead letters once their retries run out; retry them from the dead "
                "letters after switching it on again.",
            )
        else:
            text = tr(
                "通知端点已停用，不会再收到新消息。",
                "Endpoint switched off: nothing new is queued.",
            )
        messages.success(request, text)
    return redirect("wb:settings_notify")


@admin_only
@require_POST
def delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    ep = _own(request, endpoint_id)
    drop = request.POST.get("drop_pending") == "1"
    moved = attempt(
        request,
        lambda: notify.delete_endpoint(request.shop, request.actor, ep.id, drop_pending=drop),
    )
    if moved is not None:
        text = tr(f"已删除通知端点「{ep.name}」。", f"Deleted the endpoint {ep.name}.")
        if moved:
            text += tr(
                f" {moved} 条待发送消息已转入死信。",
                f" {moved} pending message(s) moved to the dead letters.",
            )
        messages.success(request, text)
    return redirect("wb:settings_notify")


@admin_only
@require_POST
def rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    ep = _own(request, endpoint_id)
    done = attempt(request, lambda: notify.rotate_secret(request.shop, request.actor, ep.id))
    if done is None:
        return redirect("wb:settings_notify_edit", endpoint_id=ep.id)
    ep, secret = done
    return _secret_shown(request, ep, secret, rotated=True)


@admin_only
@require_POST
def test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    ep = _own(request, endpoint_id)
    msg = attempt(request, lambda: notify.send_test_message(request.shop, request.actor, ep.id))
    if msg is not None:
        messages.success(
            request,
            tr(
                f"测试消息已进入发送队列（消息编号 {msg.message_id}），"
                "通常一分钟内由后台发送；结果见「最近发送」。",
                f"Test message queued (message id {msg.message_id}); the worker usually "
                "sends it within a minute — see 'Last delivery'.",
            ),
        )
    return redirect("wb:settings_notify")


# --- dead letters -------------------------------------------------------------------------
@admin_only
def dead(request: HttpRequest) -> HttpResponse:
    return _page(request, "dead.html", **selectors.dead_letters(request.shop))


def _retried(request: HttpRequest, done: tuple[int, int] | None) -> None:
    if done is None:
        return
    queued, left = done
    text = tr(f"已重新排队 {queued} 条。", f"Queued {queued} message(s) again.")
    if left:
        text += tr(
            f" {left} 条未重试：其通知端点已删除或已停用。",
            f" {left} left: their endpoint was removed or is switched off.",
        )
    (messages.success if queued else messages.warning)(request, text)


@admin_only
@require_POST
def dead_retry(request: HttpRequest, outbox_id: int) -> HttpResponse:
    if not OutboxMessage.objects.filter(
        shop=request.shop, pk=outbox_id, status=MessageStatus.DEAD
    ).exists():
        raise Http404
    _retried(
        request,
        attempt(
            request, lambda: notify.retry_dead_letters(request.shop, request.actor, [outbox_id])
        ),
    )
    return redirect("wb:settings_notify_dead")


@admin_only
@require_POST
def dead_retry_all(request: HttpRequest) -> HttpResponse:
    chosen = ids_from(request.POST.getlist("ids")) or None
    _retried(
        request,
        attempt(request, lambda: notify.retry_dead_letters(request.shop, request.actor, chosen)),
    )
    return redirect("wb:settings_notify_dead")
