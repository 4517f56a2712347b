"""API keys are one shop's and die when revoked; every privileged action is in the shop's
audit log, which only that shop's admins read."""

from __future__ import annotations

import pytest
from django.test import Client

from shouhou.assistant import services as assistant_services
from shouhou.cases import bulk, policies
from shouhou.core import services as core_services
from shouhou.core.models import ApiKey, AuditLog
from shouhou.customers import privacy
from shouhou.rules import services as rule_services
from shouhou.rules.models import AutomationRule
from tests.factories import make_customer, make_order, make_staff, staff_actor
from tests.portal.support import open_for


def test_a_revoked_key_is_refused_at_once(shop, other_shop):
    admin = make_staff(shop, "admin")
    key, secret = core_services.issue_api_key(shop, staff_actor(shop, "admin", admin), "ERP")
    api = Client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/cases", headers=headers).status_code == 200
    # The key also works as X-API-Key; both die together.
    assert api.get("/api/v1/cases", headers={"X-API-Key": secret}).status_code == 200
    page = Client()
    page.force_login(admin.user)
    assert page.post(f"/wb/settings/api-keys/{key.id}/revoke/").status_code == 302
    assert ApiKey.objects.get(pk=key.id).revoked_at is not None
    resp = api.get("/api/v1/cases", headers=headers)
    assert resp.status_code == 401 and resp.json()["code"] == "not_authenticated"
    assert api.get("/api/v1/cases", headers={"X-API-Key": secret}).status_code == 401
    # Another shop's admin cannot revoke (or see) this shop's keys.
    key2, secret2 = core_services.issue_api_key(shop, staff_actor(shop, "admin", admin), "WMS")
    intruder = Client()
    intruder.force_login(make_staff(other_shop, "admin").user)
    intruder.post(f"/wb/settings/api-keys/{key2.id}/revoke/")
    assert ApiKey.objects.get(pk=key2.id).revoked_at is None
    assert (
        api.get("/api/v1/cases", headers={"Authorization": f"Bearer {secret2}"}).status_code == 200
    )
    # A tampered secret with a real prefix is refused too.
    assert (
        api.get("/api/v1/cases", headers={"Authorization": f"Bearer {secret2}x"}).status_code == 401
    )


def agreeable_case(shop):
    order = make_order(shop, lines=[(1, 3000)])
    return open_for(order, type="refund_only")


def test_every_privileged_action_writes_the_audit_log(shop):
    admin_member = make_staff(shop, "admin")
    admin = staff_actor(shop, "admin", admin_member)
    agent = staff_actor(shop, "agent", make_staff(shop, "agent"))
    customer = make_customer(shop)
    make_order(shop, customer)

    def did(action: str, run) -> None:
        before = AuditLog.objects.filter(shop=shop, action=action).count()
        run()
        after = AuditLog.objects.filter(shop=shop, action=action).count()
        assert after == before + 1, f"{action} was not audited"

    did("policy.update", lambda: policies.change_policy(shop, admin, max_evidence_files=5))
    rule = AutomationRule.objects.create(
        shop=shop, name="自动同意", event="case_opened", actions=[{"type": "agree"}]
    )
    did("rule.enable", lambda: rule_services.switch_rule(shop, admin, rule.id, True))
    did("rule.disable", lambda: rule_services.switch_rule(shop, admin, rule.id, False))
    holder = {}
    did(
        "staff.add",
        lambda: holder.update(
            m=core_services.add_staff(
                shop, admin, username="newbie", role="agent", password="pw-12345678x"
            )
        ),
    )
    did("staff.role", lambda: core_services.change_role(shop, admin, holder["m"].id, "finance"))
    did(
        "staff.deactivate",
        lambda: core_services.set_staff_active(shop, admin, holder["m"].id, False),
    )
    did(
        "api_key.issue", lambda: holder.update(k=core_services.issue_api_key(shop, admin, "ERP")[0])
    )
    did("api_key.revoke", lambda: core_services.revoke_api_key(shop, admin, holder["k"].id))
    addr = dict(label="二号仓", contact_name="王", phone="13900001111", address="杭州市余杭区")
    did(
        "return_address.add",
        lambda: holder.update(a=policies.save_return_address(shop, admin, **addr)),
    )
    did(
        "return_address.default",
        lambda: policies.set_default_return_address(shop, admin, holder["a"].id),
    )
    did(
        "return_address.add",
        lambda: holder.update(b=policies.save_return_address(shop, admin, **addr)),
    )
    did(
        "return_address.delete", lambda: policies.delete_return_address(shop, admin, holder["b"].id)
    )
    did(
        "faq.add",
        lambda: holder.update(
            f=assistant_services.save_faq(
                shop, admin, question="运费谁出？", answer="质量问题我们出。"
            )
        ),
    )
    did(
        "faq.unpublish",
        lambda: assistant_services.set_faq_published(shop, admin, holder["f"].id, False),
    )
    did("faq.delete", lambda: assistant_services.delete_faq(shop, admin, holder["f"].id))
    did(
        "canned.add",
        lambda: holder.update(
            r=assistant_services.save_canned(shop, admin, title="致歉", body="抱歉给您添麻烦了")
        ),
    )
    did("canned.delete", lambda: assistant_services.delete_canned(shop, admin, holder["r"].id))
    cases = [agreeable_case(shop) for _ in range(2)]
    did("case.bulk_agree", lambda: bulk.bulk_agree(shop, agent, [c.id for c in cases]))
    row = AuditLog.objects.filter(shop=shop, action="case.bulk_agree").get()
    assert sorted(row.data["cases"]) == sorted(c.number for c in cases)
    did("customer.revealed", lambda: privacy.reveal_customer(agent, customer.id, ["phone"]))
    did("customer.exported", lambda: privacy.export_customer(admin, customer.id))
    lone = make_customer(shop)
    did("customer.erased", lambda: privacy.erase_customer(admin, lone.id))
    # The log never holds the personal values themselves.
    text = " ".join(f"{r.target} {r.data}" for r in AuditLog.objects.filter(shop=shop))
    assert customer.phone not in text and "13900001111" not in text


@pytest.mark.parametrize("role", ["agent", "warehouse", "finance", "arbiter"])
def test_only_the_shops_admins_read_its_audit_log(shop, other_shop, role):
    admin = make_staff(shop, "admin")
    core_services.issue_api_key(shop, staff_actor(shop, "admin", admin), "机密对接")
    reader = Client()
    reader.force_login(admin.user)
    assert "机密对接" in reader.get("/wb/settings/audit/").content.decode()
    client = Client()
    client.force_login(make_staff(shop, role).user)
    resp = client.get("/wb/settings/audit/")
    assert resp.status_code in {302, 403, 404}, (role, resp.status_code)
    assert "机密对接" not in resp.content.decode()
    # Another shop's admin reads only their own shop's log.
    client = Client()
    client.force_login(make_staff(other_shop, "admin").user)
    resp = client.get("/wb/settings/audit/")
    assert resp.status_code == 200 and "机密对接" not in resp.content.decode()
    assert Client().get("/wb/settings/audit/").status_code == 302


def test_the_audit_log_filters_by_action_and_actor(shop):
    a1, a2 = make_staff(shop, "admin"), make_staff(shop, "admin")
    a1.display_name, a2.display_name = "店长甲", "店长乙"
    a1.save()
    a2.save()
    actor1 = staff_actor(shop, "admin", a1)
    actor1 = actor1.__class__(**{**actor1.__dict__, "label": "店长甲"})
    actor2 = staff_actor(shop, "admin", a2)
    actor2 = actor2.__class__(**{**actor2.__dict__, "label": "店长乙"})
    key, _ = core_services.issue_api_key(shop, actor1, "甲的密钥")
    core_services.revoke_api_key(shop, actor2, key.id)
    assistant_services.save_faq(shop, actor2, question="乙的问题？", answer="答")
    client = Client()
    client.force_login(a1.user)

    def rows(**q) -> str:
        resp = client.get("/wb/settings/audit/", q)
        assert resp.status_code == 200
        return resp.content.decode().split('data-testid="audit-table"', 1)[1]

    everything = rows()
    assert "api_key.issue" in everything and "faq.add" in everything
    keys = rows(action="api_key")
    assert "api_key.issue" in keys and "api_key.revoke" in keys and "faq.add" not in keys
    only_revoke = rows(action="api_key.revoke")
    assert "api_key.revoke" in only_revoke and "api_key.issue" not in only_revoke
    by_b = rows(actor="店长乙")
    assert "api_key.revoke" in by_b and "faq.add" in by_b and "api_key.issue" not in by_b
    menus = client.get("/wb/settings/audit/").content.decode()
    assert 'value="api_key"' in menus and "店长甲" in menus
