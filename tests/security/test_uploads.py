"""Uploads are judged by their content, size and count on both ways in (the API and the
buyer portal), and images lose their metadata."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from shouhou.cases.models import Case, Evidence
from tests.api.support import buyer_api, key_api, open_case
from tests.factories import make_order
from tests.portal.support import apply, enter, open_for

SCRIPT = b"<script>alert(document.cookie)</script>"


def jpeg(gps: bool = False, colour: str = "orange") -> bytes:
    img = Image.new("RGB", (32, 24), colour)
    buf = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"
        exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 29.0, 0.0)}
        img.save(buf, format="JPEG", exif=exif)
    else:
        img.save(buf, format="JPEG")
    return buf.getvalue()


def gif_polyglot() -> bytes:
    """A GIF whose comment block carries script: valid image, hostile bytes."""
    buf = io.BytesIO()
    Image.new("P", (8, 8), 1).save(buf, format="GIF", comment=SCRIPT)
    return buf.getvalue()


DISGUISED = {
    "html as .jpg": b"<!doctype html><html><body>" + SCRIPT + b"</body></html>",
    "svg as .jpg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
    "svg with xml prolog": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
    + SCRIPT
    + b"</svg>",
    "jpeg magic then html": b"\xff\xd8\xff\xe0" + b"<html>" + SCRIPT,
    "zip as .jpg": b"PK\x03\x04" + b"\x00" * 40,
    "exe as .jpg": b"MZ\x90\x00" + b"\x00" * 60,
}


@pytest.fixture
def api_case(shop):
    order = make_order(shop)
    integration = key_api(shop)
    case = open_case(integration, order)
    return integration, buyer_api(order), case["id"]


def upload(api, case_id: int, data: bytes, name: str = "photo.jpg"):
    return api.upload(
        f"/cases/{case_id}/evidence", {"file": SimpleUploadedFile(name, data, "image/jpeg")}
    )


@pytest.mark.parametrize("kind", list(DISGUISED))
def test_api_refuses_what_only_claims_to_be_an_image(api_case, kind):
    _, buyer, case_id = api_case
    resp = upload(buyer, case_id, DISGUISED[kind])
    assert resp.status_code == 422, (kind, resp.status_code)
    assert resp.json()["code"] == "evidence_invalid"
    assert not Evidence.objects.filter(case_id=case_id).exists()


def test_a_pdf_named_jpg_is_stored_and_served_as_a_pdf(api_case):
    integration, buyer, case_id = api_case
    resp = upload(
        buyer, case_id, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n", "invoice.jpg"
    )
    assert resp.status_code == 201, resp.content
    ev = Evidence.objects.get(pk=resp.json()["id"])
    assert ev.content_type == "application/pdf"
    assert ev.file.name.endswith(".pdf") and ev.original_name.endswith(".pdf")
    served = integration.client.get(resp.json()["url"], headers=integration.headers)
    assert served["Content-Type"] == "application/pdf"
    assert served["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "make", [lambda: jpeg() + b"<html>" + SCRIPT, gif_polyglot], ids=["jpeg+html", "gif comment"]
)
def test_polyglots_are_rewritten_without_their_payload(api_case, make):
    _, buyer, case_id = api_case
    resp = upload(buyer, case_id, make())
    assert resp.status_code == 201, resp.content
    stored = Evidence.objects.get(pk=resp.json()["id"]).file.read()
    assert SCRIPT not in stored and b"<html>" not in stored
    Image.open(io.BytesIO(stored)).verify()


def test_gps_is_gone_after_upload_on_the_api_and_the_portal(shop, api_case):
    raw = jpeg(gps=True)
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)
    _, buyer, case_id = api_case
    resp = upload(buyer, case_id, raw)
    stored = Evidence.objects.get(pk=resp.json()["id"]).file.read()
    assert not Image.open(io.BytesIO(stored)).getexif().get_ifd(0x8825)
    assert b"PhoneMaker" not in stored

    order = make_order(shop)
    client = Client()
    enter(client, order)
    resp = apply(client, order, files=[SimpleUploadedFile("home.jpg", raw, "image/jpeg")])
    assert resp.status_code == 302, resp.content[:500]
    ev = Evidence.objects.get(case__order=order)
    stored = ev.file.read()
    assert not Image.open(io.BytesIO(stored)).getexif().get_ifd(0x8825)
    assert b"PhoneMaker" not in stored


def test_oversize_is_refused_on_both_paths(shop, api_case, settings):
    settings.SHOUHOU_MAX_EVIDENCE_BYTES = 5000
    big = jpeg() + b"\x00" * 6000
    _, buyer, case_id = api_case
    resp = upload(buyer, case_id, big)
    assert resp.status_code == 413 and resp.json()["code"] == "payload_too_large"
    order = make_order(shop)
    client = Client()
    enter(client, order)
    case = open_for(order)
    resp = client.post(
        f"/portal/case/{case.id}/do/evidence/",
        {"photos": [SimpleUploadedFile("big.jpg", big, "image/jpeg")], "note": "大图"},
    )
    assert resp.status_code in {200, 302}
    assert not Evidence.objects.filter(case=case).exists()


def test_the_count_holds_per_case_and_per_request(shop, api_case):
    from shouhou.cases.policies import update_policy

    update_policy(shop, max_evidence_files=3)
    _, buyer, case_id = api_case
    for i in range(3):
        assert upload(buyer, case_id, jpeg(colour=("red", "green", "blue")[i])).status_code == 201
    over = upload(buyer, case_id, jpeg(colour="white"))
    assert over.json()["code"] == "too_many_evidence"
    assert Evidence.objects.filter(case_id=case_id).count() == 3

    # The portal: one request with more photos than the case has room for stores none.
    order = make_order(shop)
    client = Client()
    enter(client, order)
    case = open_for(order)
    photos = [
        SimpleUploadedFile(f"{i}.jpg", jpeg(colour=c), "image/jpeg")
        for i, c in enumerate(["red", "green", "blue", "white"])
    ]
    client.post(f"/portal/case/{case.id}/do/evidence/", {"photos": photos, "note": "四张"})
    assert not Evidence.objects.filter(case=case).exists()
    # Within the room, they are all stored.
    photos = [
        SimpleUploadedFile(f"{i}.jpg", jpeg(colour=c), "image/jpeg")
        for i, c in enumerate(["red", "green"])
    ]
    client.post(f"/portal/case/{case.id}/do/evidence/", {"photos": photos, "note": "两张"})
    assert Evidence.objects.filter(case=case).count() == 2
    assert Case.objects.filter(pk=case.id).exists()
