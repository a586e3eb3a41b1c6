"""/lookup/ shows an incident's public photos (the report's and the handling's after photos) as
thumbnails through URLs bound to that lookup: the lookup proves the phone, and nothing else opens them,
neither a guessed path, another case's lookup, an altered or expired token, nor the SMS link's token."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from yiwang.cases.attachments import photos_store
from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.cases.services.confirmation import confirmation_token
from yiwang.cases.tests.photos import jpeg
from yiwang.web import evidence

pytestmark = pytest.mark.django_db
PHONE_A, PHONE_B = "13900000011", "13900000022"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.YIWANG_PROXY_COUNT = 0


def photo(name: str, color: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg(color), content_type="image/jpeg")


def reported_by_phone(world, phone: str, color: str, description: str = "楼下乱停车") -> Case:
    photos = photos_store([photo("before.jpg", color)], name="现场照片")
    return case_create(viewer=world.viewer("operator_kg"), matter_code="INC_PARKING", region_code="KG-DZ-XFL",
                       description=description, lat=34.4051, lng=108.7052, channel="phone", applicant_name="张三",
                       applicant_phone=phone, attachments=photos).case


def step(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


@pytest.fixture
def cases(world):
    """A: handled with an after photo, then verified with the centre's own check photo. B: only reported."""
    a = reported_by_phone(world, PHONE_A, "red")
    step(world, "operator_kg", a, "register")
    step(world, "operator_kg", a, "dispatch", unit_code="KG-DZ-EN")
    step(world, "handler_en", a, "acknowledge")
    step(world, "handler_en", a, "handle", result="已拖移车辆", photos=[photo("after.jpg", "white")])
    step(world, "operator_kg", a, "verify", photos=[photo("check.jpg", "blue")])
    b = reported_by_phone(world, PHONE_B, "green", description="=1+1 \x1b[31m 61040219500101123X")
    return Case.objects.get(pk=a.pk), b


def looked_up(number: str, phone: str) -> tuple[str, list[str]]:
    body = Client().get("/lookup/", {"number": number, "phone": phone}).content.decode()
    return body, re.findall(r'src="(/lookup/[^"]+)\?size=thumb"', body)


def test_the_lookup_shows_the_public_photos_as_thumbnails(cases):
    a, _b = cases
    handle_seq = a.events.get(action="handle").seq
    verify_seq = a.events.get(action="verify").seq
    body, thumbs = looked_up(a.number, PHONE_A)
    assert [t.rsplit("/", 3)[1:3] for t in thumbs] == [["1", "0"], [str(handle_seq), "0"]]
    assert f"/photos/{verify_seq}/" not in body  # the centre's check photo is for staff
    client = Client()
    full, thumb = client.get(thumbs[0]), client.get(thumbs[0] + "?size=thumb")
    assert full.status_code == thumb.status_code == 200 and full["Content-Type"] == "image/jpeg"
    assert "private" in full["Cache-Control"]
    assert client.get(thumbs[1]).status_code == 200
    # The verify step's photo is refused through the same token, as are guessed indexes.
    token = thumbs[0].split("/")[3]
    for seq, index in [(verify_seq, 0), (1, 1), (handle_seq, 1), (999, 0)]:
        assert client.get(f"/lookup/{a.number}/{token}/photos/{seq}/{index}/").status_code == 404


def test_a_wrong_phone_shows_no_photo_and_the_hostile_text_is_inert(cases):
    a, b = cases
    body, thumbs = looked_up(a.number, PHONE_B)
    assert thumbs == [] and "/photos/" not in body
    body, thumbs = looked_up(b.number, PHONE_B)
    assert len(thumbs) == 1
    assert "\x1b" not in body and "61040219500101123X" not in body


def test_a_photo_of_case_a_is_refused_through_case_bs_lookup_and_without_one(cases):
    a, b = cases
    _body, a_thumbs = looked_up(a.number, PHONE_A)
    _body, b_thumbs = looked_up(b.number, PHONE_B)
    a_token, b_token = a_thumbs[0].split("/")[3], b_thumbs[0].split("/")[3]
    handle_seq = a.events.get(action="handle").seq
    client = Client()
    # A's number with B's token, and B's number with A's token: neither opens anything.
    for seq in (1, handle_seq):
        assert client.get(f"/lookup/{a.number}/{b_token}/photos/{seq}/0/").status_code == 404
        assert client.get(f"/lookup/{b.number}/{a_token}/photos/{seq}/0/").status_code == 404
    # B's own lookup reaches B's photo only: A's handling step is no step of B's.
    assert client.get(f"/lookup/{b.number}/{b_token}/photos/1/0/").status_code == 200
    assert client.get(f"/lookup/{b.number}/{b_token}/photos/{handle_seq}/0/").status_code == 404
    # Nor do the signed-in pages' photo URLs open for someone who only looked the case up.
    assert client.get(f"/cases/{a.number}/photos/1/0/").status_code == 302


def test_no_lookup_no_photo(cases, monkeypatch):
    a, _b = cases
    client = Client()
    _body, thumbs = looked_up(a.number, PHONE_A)
    token = thumbs[0].split("/")[3]
    for bad in ("", "x", token[:-2] + "AA", confirmation_token(a)):
        path = f"/lookup/{a.number}/{bad}/photos/1/0/" if bad else f"/lookup/{a.number}//photos/1/0/"
        assert client.get(path).status_code == 404, bad
    monkeypatch.setattr(evidence, "LOOKUP_PHOTO_MAX_AGE", -1)
    assert client.get(thumbs[0]).status_code == 404  # expired
