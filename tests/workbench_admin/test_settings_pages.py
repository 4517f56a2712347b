"""Shop settings pages (/wb/settings/…) through Django's test client: who may open them,
what bad input says, and that a refused change leaves everything as it was."""

from __future__ import annotations

import hashlib

import pytest

from shouhou.assistant.models import CannedReply, FaqEntry
from shouhou.cases import policies
from shouhou.cases.models import ReturnAddress, ShopPolicy
from shouhou.core.models import ApiKey, AuditLog, StaffMember
from shouhou.rules.models import AutomationRule
from shouhou.rules.services import install_templates
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

GET_PAGES = [
    "/wb/settings/",
    "/wb/settings/rules/",
    "/wb/settings/addresses/",
    "/wb/settings/team/",
    "/wb/settings/replies/",
    "/wb/settings/faq/",
    "/wb/settings/api-keys/",
    "/wb/settings/audit/",
]


def _login(client, member: StaffMember):
    client.force_login(member.user)
    return client


def _msg(response) -> str:
    return response.content.decode()


def _policy_post(**over) -> dict:
    data = {
        "after_sales_window_days": "15",
        "no_reason_days": "7",
        "max_evidence_files": "9",
        "return_postage_payer": "by_reason",
        "finance_limit_yuan": "500",
        "dl_awaiting_merchant": "72",
    }
    from shouhou.cases import lifecycle as lc

    for key, rule in lc.DEADLINES.items():
        data.setdefault(f"dl_{key}", str(int(rule.hours)))
    post = {k: v for k, v in data.items()}
    for reason, types in lc.DEFAULT_REASON_TYPES.items():
        post[f"rt_{reason.value}"] = sorted(t.value for t in types)
    post.update(over)
    return post


@pytest.fixture
def admin(shop):
    return make_staff(shop, "admin", username="dianzhang")


# --- who may open what -------------------------------------------------------------------
@pytest.mark.parametrize("path", GET_PAGES)
@pytest.mark.parametrize("role", ["agent", "warehouse", "finance", "arbiter"])
def test_only_the_shop_admin_opens_settings(client, shop, role, path):
    _login(client, make_staff(shop, role))
    response = client.get(path)
    assert response.status_code == 403
    assert "无权访问" in _msg(response)


@pytest.mark.parametrize("path", GET_PAGES)
def test_the_admin_opens_every_settings_page(client, admin, path):
    assert _login(client, admin).get(path).status_code == 200


@pytest.mark.parametrize("path", GET_PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_another_shops_records_are_404(client, shop, other_shop, admin):
    other_admin = make_staff(other_shop, "admin")
    addr = ReturnAddress.objects.get(shop=other_shop)
    faq = FaqEntry.objects.create(shop=other_shop, question="别家的问题", answer="答")
    reply = CannedReply.objects.create(shop=other_shop, title="别家", body="内容")
    rule = install_templates(other_shop)[0]
    key, _ = ApiKey.issue(other_shop, "别家密钥")
    c = _login(client, admin)
    for path in [
        f"/wb/settings/addresses/{addr.id}/",
        f"/wb/settings/faq/{faq.id}/",
        f"/wb/settings/replies/{reply.id}/",
        f"/wb/settings/rules/{rule.id}/",
    ]:
        assert c.get(path).status_code == 404, path
    for path in [
        f"/wb/settings/addresses/{addr.id}/delete/",
        f"/wb/settings/addresses/{addr.id}/default/",
        f"/wb/settings/faq/{faq.id}/delete/",
        f"/wb/settings/replies/{reply.id}/delete/",
        f"/wb/settings/rules/{rule.id}/switch/",
        f"/wb/settings/api-keys/{key.id}/revoke/",
        f"/wb/settings/team/{other_admin.id}/active/",
    ]:
        c.post(path, {"enabled": "1", "active": "0"}, follow=True)
    assert ReturnAddress.objects.filter(pk=addr.pk).exists()
    assert FaqEntry.objects.filter(pk=faq.pk).exists()
    assert CannedReply.objects.filter(pk=reply.pk).exists()
    assert not AutomationRule.objects.get(pk=rule.pk).enabled
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    assert StaffMember.objects.get(pk=other_admin.pk).is_active
    assert not AuditLog.objects.filter(shop=other_shop).exists()


def test_writes_need_the_admin_role_too(client, shop):
    agent = make_staff(shop, "agent")
    c = _login(client, agent)
    assert c.post("/wb/settings/", _policy_post()).status_code == 403
    assert c.post("/wb/settings/api-keys/", {"name": "x"}).status_code == 403
    assert not ShopPolicy.objects.filter(shop=shop).exists()
    assert not ApiKey.objects.filter(shop=shop).exists()


# --- policy -------------------------------------------------------------------------------
def test_saving_the_policy_writes_a_new_version_and_an_audit_row(client, shop, admin):
    c = _login(client, admin)
    response = c.post("/wb/settings/", _policy_post(dl_awaiting_merchant="48"), follow=True)
    assert "第 1 版" in _msg(response)
    response = c.post("/wb/settings/", _policy_post(finance_limit_yuan="499.90"), follow=True)
    policy = policies.current_policy(type(shop).objects.get(pk=shop.pk))
    assert policy.version == 2
    assert policy.finance_approval_limit_fen == 49990
    assert policy.deadline_hours == {}  # back to the default 72 h: only differences are kept
    assert "v2" in _msg(response)
    assert AuditLog.objects.filter(shop=shop, action="policy.update").count() == 2


@pytest.mark.parametrize(
    "field,value,says",
    [
        ("after_sales_window_days", "-3", "售后期"),
        ("after_sales_window_days", "0", "售后期"),
        ("no_reason_days", "500", "七天无理由"),
        ("finance_limit_yuan", "五百", "财务审批额度"),
        ("finance_limit_yuan", "-20", "财务审批额度"),
        ("max_evidence_files", "abc", "凭证数量上限"),
        ("dl_awaiting_merchant", "0", "待商家处理"),
        ("dl_rejected", "99999", "商家已拒绝"),
    ],
)
def test_bad_policy_input_says_what_and_changes_nothing(client, shop, admin, field, value, says):
    c = _login(client, admin)
    response = c.post("/wb/settings/", _policy_post(**{field: value}))
    assert response.status_code == 422
    text = _msg(response)
    assert says in text and 'role="alert"' in text
    assert f'value="{value}"' in text  # the typo stays in the field to correct
    assert not ShopPolicy.objects.filter(shop=shop).exists()
    assert not AuditLog.objects.filter(shop=shop).exists()


def test_a_reason_with_no_type_is_refused(client, shop, admin):
    c = _login(client, admin)
    post = _policy_post()
    post["rt_quality"] = []
    response = c.post("/wb/settings/", post)
    assert response.status_code == 422 and "质量问题" in _msg(response)
    assert not ShopPolicy.objects.filter(shop=shop).exists()


def test_the_reason_matrix_is_saved(client, shop, admin):
    c = _login(client, admin)
    c.post("/wb/settings/", _policy_post(rt_slow_delivery=["refund_only"]))
    policy = ShopPolicy.objects.get(shop=shop, is_current=True)
    assert policy.reason_types == {"slow_delivery": ["refund_only"]}


# --- rules --------------------------------------------------------------------------------
def test_switching_a_template_on_and_editing_its_ceiling(client, shop, admin):
    c = _login(client, admin)
    c.get("/wb/settings/rules/")  # installs the templates
    rule = AutomationRule.objects.get(shop=shop, template="fast_refund")
    c.post(f"/wb/settings/rules/{rule.id}/switch/", {"enabled": "1"})
    rule.refresh_from_db()
    assert rule.enabled
    rows = [(c_["field"], c_["op"], "") for c_ in rule.conditions]
    post = {"field": [], "op": [], "value": []}
    for cond in rule.conditions:
        post["field"].append(cond["field"])
        post["op"].append(cond["op"])
        value = cond.get("value", "")
        post["value"].append("150" if cond["field"] == "case.requested_refund_fen" else value)
    assert rows
    response = c.post(f"/wb/settings/rules/{rule.id}/", post, follow=True)
    assert "规则条件已保存" in _msg(response)
    rule.refresh_from_db()
    ceiling = [x for x in rule.conditions if x["field"] == "case.requested_refund_fen"][0]
    assert ceiling["value"] == 15000
    assert "不超过 150" in _msg(response)
    assert AuditLog.objects.filter(shop=shop, action="rule.conditions").exists()
    assert AuditLog.objects.filter(shop=shop, action="rule.enable").exists()


@pytest.mark.parametrize(
    "field,op,value",
    [
        ("case.no_such_field", "eq", "x"),
        ("case.requested_refund_fen", "lte", "很多"),
        ("case.type", "lte", "3"),
        ("case.type", "bogus_op", "x"),
    ],
)
def test_a_bad_condition_is_refused_by_the_engine_rules(client, shop, admin, field, op, value):
    c = _login(client, admin)
    rule = install_templates(shop)[0]
    before = list(rule.conditions)
    response = c.post(
        f"/wb/settings/rules/{rule.id}/", {"field": [field], "op": [op], "value": [value]}
    )
    assert response.status_code == 422
    assert "规则不合法" in _msg(response)
    rule.refresh_from_db()
    assert rule.conditions == before


# --- return addresses ---------------------------------------------------------------------
def test_addresses_add_edit_default_delete(client, shop, admin):
    c = _login(client, admin)
    old_default = ReturnAddress.objects.get(shop=shop)
    c.post(
        "/wb/settings/addresses/",
        {
            "label": "广州仓",
            "contact_name": "李四",
            "phone": "020-88886666",
            "address": "广东省广州市白云区机场路 1 号",
        },
    )
    new = ReturnAddress.objects.get(shop=shop, label="广州仓")
    assert not new.is_default
    c.post(
        f"/wb/settings/addresses/{new.id}/",
        {
            "label": "广州二仓",
            "contact_name": "李四",
            "phone": "020-88886666",
            "address": "广东省广州市白云区机场路 2 号",
        },
    )
    new.refresh_from_db()
    assert new.label == "广州二仓" and new.address.endswith("2 号")
    c.post(f"/wb/settings/addresses/{new.id}/default/")
    new.refresh_from_db()
    old_default.refresh_from_db()
    assert new.is_default and not old_default.is_default
    c.post(f"/wb/settings/addresses/{old_default.id}/delete/")
    assert not ReturnAddress.objects.filter(pk=old_default.pk).exists()
    actions = set(AuditLog.objects.filter(shop=shop).values_list("action", flat=True))
    assert {
        "return_address.add",
        "return_address.edit",
        "return_address.default",
        "return_address.delete",
    } <= actions


def test_the_default_address_cannot_be_deleted(client, shop, admin):
    c = _login(client, admin)
    default = ReturnAddress.objects.get(shop=shop)
    response = c.post(f"/wb/settings/addresses/{default.id}/delete/", follow=True)
    assert "默认退货地址不能删除" in _msg(response)
    assert ReturnAddress.objects.filter(pk=default.pk).exists()


def test_an_address_open_cases_use_cannot_be_deleted(client, shop, admin):
    from shouhou.cases import services
    from shouhou.cases.services import LineRequest
    from tests.factories import buyer, make_order, staff_actor

    c = _login(client, admin)
    used = ReturnAddress.objects.get(shop=shop)
    order = make_order(shop)
    case = services.open_case(
        shop,
        buyer(order),
        order=order,
        type="return_refund",
        reason="quality",
        lines=[LineRequest(order.lines.first().id, 1)],
        description="坏了",
    )
    services.agree(case.id, staff_actor(shop, "agent"))
    other = ReturnAddress.objects.create(
        shop=shop, label="新仓", contact_name="甲", phone="13900000000", address="某省某市某路 1 号"
    )
    c.post(f"/wb/settings/addresses/{other.id}/default/")
    response = c.post(f"/wb/settings/addresses/{used.id}/delete/", follow=True)
    assert "1 个进行中的售后单使用" in _msg(response)
    assert ReturnAddress.objects.filter(pk=used.pk).exists()


def test_a_bad_phone_is_refused(client, shop, admin):
    c = _login(client, admin)
    response = c.post(
        "/wb/settings/addresses/",
        {"label": "坏", "contact_name": "x", "phone": "call me", "address": "某省某市某路 1 号"},
    )
    assert response.status_code == 422 and "电话" in _msg(response)
    assert ReturnAddress.objects.filter(shop=shop).count() == 1


# --- team ---------------------------------------------------------------------------------
def test_add_member_change_role_deactivate_and_reactivate(client, shop, admin):
    c = _login(client, admin)
    c.post(
        "/wb/settings/team/",
        {"username": "xiaomei", "display_name": "小美", "role": "agent", "password": "pw-abcdefgh"},
    )
    member = StaffMember.objects.get(shop=shop, user__username="xiaomei")
    assert member.role == "agent" and member.user.check_password("pw-abcdefgh")
    c.post(f"/wb/settings/team/{member.id}/role/", {"role": "finance"})
    member.refresh_from_db()
    assert member.role == "finance"
    c.post(f"/wb/settings/team/{member.id}/active/", {"active": "0"})
    member.refresh_from_db()
    assert not member.is_active
    c.post(f"/wb/settings/team/{member.id}/active/", {"active": "1"})
    member.refresh_from_db()
    assert member.is_active
    actions = list(
        AuditLog.objects.filter(shop=shop).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["staff.add", "staff.role", "staff.deactivate", "staff.activate"]


def test_an_existing_user_joins_without_a_password(client, shop, other_shop, admin):
    elsewhere = make_staff(other_shop, "agent", username="laoli")
    c = _login(client, admin)
    c.post("/wb/settings/team/", {"username": "laoli", "role": "agent"})
    assert StaffMember.objects.filter(shop=shop, user=elsewhere.user).exists()
    response = c.post("/wb/settings/team/", {"username": "laoli", "role": "agent"})
    assert "已是本店员工" in _msg(response)


def test_a_new_user_needs_a_password(client, shop, admin):
    c = _login(client, admin)
    response = c.post("/wb/settings/team/", {"username": "nopw", "role": "agent", "password": "1"})
    assert response.status_code == 422 and "初始密码" in _msg(response)
    assert not StaffMember.objects.filter(user__username="nopw").exists()


def test_no_shop_may_appoint_an_arbiter(client, shop, admin):
    c = _login(client, admin)
    c.post("/wb/settings/team/", {"username": "fake", "role": "arbiter", "password": "pw-12345678"})
    agent = make_staff(shop, "agent")
    response = c.post(f"/wb/settings/team/{agent.id}/role/", {"role": "arbiter"}, follow=True)
    assert "平台" in _msg(response)
    agent.refresh_from_db()
    assert agent.role == "agent"
    assert not StaffMember.objects.filter(shop=shop, role="arbiter").exists()


def test_the_last_admin_stays_and_nobody_removes_themselves(client, shop, admin):
    c = _login(client, admin)
    response = c.post(f"/wb/settings/team/{admin.id}/active/", {"active": "0"}, follow=True)
    assert "不能停用自己" in _msg(response)
    response = c.post(f"/wb/settings/team/{admin.id}/role/", {"role": "agent"}, follow=True)
    assert "不能停用自己" in _msg(response)
    admin.refresh_from_db()
    assert admin.is_active and admin.role == "admin"
    # A second admin demotes the first; then the first may not remove the last one.
    second = make_staff(shop, "admin", username="second")
    c.post(f"/wb/settings/team/{second.id}/role/", {"role": "agent"})
    second.refresh_from_db()
    assert second.role == "agent"
    c2 = _login(type(client)(), second)
    assert c2.get("/wb/settings/team/").status_code == 403  # an agent now
    from shouhou.core import services as core_services
    from shouhou.core.errors import ShouhouError
    from tests.factories import staff_actor

    third = make_staff(shop, "admin", username="third")
    third.is_active = False
    third.save()
    with pytest.raises(ShouhouError) as err:
        core_services.change_role(shop, staff_actor(shop, "admin", third), admin.id, "agent")
    assert err.value.code == "last_admin"
    with pytest.raises(ShouhouError) as err:
        core_services.set_staff_active(shop, staff_actor(shop, "admin", third), admin.id, False)
    assert err.value.code == "last_admin"
    admin.refresh_from_db()
    assert admin.is_active and admin.role == "admin"


# --- canned replies and FAQ ---------------------------------------------------------------
def test_canned_replies_add_edit_reorder_delete(client, shop, admin):
    c = _login(client, admin)
    for title in ("甲", "乙"):
        c.post(
            "/wb/settings/replies/",
            {
                "title": title,
                "body": "{buyer} 您好，售后单 {case_no} 已处理。",
                "case_types": ["refund_only"],
                "statuses": ["refunding"],
                "is_active": "1",
                "position": "100",
            },
        )
    a, b = CannedReply.objects.filter(shop=shop).order_by("position", "id")
    c.post(f"/wb/settings/replies/{b.id}/move/", {"direction": "up"})
    assert list(
        CannedReply.objects.filter(shop=shop).order_by("position").values_list("title", flat=True)
    ) == ["乙", "甲"]
    c.post(
        f"/wb/settings/replies/{a.id}/",
        {"title": "甲2", "body": "退款 {refund} 已发出", "position": "5", "is_active": "1"},
    )
    a.refresh_from_db()
    assert a.title == "甲2" and a.case_types == [] and a.position == 5
    c.post(f"/wb/settings/replies/{a.id}/delete/")
    assert not CannedReply.objects.filter(pk=a.pk).exists()


def test_a_canned_reply_with_an_unknown_variable_is_refused(client, shop, admin):
    c = _login(client, admin)
    response = c.post(
        "/wb/settings/replies/", {"title": "x", "body": "您好 {nickname}", "position": "1"}
    )
    assert response.status_code == 422 and "{nickname}" in _msg(response)
    assert not CannedReply.objects.filter(shop=shop).exists()


def test_faq_add_publish_reorder_delete(client, shop, admin):
    c = _login(client, admin)
    for q in ("多久能退款？", "运费谁出？"):
        c.post(
            "/wb/settings/faq/",
            {"category": "refund", "question": q, "answer": "答案", "position": "100"},
        )
    first, second = FaqEntry.objects.filter(shop=shop).order_by("position", "id")
    assert not first.is_published  # the box was not ticked
    c.post(f"/wb/settings/faq/{first.id}/publish/", {"published": "1"})
    first.refresh_from_db()
    assert first.is_published
    c.post(f"/wb/settings/faq/{second.id}/move/", {"direction": "up"})
    order = list(
        FaqEntry.objects.filter(shop=shop).order_by("position").values_list("pk", flat=True)
    )
    assert order == [second.id, first.id]
    c.post(f"/wb/settings/faq/{second.id}/delete/")
    assert list(FaqEntry.objects.filter(shop=shop)) == [first]
    page = _msg(c.get("/wb/settings/faq/"))
    assert f"/help/{shop.code}/" in page


def test_an_empty_faq_question_is_refused(client, shop, admin):
    c = _login(client, admin)
    response = c.post(
        "/wb/settings/faq/",
        {"category": "refund", "question": "  ", "answer": "答", "position": "1"},
    )
    assert response.status_code == 422 and "问题" in _msg(response)
    assert not FaqEntry.objects.filter(shop=shop).exists()


# --- API keys -----------------------------------------------------------------------------
def test_an_api_key_is_shown_once_and_only_its_hash_is_kept(client, shop, admin):
    c = _login(client, admin)
    response = c.post("/wb/settings/api-keys/", {"name": "ERP 对接"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    page = _msg(response)
    key = ApiKey.objects.get(shop=shop)
    start = page.index('data-testid="api-key-secret">') + len('data-testid="api-key-secret">')
    secret = page[start : page.index("</code>", start)]
    assert secret.startswith(f"sh_{key.prefix}_") and len(secret) > 30
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert all(secret not in str(v) for v in row.values())
    assert not AuditLog.objects.filter(data__icontains=secret[10:]).exists()
    from django.contrib.sessions.models import Session

    assert all(secret not in str(s.get_decoded()) for s in Session.objects.all())
    again = _msg(c.get("/wb/settings/api-keys/"))
    assert secret not in again and f"sh_{key.prefix}_…" in again
    # The key works against the API until it is revoked.
    api = type(client)()
    assert api.get("/api/v1/cases", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    c.post(f"/wb/settings/api-keys/{key.id}/revoke/")
    assert api.get("/api/v1/cases", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    actions = list(AuditLog.objects.filter(shop=shop).values_list("action", flat=True))
    assert actions == ["api_key.issue", "api_key.revoke"]


def test_an_api_key_needs_a_name(client, shop, admin):
    response = _login(client, admin).post("/wb/settings/api-keys/", {"name": ""})
    assert response.status_code == 422
    assert not ApiKey.objects.filter(shop=shop).exists()


# --- audit log ----------------------------------------------------------------------------
def test_the_audit_page_lists_the_shops_actions_newest_first_in_pages(
    client, shop, other_shop, admin
):
    from shouhou.core import clock

    for i in range(55):
        AuditLog.objects.create(shop=shop, at=clock.now(), actor="店长", action=f"a.{i}")
    AuditLog.objects.create(shop=other_shop, at=clock.now(), actor="别家", action="secret.x")
    c = _login(client, admin)
    # The table, not the filter menu (which lists every action the log holds).
    page = _msg(c.get("/wb/settings/audit/")).split('data-testid="audit-table"', 1)[1]
    assert "a.54<" in page and "a.5<" in page and "a.4<" not in page and "secret.x" not in page
    assert 'data-testid="audit-more"' in page
    last_on_first = AuditLog.objects.filter(shop=shop).order_by("-id")[49].id
    page2 = _msg(c.get(f"/wb/settings/audit/?before={last_on_first}"))
    page2 = page2.split('data-testid="audit-table"', 1)[1]
    assert "a.4<" in page2 and "a.0<" in page2 and "a.54<" not in page2
