"""Logging in and out, the language switch, and the login page at phone width."""

from __future__ import annotations

from tests.browser.conftest import login
from tests.factories import make_staff


def test_wrong_password_says_so_and_right_one_lands_on_the_role_home(db, shop, open_page, shot):
    make_staff(shop, "warehouse", username="laozhou")
    page = open_page(phone=True)
    page.goto("/login/")
    shot(page, "login")
    page.fill("input[name=username]", "laozhou")
    page.fill("input[name=password]", "wrong-password")
    page.click("[data-testid=login-submit]")
    alert = page.locator("[data-code=login_failed]")
    assert "用户名或密码错误" in alert.inner_text()
    shot(page, "login-failed")
    login(page, "laozhou")
    assert page.url.endswith("/wb/warehouse/")
    page.click("[data-testid=logout]")
    page.wait_for_url("**/login/")


def test_language_switch_turns_the_page_english_and_back(db, open_page, shot):
    page = open_page()
    page.goto("/login/")
    assert page.locator("h1").inner_text() == "员工登录"
    page.click("[data-testid=lang-en]")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "Staff log in"
    shot(page, "login-en")
    page.click("[data-testid=lang-zh]")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "员工登录"


def test_a_staff_page_sends_anonymous_visitors_to_log_in(db, open_page):
    page = open_page()
    page.goto("/wb/settings/")
    assert "/login/" in page.url and "next=" in page.url
