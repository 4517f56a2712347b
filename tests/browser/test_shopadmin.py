"""The shop admin's settings pages in a real browser: policy versions, the 极速退款 switch
and its ceiling, FAQ, API keys shown once — and every page at phone width."""

from __future__ import annotations

import re

from shouhou.cases import policies, services
from shouhou.cases.models import Case
from shouhou.cases.services import LineRequest
from shouhou.core.models import ApiKey
from shouhou.rules.models import AutomationRule
from tests.browser.conftest import login
from tests.factories import buyer, make_order, make_staff, staff_actor

SETTINGS_PAGES = [
    ("/wb/settings/", "policy"),
    ("/wb/settings/rules/", "rules"),
    ("/wb/settings/addresses/", "addresses"),
    ("/wb/settings/team/", "team"),
    ("/wb/settings/replies/", "replies"),
    ("/wb/settings/faq/", "faq"),
    ("/wb/settings/api-keys/", "api-keys"),
    ("/wb/settings/audit/", "audit"),
]


def test_admin_edits_a_deadline_and_the_policy_version_goes_up(db, shop, open_page, shot):
    admin = make_staff(shop, "admin", username="dianzhang")
    policies.change_policy(shop, staff_actor(shop, "admin", admin), no_reason_days=7)
    page = open_page()
    login(page, "dianzhang")
    page.goto("/wb/settings/")
    assert "v1" in page.get_by_test_id("policy-version").inner_text()
    shot(page, "policy")
    page.fill("[data-testid=dl-awaiting_merchant]", "-5")
    page.fill("[data-testid=finance-limit]", "很多")
    # The browser's own number check would stop -5; the server's check is what we test.
    page.evaluate("document.querySelector('[data-testid=policy-form]').noValidate = true")
    page.click("[data-testid=policy-save]")
    assert page.locator(".msg-error").count() == 1
    shot(page, "policy-refused")
    assert "v1" in page.get_by_test_id("policy-version").inner_text()
    page.fill("[data-testid=dl-awaiting_merchant]", "48")
    page.fill("[data-testid=finance-limit]", "800")
    page.click("[data-testid=policy-save]")
    page.wait_for_url("**/wb/settings/")
    assert "第 2 版" in page.locator(".msg-success").inner_text()
    assert "v2" in page.get_by_test_id("policy-version").inner_text()
    assert page.locator("[data-testid=dl-awaiting_merchant]").input_value() == "48"
    shot(page, "policy-v2")
    current = policies.current_policy(type(shop).objects.get(pk=shop.pk))
    assert current.version == 2
    assert current.deadline_hours == {"awaiting_merchant": 48}
    assert current.finance_approval_limit_fen == 80000


def test_admin_switches_on_fast_refund_sets_its_ceiling_and_it_agrees_at_once(
    db, shop, open_page, shot
):
    make_staff(shop, "admin", username="dianzhang")
    page = open_page()
    login(page, "dianzhang")
    page.goto("/wb/settings/rules/")
    card = page.get_by_test_id("rule-fast_refund")
    assert card.get_by_test_id("rule-state").inner_text() == "未启用"
    shot(page, "rules")
    card.get_by_test_id("rule-switch").click()
    page.wait_for_load_state("networkidle")
    card = page.get_by_test_id("rule-fast_refund")
    assert card.get_by_test_id("rule-state").inner_text() == "已启用"
    card.get_by_test_id("rule-edit").click()
    shot(page, "rule-edit")
    rows = page.get_by_test_id("cond-row")
    ceiling = None
    for i in range(rows.count()):
        if (
            page.locator(f"[data-testid=cond-field-{i}]").input_value()
            == "case.requested_refund_fen"
        ):
            ceiling = i
    assert ceiling is not None
    assert page.locator(f"[data-testid=cond-value-{ceiling}]").input_value() == "200"
    # An unknown field in a spare row is refused by the engine's validation, nothing saved.
    spare = rows.count() - 1
    page.select_option(f"[data-testid=cond-field-{spare}]", "case.type")
    page.select_option(f"[data-testid=cond-op-{spare}]", "lte")
    page.fill(f"[data-testid=cond-value-{spare}]", "3")
    page.click("[data-testid=rule-save]")
    assert "规则不合法" in page.locator(".msg-error").inner_text()
    shot(page, "rule-refused")
    page.select_option(f"[data-testid=cond-field-{spare}]", "")
    page.select_option(f"[data-testid=cond-op-{spare}]", "")
    page.fill(f"[data-testid=cond-value-{spare}]", "")
    page.fill(f"[data-testid=cond-value-{ceiling}]", "99.5")
    page.click("[data-testid=rule-save]")
    page.wait_for_url("**/wb/settings/rules/")
    assert "不超过 99.5" in page.get_by_test_id("rule-fast_refund").inner_text()
    shot(page, "rules-saved")
    rule = AutomationRule.objects.get(shop=shop, template="fast_refund")
    assert rule.enabled
    assert {"field": "case.requested_refund_fen", "op": "lte", "value": 9950} in rule.conditions

    # A new unshipped refund under the ceiling is agreed at once; one above it waits.
    small = make_order(shop, lines=[(1, 5000)], status="paid")
    big = make_order(shop, lines=[(1, 15000)], status="paid")
    opened = [
        services.open_case(
            shop,
            buyer(o),
            order=o,
            type="refund_only",
            reason="changed_mind_unshipped",
            lines=[LineRequest(o.lines.first().id, 1)],
        )
        for o in (small, big)
    ]
    assert Case.objects.get(pk=opened[0].id).status == "refunding"
    assert Case.objects.get(pk=opened[1].id).status == "awaiting_merchant"
    page.goto("/wb/settings/rules/")
    assert "执行于 1 个售后单" in page.get_by_test_id("rule-fast_refund").inner_text()
    shot(page, "rules-fired")


def test_admin_adds_a_faq_entry_and_creates_an_api_key_seen_once(db, shop, open_page, shot):
    make_staff(shop, "admin", username="dianzhang")
    page = open_page()
    login(page, "dianzhang")
    page.goto("/wb/settings/faq/")
    shot(page, "faq-empty")
    page.click("[data-testid=faq-save]")  # an empty question
    assert "问题" in page.locator(".msg-error").inner_text()
    shot(page, "faq-refused")
    page.evaluate("document.querySelector('[data-testid=faq-form]').noValidate = true")
    page.select_option("[data-testid=faq-category]", "refund")
    page.fill("[data-testid=faq-question]", "退款多久到账？")
    page.fill("[data-testid=faq-answer]", "商家同意后原路退回，一般 1–3 个工作日到账。")
    page.check("[data-testid=faq-published]")
    page.click("[data-testid=faq-save]")
    page.wait_for_url("**/wb/settings/faq/")
    assert "退款多久到账？" in page.get_by_test_id("faq-group-refund").inner_text()
    shot(page, "faq-added")
    response = page.goto(f"/help/{shop.code}/")
    if response is not None and response.status == 200:
        # The help centre (the portal's) lists published entries.
        assert "退款多久到账？" in page.content()
        shot(page, "help-centre")

    page.goto("/wb/settings/api-keys/")
    shot(page, "api-keys")
    page.fill("[data-testid=api-key-name]", "ERP 对接")
    page.click("[data-testid=api-key-create]")
    secret = page.get_by_test_id("api-key-secret").inner_text().strip()
    key = ApiKey.objects.get(shop=shop)
    assert re.fullmatch(rf"sh_{key.prefix}_\S{{30,}}", secret)
    assert key.key_hash == ApiKey.hash_secret(secret) and secret not in key.key_hash
    shot(page, "api-key-created")
    page.reload()
    page.wait_for_load_state("networkidle")
    assert secret not in page.content()
    assert ApiKey.objects.filter(shop=shop).count() == 1  # a reload did not make another
    assert page.get_by_test_id(f"api-key-{key.prefix}").is_visible()
    shot(page, "api-keys-after-reload")
    page.get_by_test_id(f"api-key-{key.prefix}").get_by_test_id("api-key-revoke").click()
    page.wait_for_load_state("networkidle")
    assert "已吊销" in page.get_by_test_id(f"api-key-{key.prefix}").inner_text()
    page.goto("/wb/settings/audit/")
    audit = page.get_by_test_id("audit-table").inner_text()
    assert "api_key.issue" in audit and "api_key.revoke" in audit and "faq.add" in audit
    shot(page, "audit")


def test_every_settings_page_works_at_phone_width_and_in_english(db, shop, open_page, shot):
    admin = make_staff(shop, "admin", username="dianzhang")
    make_staff(shop, "agent", username="xiaomei")
    from shouhou.assistant import services as knowledge

    actor = staff_actor(shop, "admin", admin)
    knowledge.save_faq(shop, actor, question="可以开发票吗？", answer="可以。", category="invoice")
    knowledge.save_canned(
        shop, actor, title="同意退款", body="{buyer} 您好，{case_no} 已同意退款 {refund}。"
    )
    page = open_page(phone=True)
    login(page, "dianzhang")
    for path, name in SETTINGS_PAGES:
        page.goto(path)
        shot(page, f"phone-{name}")
    page.goto("/wb/settings/team/")
    page.get_by_test_id("member-xiaomei").get_by_test_id("member-deactivate").click()
    page.wait_for_load_state("networkidle")
    assert "已停用" in page.get_by_test_id("member-xiaomei").inner_text()
    shot(page, "phone-team-deactivated")
    page.click("[data-testid=lang-en]")
    page.wait_for_load_state("networkidle")
    assert "Team & roles" in page.locator("h1").inner_text()
    shot(page, "phone-team-en")
    page.goto("/wb/settings/")
    assert "After-sales policy" in page.content()
    shot(page, "phone-policy-en")
