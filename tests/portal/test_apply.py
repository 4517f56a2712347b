"""Opening a request from the portal: lines, type and reason, photos, all or nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from shouhou.cases.models import Case, Evidence
from shouhou.cases.policies import update_policy
from tests.factories import make_order
from tests.portal.support import apply, enter, fake_jpeg, form_token, jpeg, messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_apply_page_offers_only_what_the_policy_allows(client, shop):
    update_policy(shop, reason_types={"no_reason_7d": [], "quality": ["refund_only"]})
    order = make_order(shop)
    enter(client, order)
    page = client.get("/portal/order/apply/")
    reasons = dict(page.context["reasons"])
    assert "no_reason_7d" not in reasons
    assert reasons["quality"] == ["refund_only"]
    # A shipped order cannot use the unshipped-only reason.
    assert "changed_mind_unshipped" not in reasons


def test_open_a_return_with_a_photo(client, shop, media):
    order = make_order(shop)
    enter(client, order)
    response = apply(client, order, files=[jpeg()])
    case = Case.objects.get(order=order)
    assert response.status_code == 302 and response.url == f"/portal/case/{case.id}/"
    assert case.channel == "portal" and case.type == "return_refund"
    assert Evidence.objects.filter(case=case).count() == 1
    page = client.get(response.url)
    html = page.content.decode()
    assert "商家将在" in html and "超时将自动同意" in html
    assert f"/portal/case/{case.id}/evidence/" in html


def test_a_non_image_renamed_jpg_opens_nothing(client, shop, media):
    order = make_order(shop)
    enter(client, order)
    response = apply(client, order, files=[jpeg("ok.jpg"), fake_jpeg("note.jpg")])
    assert response.status_code == 200
    codes = [c for c, _ in messages_of(response)]
    assert codes == ["evidence_invalid"]
    assert "note.jpg" in response.content.decode() and "申请未提交" in response.content.decode()
    assert not Case.objects.filter(order=order).exists()
    assert stored_files(media) == []


def test_an_oversized_photo_opens_nothing(client, shop, media, settings):
    settings.SHOUHOU_MAX_EVIDENCE_BYTES = 2000
    order = make_order(shop)
    enter(client, order)
    big = SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"0" * 5000, "image/jpeg")
    response = apply(client, order, files=[big])
    assert [c for c, _ in messages_of(response)] == ["payload_too_large"]
    assert "太大" in response.content.decode()
    assert not Case.objects.filter(order=order).exists()
    assert stored_files(media) == []


def test_more_photos_than_the_policy_allows_open_nothing(client, shop, media):
    update_policy(shop, max_evidence_files=2)
    order = make_order(shop)
    enter(client, order)
    response = apply(client, order, files=[jpeg(f"{i}.jpg") for i in range(3)])
    assert [c for c, _ in messages_of(response)] == ["too_many_evidence"]
    assert not Case.objects.filter(order=order).exists()


def test_the_form_keeps_what_was_typed_after_a_refusal(client, shop, media):
    order = make_order(shop)
    enter(client, order)
    response = apply(client, order, files=[fake_jpeg()], description="第二次试")
    assert "第二次试" in response.content.decode()
    # The same form token still works once the file is fixed.
    retry = apply(client, order, files=[jpeg()], token=response.context["form_token"])
    assert retry.status_code == 302
    assert Case.objects.filter(order=order).count() == 1


def test_a_replayed_form_opens_one_case(client, shop):
    order = make_order(shop)
    enter(client, order)
    token = form_token(client)
    first = apply(client, order, token=token)
    second = apply(client, order, token=token)
    case = Case.objects.get(order=order)
    assert first.url == second.url == f"/portal/case/{case.id}/"
    page = client.get(second.url)
    assert "already_submitted" in [c for c, _ in messages_of(page)]


def test_a_second_request_on_the_same_line_and_type_is_refused_nicely(client, shop):
    order = make_order(shop)
    enter(client, order)
    apply(client, order)
    response = apply(client, order)
    assert [c for c, _ in messages_of(response)] == ["case_already_open"]
    assert "售后记录" in response.content.decode()
    assert Case.objects.filter(order=order).count() == 1


def test_an_unknown_form_token_opens_nothing(client, shop):
    order = make_order(shop)
    enter(client, order)
    response = apply(client, order, token="forged-token")
    assert response.status_code == 302 and response.url == "/portal/order/apply/"
    assert not Case.objects.filter(order=order).exists()


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"type": "price_protect", "reason": "quality"}, "reason_not_allowed"),
        ({"type": "bogus"}, "validation_error"),
        ({"reason": "bogus"}, "validation_error"),
        ({"type": ""}, "validation_error"),
        ({"qty": 3}, "quantity_exceeds_ordered"),
        ({"qty": 0}, "validation_error"),
        ({"qty": "x"}, "validation_error"),
        ({"amount": "-1"}, "validation_error"),
        ({"amount": "1.234"}, "validation_error"),
        ({"amount": "abc"}, "validation_error"),
        ({"amount": "NaN"}, "validation_error"),
        ({"amount": "999"}, "refund_exceeds_paid"),
        ({"description": "字" * 2001}, "validation_error"),
    ],
)
def test_bad_input_gets_a_message_and_opens_nothing(client, shop, changes, code):
    order = make_order(shop)  # one line: 2 × ¥50
    enter(client, order)
    response = apply(client, order, **changes)
    assert response.status_code == 200
    assert [c for c, _ in messages_of(response)] == [code]
    assert not Case.objects.filter(order=order).exists()


def test_no_line_chosen(client, shop):
    order = make_order(shop)
    enter(client, order)
    response = client.post(
        "/portal/order/apply/",
        {"form_token": form_token(client), "type": "refund_only", "reason": "quality"},
    )
    assert [c for c, _ in messages_of(response)] == ["validation_error"]


def test_a_line_of_another_order_is_refused(client, shop):
    order = make_order(shop)
    other = make_order(shop)
    enter(client, order)
    foreign = other.lines.first()
    response = client.post(
        "/portal/order/apply/",
        {
            "form_token": form_token(client),
            "line": [str(foreign.id)],
            f"qty_{foreign.id}": "1",
            "type": "refund_only",
            "reason": "quality",
        },
    )
    assert [c for c, _ in messages_of(response)] == ["unknown_order_line"]
    assert not Case.objects.exists()


def test_a_partial_amount_is_asked_for(client, shop):
    order = make_order(shop)
    enter(client, order)
    apply(client, order, type="refund_only", amount="12.50")
    assert Case.objects.get(order=order).requested_refund_fen == 1250
