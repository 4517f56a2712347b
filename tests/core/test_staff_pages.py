"""The staff page guard: log in first, then the role and the shop decide."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory

from shouhou.core.models import Role
from shouhou.core.web import SHOP_SESSION_KEY, staff_page
from tests.factories import make_shop, make_staff


@staff_page(Role.AGENT, Role.ADMIN)
def agents_only(request):
    return HttpResponse(f"{request.shop.code}:{request.actor.role}:{request.actor.staff_id}")


def _request(user, session=None):
    from django.contrib.sessions.backends.db import SessionStore

    request = RequestFactory().get("/wb/somewhere/?x=1")
    request.user = user
    request.session = SessionStore()
    request.session.update(session or {})
    return request


def test_anonymous_visitors_are_sent_to_log_in(db):
    from django.contrib.auth.models import AnonymousUser

    response = agents_only(_request(AnonymousUser()))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/wb/somewhere/")


def test_a_role_not_listed_gets_the_403_page(shop):
    member = make_staff(shop, "warehouse")
    response = agents_only(_request(member.user))
    assert response.status_code == 403
    assert "无权" in response.content.decode()


def test_a_user_in_no_shop_is_told_so(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("loner", password="x-12345678")
    response = agents_only(_request(user))
    assert response.status_code == 403
    assert "未加入任何店铺" in response.content.decode()


def test_the_shop_chosen_in_the_session_decides_the_role(db):
    first, second = make_shop(code="a"), make_shop(code="b")
    member = make_staff(first, "agent", username="both")
    make_staff(second, "warehouse", username="both-b").delete()
    from shouhou.core.models import StaffMember

    StaffMember.objects.create(shop=second, user=member.user, role="warehouse")
    ok = agents_only(_request(member.user, {SHOP_SESSION_KEY: first.code}))
    assert ok.status_code == 200 and ok.content.decode().startswith(f"{first.code}:agent:")
    refused = agents_only(_request(member.user, {SHOP_SESSION_KEY: second.code}))
    assert refused.status_code == 403


def test_an_inactive_membership_is_no_membership(shop):
    member = make_staff(shop, "agent")
    member.is_active = False
    member.save()
    assert agents_only(_request(member.user)).status_code == 403
