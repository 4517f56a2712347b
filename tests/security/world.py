"""A victim shop with one of everything, each carrying a unique marker string, and the
URL patterns of the pages, walked from the resolver (so a page added later is walked too).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from shouhou.assistant import chat
from shouhou.assistant.models import CannedReply, Conversation, FaqEntry, Message
from shouhou.cases.models import Case, Evidence, ReturnAddress
from shouhou.core.models import ApiKey, AuditLog, StaffMember
from shouhou.notify.models import Endpoint, OutboxMessage
from shouhou.rules.models import AutomationRule
from shouhou.workbench.models import SavedView
from tests.factories import make_staff
from tests.workbench_admin.disputes import make_dispute

# Page URLs only: the API has its own walk (tests/api/test_tenancy.py), and the Django
# admin is for superusers only (checked separately).
SKIP_PREFIXES = ("admin/", "api/", "^api/")
# Slug values that name an action or a field rather than an object.
SLUGS = {"action": "agree", "kind": "intent", "field": "phone"}


@dataclass
class World:
    shop: Any
    ids: dict[str, int | str]
    markers: list[str]
    objects: dict[str, Any] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        """What an attack could change; compared before and after the walk."""
        o = self.objects
        case = Case.objects.get(pk=o["case"].pk)
        return {
            "case": (case.status, case.version),
            "key": ApiKey.objects.get(pk=o["key"].pk).revoked_at,
            "rule": AutomationRule.objects.filter(pk=o["rule"].pk)
            .values_list("name", "enabled")
            .first(),
            "address": ReturnAddress.objects.filter(pk=o["address"].pk)
            .values_list("label", "is_default")
            .first(),
            "reply": CannedReply.objects.filter(pk=o["reply"].pk)
            .values_list("title", "is_active", "position")
            .first(),
            "faq": FaqEntry.objects.filter(pk=o["faq"].pk)
            .values_list("question", "is_published", "position")
            .first(),
            "member": StaffMember.objects.filter(pk=o["member"].pk)
            .values_list("role", "is_active")
            .first(),
            "conversation": Conversation.objects.filter(pk=o["conversation"].pk)
            .values_list("status", "assignee_id")
            .first(),
            "messages": Message.objects.filter(conversation=o["conversation"]).count(),
            "view": SavedView.objects.filter(pk=o["view"].pk).exists(),
            "customer": type(o["customer"])
            .objects.filter(pk=o["customer"].pk)
            .values_list("nickname", flat=True)
            .first(),
            "evidence": Evidence.objects.filter(case=case).count(),
            "audit": AuditLog.objects.filter(shop=self.shop).count(),
            "endpoint": Endpoint.objects.filter(pk=o["endpoint"].pk)
            .values_list("name", "url", "active", "secret")
            .first(),
            "outbox": list(
                OutboxMessage.objects.filter(shop=self.shop)
                .order_by("id")
                .values_list("id", "status", "attempts")
            ),
            "timeline": case.timeline.count() if hasattr(case, "timeline") else None,
        }


def build_world(shop) -> World:
    tag = uuid.uuid4().hex[:8]
    case = make_dispute(shop)  # escalated: the arbiter pages show it; evidence from both sides
    order = case.order
    customer = order.customer
    customer.nickname = f"受害买家{tag}"
    customer.save()
    case.description = f"机密描述{tag}"
    case.save(update_fields=["description"])
    evidence = Evidence.objects.filter(case=case).order_by("id").first()
    member = make_staff(shop, "agent")
    member.display_name = f"受害客服{tag}"
    member.save()
    rule = AutomationRule.objects.create(
        shop=shop, name=f"机密规则{tag}", event="case_opened", actions=[{"type": "agree"}]
    )
    address = ReturnAddress.objects.create(
        shop=shop, label=f"机密仓{tag}", contact_name="仓管", phone="13900001111", address="杭州"
    )
    reply = CannedReply.objects.create(shop=shop, title=f"机密话术{tag}", body=f"话术正文{tag}")
    faq = FaqEntry.objects.create(
        shop=shop, question=f"机密问题{tag}？", answer=f"机密答案{tag}", is_published=False
    )
    key, _secret = ApiKey.issue(shop, f"机密密钥{tag}")
    conversation = chat.open_conversation(shop, customer, order=order)
    chat.buyer_says(conversation.id, f"我的暗号是{tag}人工")
    message = Message.objects.filter(conversation=conversation).order_by("id").first()
    endpoint = Endpoint.objects.create(
        shop=shop,
        name=f"机密端点{tag}",
        channel="webhook",
        url=f"https://erp-{tag}.example.com/hook",
        secret=f"whsec_{tag}",
    )
    dead = OutboxMessage.objects.create(
        shop=shop, endpoint=endpoint, topic="refund.issued", dedupe_key=tag, status="dead"
    )
    view = SavedView.objects.create(shop=shop, owner=member, name=f"视图{tag}", query="status=open")
    ids: dict[str, int | str] = {
        "case_id": case.id,
        "evidence_id": evidence.id,
        "rule_id": rule.id,
        "address_id": address.id,
        "member_id": member.id,
        "reply_id": reply.id,
        "entry_id": faq.id,
        "key_id": key.id,
        "conversation_id": conversation.id,
        "message_id": message.id,
        "customer_id": customer.id,
        "order_id": order.id,
        "view_id": view.id,
        "endpoint_id": endpoint.id,
        "outbox_id": dead.id,
        "shop_code": shop.code,
        # A signed link is itself a credential: the attacker has only a forged one.
        "token": "forged-link-token",
        **SLUGS,
    }
    markers = [
        case.number,
        customer.nickname,
        f"机密描述{tag}",
        member.display_name,
        rule.name,
        address.label,
        reply.title,
        faq.question,
        key.name,
        key.prefix,
        f"我的暗号是{tag}",
        view.name,
        evidence.sha256,
        order.external_id,
        endpoint.name,
        f"erp-{tag}",
    ]
    objects = {
        "case": case,
        "key": key,
        "rule": rule,
        "address": address,
        "reply": reply,
        "faq": faq,
        "member": member,
        "conversation": conversation,
        "view": view,
        "customer": customer,
        "endpoint": endpoint,
    }
    return World(shop=shop, ids=ids, markers=markers, objects=objects)


def page_routes() -> list[str]:
    """Every page route of the site as a Django route string, e.g. 'wb/cases/<deskid:case_id>/'."""

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    return [r for r in walk(get_resolver().url_patterns) if not r.startswith(SKIP_PREFIXES)]


PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


def fill(route: str, ids: dict[str, int | str]) -> str:
    def sub(m: re.Match) -> str:
        name = m.group("name")
        assert name in ids, f"teach tests/security/world.py which object <{name}> is ({route})"
        return str(ids[name])

    return "/" + PARAM.sub(sub, route)


def targeted(route: str) -> bool:
    """Does the route name one of the victim's objects (not just an action slug)?"""
    return any(m.group("name") not in SLUGS for m in PARAM.finditer(route))


# Form fields a POST might use, all harmless text; the walk sends them to every route.
POST_FIELDS = {
    "role": "agent",
    "active": "0",
    "enabled": "0",
    "published": "0",
    "direction": "up",
    "body": "越权测试",
    "text": "越权测试",
    "reason": "越权测试",
    "name": "越权测试",
    "label": "越权测试",
    "question": "越权测试？",
    "answer": "越权测试",
    "title": "越权测试",
    "statement": "越权测试",
    "amount": "1",
    "confirm": "1",
}
