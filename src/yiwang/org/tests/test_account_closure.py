"""注销账号: a resident closes their own account at /me/close/, confirmed by their password (or a code
sent to their number when the account has none). The login is disabled at once, open applications that
may be withdrawn are, other cases stay with staff, and the record is erased when no case refers to it."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from yiwang.cases import retention
from yiwang.cases.chain import verify_events
from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_act, case_create
from yiwang.core import clock
from yiwang.messages.models import Message
from yiwang.org.models import Resident
from yiwang.testing import SENIOR_OK

URL = "/me/close/"


@pytest.fixture(autouse=True)
def _retention(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.YIWANG_RETENTION = {"reporter_contact": 365, "id_number": 365, "documents": 365}
    settings.YIWANG_LOGIN_WINDOW_SECONDS = 900
    settings.YIWANG_PROXY_COUNT = 0


def login(client, who: str):
    client.force_login(__import__("django.contrib.auth", fromlist=["get_user_model"]).get_user_model()
                       .objects.get(username=who))


def test_a_resident_closes_their_account_with_the_password_and_cannot_log_in_again(client, world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    login(client, "resident_wang")
    page = client.get(URL)
    assert page.status_code == 200 and "1 件尚未办结" in page.content.decode()

    wrong = client.post(URL, {"password": "=1+1"})
    assert wrong.status_code == 422 and "密码不正确" in wrong.content.decode()
    assert Resident.objects.get(pk=world.residents["wang"].pk).closed_at is None

    done = client.post(URL, {"password": "pw-wang"})
    assert done.status_code == 302 and done["Location"] == "/login/"
    assert client.get("/me/cases/").status_code == 302  # logged out
    assert not client.login(username="resident_wang", password="pw-wang")
    resident = Resident.objects.get(pk=world.residents["wang"].pk)
    assert resident.closed_at is not None and resident.user.is_active is False
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.state == "withdrawn" and verify_events(list(fresh.events.order_by("seq")), fresh.last_hash) is None
    # Their case refers to them: the record waits for the retention clock, then goes.
    assert resident.id_number == "61040219500101123X"
    run = retention.retention_sweep(now=clock.now() + dt.timedelta(days=400))
    assert run.counts["account"] == 1
    erased = Resident.objects.select_related("user").get(pk=resident.pk)
    assert (erased.name, erased.phone, erased.id_number) == (retention.ERASED, "", "")
    assert erased.user.username == f"closed-{erased.user_id}"
    assert "王大爷" not in str(Case.objects.filter(pk=case.pk).values().get())
    assert not any("13800000001" in str(p) for p in CaseEvent.objects.filter(case=case).values_list("payload", flat=True))


def test_an_account_without_cases_is_erased_at_once(client, world):
    login(client, "resident_li")
    assert client.post(URL, {"password": "pw-li"}).status_code == 302
    li = Resident.objects.get(pk=world.residents["li"].pk)
    assert (li.name, li.phone) == (retention.ERASED, "")


def test_an_account_without_a_password_is_closed_with_a_code_sent_to_its_number(client, world):
    user = world.users["resident_li"]
    user.set_unusable_password()
    user.save()
    login(client, "resident_li")
    assert client.post(URL, {"code": "000000"}).status_code == 422
    assert client.post(URL, {"step": "send"}, REMOTE_ADDR="10.9.0.1").status_code == 200
    text = Message.objects.filter(channel="sms", to="13800000002").order_by("-pk").first().text
    assert client.post(URL, {"code": re.search(r"\d{6}", text).group()}).status_code == 302
    assert Resident.objects.get(pk=world.residents["li"].pk).closed_at is not None


def test_a_case_already_in_hand_is_kept_open_with_staff(client, world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    case = case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="accept", version=case.version)
    case = case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="decide", version=case.version,
                    decision="approved")
    login(client, "resident_wang")
    assert client.post(URL, {"password": "pw-wang"}).status_code == 302
    assert Case.objects.get(pk=case.pk).state == "decided"
    # Still open: the record is not erased by the sweep, whatever the date.
    retention.retention_sweep(now=clock.now() + dt.timedelta(days=4000))
    assert Resident.objects.get(pk=world.residents["wang"].pk).id_number == "61040219500101123X"


def test_staff_cannot_close_an_account_here(client, world):
    login(client, "handler_xfl")
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"password": "pw-handler_xfl"}).status_code == 403
    assert world.users["handler_xfl"].__class__.objects.get(username="handler_xfl").is_active


def test_a_staff_member_who_is_also_a_resident_is_refused(client, world):
    Resident.objects.filter(pk=world.residents["li"].pk).update(user=world.users["handler_xfl"])
    login(client, "handler_xfl")
    assert client.post(URL, {"password": "pw-handler_xfl"}).status_code == 403
    assert Resident.objects.get(pk=world.residents["li"].pk).closed_at is None


def test_another_resident_cannot_close_someone_elses_account(client, world):
    login(client, "resident_li")
    # The page has no account in its address: whatever is posted, only the signed-in account closes.
    assert client.post(URL + "?resident=" + str(world.residents["wang"].pk),
                       {"password": "pw-wang", "resident": world.residents["wang"].pk}).status_code == 422
    assert Resident.objects.get(pk=world.residents["wang"].pk).closed_at is None
    assert Resident.objects.get(pk=world.residents["li"].pk).closed_at is None


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    answer = client.post(URL, {"password": "pw-wang"})
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")


@pytest.mark.parametrize("typed", ["pw-wang\x00", "=1+1", "61040219500101123X", ""])
def test_a_hostile_or_empty_confirmation_is_refused_beside_the_field_and_closes_nothing(client, world, typed):
    login(client, "resident_wang")
    answer = client.post(URL, {"password": typed})
    body = answer.content.decode()
    # A control character is refused, naming the field, by the site's middleware before the page runs.
    assert answer.status_code == 422 and ('class="field-error"' in body or "password 含有不可见的控制字符" in body)
    assert "61040219500101123X" not in body
    assert Resident.objects.get(pk=world.residents["wang"].pk).closed_at is None
