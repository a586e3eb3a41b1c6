"""A problem reported without an account (issue 17 item 1): the visitor proves their mobile number
with an SMS code at submission; they are told of the case by SMS and find it on /lookup/; the case
becomes theirs when that number later signs up or logs in by code. And the resident's inbox.

Codes are read from the outbox, as a demo user reads them with ``yiwang messages list``.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from yiwang.cases import services as case_services
from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.workflows import workflow
from yiwang.core import clock, idnumber
from yiwang.core.errors import DomainError
from yiwang.messages import services as message_services
from yiwang.messages.models import Message
from yiwang.org.models import PhoneCode, Resident

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday
PHONE = "13912345678"
OTHER = "13712345678"
ID_NUMBER = "61040219900101123" + idnumber.check_digit("61040219900101123")
REPORT = {"category": "INC_PARKING", "description": "学校门口乱停车", "region_code": "KG-DZ-XFL",
          "lat": "34.405", "lng": "108.705", "address": "幸福路口"}


@pytest.fixture(autouse=True)
def _window(settings):
    settings.YIWANG_LOGIN_WINDOW_SECONDS = 900
    settings.YIWANG_PROXY_COUNT = 0


@pytest.fixture
def clock_at():
    """Freeze the clock at T0 + seconds, moving it as asked."""
    def move(seconds: float = 0):
        clock.set_frozen(T0 + dt.timedelta(seconds=seconds))

    move(0)
    yield move
    clock.set_frozen(None)


def send(client, phone: str = PHONE, page: str = "/report/", address: str = "10.9.0.1"):
    return client.post(page, {"step": "send", "phone": phone}, REMOTE_ADDR=address)


def last_code(phone: str = PHONE) -> str:
    message = Message.objects.filter(channel="sms", to=phone, text__contains="分钟内有效").order_by("-pk").first()
    assert message is not None
    return re.search(r"\d{6}", message.text).group()


def report(client, code: str, phone: str = PHONE, **changes):
    return client.post("/report/", {**REPORT, "step": "report", "phone": phone, "code": code, **changes})


def reported(client, phone: str = PHONE, **changes) -> Case:
    send(client, phone)
    answer = report(client, last_code(phone), phone, **changes)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    return Case.objects.order_by("-pk").first()


def sign_up(client, phone: str = PHONE, id_number: str = ID_NUMBER):
    send(client, phone, page="/signup/", address="10.9.0.2")
    return client.post("/signup/", {"step": "signup", "phone": phone, "code": last_code(phone), "name": "赵小明",
                                    "id_number": id_number, "password": "", "password2": "",
                                    "region_code": "KG-DZ-XFL"})


def sms_to(phone: str) -> list[str]:
    return list(Message.objects.filter(channel="sms", to=phone).order_by("pk").values_list("text", flat=True))


def dispatch_and_close(world, case: Case) -> Case:
    """The command centre dispatches, the enforcement team handles, the centre verifies and closes
    (or, where the workflow first asks the reporter, asks and then closes it unconfirmed)."""
    operator, team = world.viewer("operator_kg"), world.viewer("handler_en")
    case = case_services.register_and_dispatch(case_id=case.pk, unit_code="KG-DZ-EN", viewer=operator)
    case = case_services.case_act(viewer=team, case_id=case.pk, action="acknowledge", version=case.version)
    case = case_services.case_act(viewer=team, case_id=case.pk, action="handle", version=case.version,
                                  result="已劝离车辆")
    case = case_services.case_act(viewer=operator, case_id=case.pk, action="verify", version=case.version)
    try:
        return case_services.case_act(viewer=operator, case_id=case.pk, action="close", version=case.version)
    except DomainError:
        if "ask_confirmation" not in workflow("incident").actions:
            raise
    case = case_services.case_act(viewer=operator, case_id=case.pk, action="ask_confirmation", version=case.version)
    return case_services.case_system_act(case_id=case.pk, action="close_unconfirmed")


# --- reporting without an account ------------------------------------------------------------------


def test_a_visitor_reports_with_the_code_and_is_shown_the_case_on_lookup(client, world, clock_at):
    page = client.get("/report/")
    body = page.content.decode()
    assert page.status_code == 200 and "获取验证码" in body and "短信验证码" not in body
    sent = send(client)
    assert sent.status_code == 200 and 'name="code"' in sent.content.decode()
    answer = report(client, last_code(), idempotency_key="k1")
    assert answer.status_code == 302
    case = Case.objects.get()
    assert (case.kind, case.applicant_id, case.applicant_phone, case.created_by_id) == ("incident", None, PHONE, None)
    assert case.holder_unit_id == world.units["kg_cc"].id
    opened = case.events.get(seq=1)
    assert opened.payload["phone_proven"] is True and opened.actor_id is None
    # Sent to /lookup/ with the number and the phone: the case as a visitor may see it.
    target = urlparse(answer["Location"])
    assert target.path == "/lookup/" and parse_qs(target.query) == {"number": [case.number], "phone": [PHONE]}
    shown = client.get(answer["Location"]).content.decode()
    assert case.number in shown and "已上报" in shown and "139****5678" in shown
    # The case page itself needs the account the visitor does not have.
    assert client.get(f"/cases/{case.number}/")["Location"].startswith("/login/")
    # The same form posted again (a double click) is the same case, not a second one nor a refusal.
    again = report(client, last_code(), idempotency_key="k1")
    assert again.status_code == 302 and Case.objects.count() == 1


def test_a_wrong_code_is_refused_beside_the_code_and_opens_nothing(client, world, clock_at):
    send(client)
    code = last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answer = report(client, wrong)
    body = answer.content.decode()
    assert answer.status_code == 422 and "验证码不正确，还可以再试 4 次" in body
    assert 'name="code"' in body and "学校门口乱停车" in body  # the form comes back, as typed
    assert not Case.objects.exists()
    assert report(client, code).status_code == 302 and Case.objects.count() == 1


def test_an_expired_code_is_refused(client, world, clock_at):
    send(client)
    code = last_code()
    clock_at(5 * 60 + 1)
    answer = report(client, code)
    assert answer.status_code == 422 and "验证码已过期" in answer.content.decode()
    assert not Case.objects.exists()


def test_a_code_for_another_use_is_refused(client, world, clock_at):
    send(client, page="/signup/")  # a sign-up code, not a report code
    answer = report(client, last_code())
    assert answer.status_code == 422 and "验证码无效" in answer.content.decode()
    assert not Case.objects.exists()


def test_a_refused_field_leaves_the_code_valid_for_the_corrected_form(client, world, clock_at):
    send(client)
    code = last_code()
    answer = report(client, code, lat="123")
    assert answer.status_code == 422 and "地图位置无效" in answer.content.decode()
    answer = report(client, code, region_code="NO-SUCH-PLACE")
    assert answer.status_code == 422 and not Case.objects.exists()
    assert PhoneCode.objects.get().used_at is None
    assert report(client, code).status_code == 302 and Case.objects.count() == 1
    assert PhoneCode.objects.get().used_at is not None
    assert report(client, code, idempotency_key="another").status_code == 422  # single use


@pytest.mark.parametrize("phone", ["12345678901", "1391234567", "+1 4155550100", "=1+1", "1391234567\x0b8"])
def test_a_number_that_is_not_a_mainland_mobile_is_refused_beside_it(client, world, clock_at, phone):
    answer = send(client, phone)
    assert answer.status_code == 422
    assert "请填写有效的中国大陆手机号码" in answer.content.decode() or "控制字符" in answer.content.decode()
    assert not Message.objects.exists()
    assert report(client, "123456", phone=phone).status_code == 422 and not Case.objects.exists()


def test_the_right_code_is_counted_and_spent_in_the_cases_own_transaction(client, world, clock_at,
                                                                          django_assert_max_num_queries):
    reported(client, OTHER)  # the caches a report reads (regions, routing, integrations) filled
    send(client)
    code = last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert report(client, wrong).status_code == 422
    assert PhoneCode.objects.get(phone=PHONE).attempts == 1  # a wrong try stays counted, the report refused
    # The code read, then one UPDATE (the try counted, the code spent) and the case's inserts in one
    # transaction (here savepoints): the categories are read only for a form shown again.
    with django_assert_max_num_queries(12):
        answer = report(client, code)
    assert answer.status_code == 302 and Case.objects.count() == 2
    row = PhoneCode.objects.get(phone=PHONE)
    assert row.attempts == 2 and row.used_at is not None
    assert report(client, code, idempotency_key="again").status_code == 422 and Case.objects.count() == 2


def test_codes_are_throttled_as_for_sign_up(client, world, clock_at):
    assert send(client).status_code == 200
    again = send(client)
    assert again.status_code == 422 and "秒后再获取" in again.content.decode()
    for n in range(1, 5):
        clock_at(61 * n)
        assert send(client).status_code == 200
    clock_at(61 * 5)
    refused = send(client)
    assert refused.status_code == 429 and refused["Retry-After"]
    assert Message.objects.filter(to=PHONE).count() == 5


def test_only_a_problem_may_be_reported_without_an_account(client, world, clock_at):
    send(client)
    answer = report(client, last_code(), category="SENIOR_CARD")
    assert answer.status_code == 422 and "没有账号时只能反映问题" in answer.content.decode()
    assert not Case.objects.exists()


def test_hostile_text_is_refused_or_stored_and_shown_masked(client, world, clock_at):
    send(client)
    code = last_code()
    assert report(client, code, description="乱停车\x0b").status_code == 422
    typed = "=1+1 车主身份证 61040219500101123X 电话 13800000001"
    assert report(client, code, description=typed).status_code == 302
    case = Case.objects.get()
    assert case.description == typed
    shown = client.get(f"/lookup/?number={case.number}&phone={PHONE}").content.decode()
    assert "61040219500101123X" not in shown


def test_a_signed_in_resident_reports_as_before_without_a_code(client, world):
    client.force_login(world.users["resident_wang"])
    body = client.get("/report/").content.decode()
    assert "获取验证码" not in body and 'name="code"' not in body
    answer = client.post("/report/", REPORT)
    case = Case.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/cases/{case.number}/"
    assert case.applicant_id == world.residents["wang"].pk and "phone_proven" not in case.events.get(seq=1).payload


def test_the_reporter_is_told_of_dispatch_and_closing_by_sms(client, world, clock_at):
    case = reported(client)
    case = dispatch_and_close(world, case)
    texts = sms_to(PHONE)
    assert any(case.number in t and "已派" in t for t in texts)
    assert any(case.number in t and "已处置" in t for t in texts)
    assert any(case.number in t and "已结案" in t for t in texts)
    assert not Message.objects.filter(channel="inapp").exists()  # nobody to write to in-app yet


# --- the case becomes the resident's who proves the number -----------------------------------------


def test_signing_up_with_the_number_attaches_the_case_with_its_messages(client, world, clock_at):
    case = dispatch_and_close(world, reported(client))
    sms = [t for t in sms_to(PHONE) if case.number in t]
    clock_at(120)
    assert sign_up(client).status_code == 302
    resident = Resident.objects.get(phone=PHONE)
    case.refresh_from_db()
    assert case.applicant_id == resident.pk and case.applicant_name == "赵小明" and case.applicant_phone == PHONE
    attached = case.events.order_by("-seq").first()
    assert attached.action == "attach_applicant" and attached.actor_id is None
    mine = client.get("/me/cases/").content.decode()
    assert case.number in mine
    assert client.get(f"/cases/{case.number}/").status_code == 200
    # The messages sent by SMS before are in the inbox now, oldest first below the newest.
    page = client.get("/")
    assert '<b class="badge">' in page.content.decode()
    inbox = client.get("/me/messages/")
    body = inbox.content.decode()
    assert inbox.status_code == 200 and body.count("未读") >= len(sms)
    assert [t for t in sms if t not in body] == []
    assert body.index(sms[-1]) < body.index(sms[0])
    assert Message.objects.filter(channel="inapp", resident=resident, read_at__isnull=True).count() == 0
    assert "未读" not in client.get("/me/messages/").content.decode().split("</h1>")[1]
    # Attaching again (a later code login) adds nothing.
    assert case_services.cases_attach_by_phone(resident, PHONE) == []
    assert Message.objects.filter(channel="inapp", resident=resident).count() == len(sms)


def test_a_code_login_attaches_what_the_number_reported_since(client, world, clock_at):
    assert sign_up(client).status_code == 302
    client.post("/logout/")
    visitor = Client()
    clock_at(61)
    case = reported(visitor)  # the same person, signed out on another phone browser
    assert case.applicant_id is None
    clock_at(122)
    send(client, page="/login/code/", address="10.9.0.3")
    answer = client.post("/login/code/", {"step": "login", "phone": PHONE, "code": last_code()})
    assert answer.status_code == 302
    case.refresh_from_db()
    assert case.applicant_id == Resident.objects.get(phone=PHONE).pk
    assert case.number in client.get("/me/cases/").content.decode()


def test_someone_signing_up_with_another_number_gets_nothing(client, world, clock_at):
    case = reported(client)
    clock_at(61)
    assert sign_up(client, phone=OTHER).status_code == 302
    case.refresh_from_db()
    assert case.applicant_id is None
    assert case.number not in client.get("/me/cases/").content.decode()
    assert client.get(f"/cases/{case.number}/").status_code == 404
    guessed = client.get(f"/lookup/?number={case.number}&phone={OTHER}").content.decode()
    assert "没有找到编号与手机号都相符的办件" in guessed and "学校门口乱停车" not in guessed


def test_a_number_typed_by_others_or_a_case_already_someones_is_not_attached(client, world, clock_at):
    clerk = world.viewer("clerk_xfl")
    typed = case_services.case_create(viewer=clerk, matter_code="INC_PARKING", region_code="KG-DZ-XFL",
                                      description="窗口代报", channel="hall", applicant_name="赵小明",
                                      applicant_phone=PHONE).case
    wang_case = case_services.case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING",
                                          region_code="KG-DZ-XFL", description="王大爷反映").case
    Resident.objects.filter(pk=world.residents["wang"].pk).update(phone="13800000001")
    assert sign_up(client).status_code == 302
    resident = Resident.objects.get(phone=PHONE)
    typed.refresh_from_db()
    wang_case.refresh_from_db()
    assert typed.applicant_id is None and wang_case.applicant_id == world.residents["wang"].pk
    # Never for a number other than the resident's own, whoever calls.
    mine = reported(Client(), phone=OTHER)
    assert case_services.cases_attach_by_phone(resident, OTHER) == []
    mine.refresh_from_db()
    assert mine.applicant_id is None
    assert not CaseEvent.objects.filter(action="attach_applicant").exists()


# --- the inbox -----------------------------------------------------------------------------------


def _inapp(resident, n: int, text: str = "消息") -> None:
    for i in range(n):
        clock.set_frozen(T0 + dt.timedelta(minutes=i))
        message_services.enqueue(channel="inapp", resident=resident, text=f"{text}{i:02d}", subject="通知",
                                 dedupe_key=f"test:{resident.pk}:{i}")


def test_the_inbox_pages_newest_first_and_marks_what_it_shows_read(client, world, clock_at):
    wang = world.residents["wang"]
    _inapp(wang, 25)
    _inapp(world.residents["li"], 1, text="李阿姨的消息")
    client.force_login(world.users["resident_wang"])
    assert '<b class="badge">25</b>' in client.get("/").content.decode()
    first = client.get("/me/messages/").content.decode()
    assert "消息24" in first and "消息05" in first and "消息04" not in first
    assert first.index("消息24") < first.index("消息23")
    assert "李阿姨的消息" not in first
    more = re.search(r'href="\?cursor=([^"]+)"', first).group(1)
    second = client.get(f"/me/messages/?cursor={more}").content.decode()
    assert "消息04" in second and "消息00" in second and "消息05" not in second
    assert Message.objects.filter(resident=wang, read_at__isnull=True).count() == 0
    assert 'class="badge">' not in client.get("/").content.decode().split("</nav>")[0]
    assert Message.objects.filter(resident=world.residents["li"], read_at__isnull=True).count() == 1


def test_the_inbox_refuses_a_forged_cursor_and_masks_what_it_shows(client, world, clock_at):
    wang = world.residents["wang"]
    message_services.enqueue(channel="inapp", resident=wang, text="=1+1 身份证 61040219500101123X 已处置",
                             subject="YW2026030200000001", dedupe_key="test:hostile")
    client.force_login(world.users["resident_wang"])
    body = client.get("/me/messages/").content.decode()
    assert "61040219500101123X" not in body and "=1+1" in body
    assert client.get("/me/messages/?cursor=%00garbage").status_code in (400, 422)


def test_the_inbox_is_for_residents(client, world):
    assert client.get("/me/messages/")["Location"].startswith("/login/")
    client.force_login(world.users["clerk_xfl"])
    assert client.get("/me/messages/")["Location"] == "/work/notifications/"
