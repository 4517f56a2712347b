"""Pages are Chinese by default; English through the switch; the API follows Accept-Language."""

from __future__ import annotations


def test_an_english_browser_still_gets_chinese_pages_until_it_switches(client, db):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "员工登录" in page.content.decode()
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert switched.status_code == 302
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "Staff log in" in page.content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/login/"})
    assert "员工登录" in client.get("/login/").content.decode()


def test_an_unknown_language_cookie_falls_back_to_chinese(client, db):
    client.cookies["django_language"] = "fr"
    assert "员工登录" in client.get("/login/").content.decode()


def test_the_api_answers_in_the_language_asked_for(client, db):
    en = client.get("/api/v1/cases", HTTP_ACCEPT_LANGUAGE="en")
    zh = client.get("/api/v1/cases")
    assert en.status_code == zh.status_code == 401
    assert en.json()["message"].startswith("Not authenticated")
    assert "未登录" in zh.json()["message"]
