"""Residents' accounts by mobile number (issue 17 item 1): sign up and log in with an SMS code.

The code is read from the outbox, as a demo user reads it with ``yiwang messages list``.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from yiwang.core import clock, idnumber
from yiwang.messages.models import Message
from yiwang.org.models import Resident

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
PHONE = "13912345678"
ID_NUMBER = "610402199001011234"[:17] + idnumber.check_digit("61040219900101123")  # a valid checksum


@pytest.fixture(autouse=True)
def _window(settings):
    settings.YIWANG_LOGIN_WINDOW_SECONDS = 900
    settings.YIWANG_PROXY_COUNT = 0


@pytest.fixture
def clock_at():
    """Freeze the clock at T0 + seconds for the rest of the test, moving it as asked."""
    moments: list = []

    def move(seconds: float = 0):
        if moments:
            clock.set_frozen(None)
        moment = T0 + dt.timedelta(seconds=seconds)
        moments.append(moment)
        clock.set_frozen(moment)

    move(0)
    yield move
    clock.set_frozen(None)


def send(client, phone: str = PHONE, page: str = "/signup/", address: str = "10.9.0.1"):
    return client.post(page, {"step": "send", "phone": phone}, REMOTE_ADDR=address)


def last_code(phone: str = PHONE) -> str:
    message = Message.objects.filter(channel="sms", to=phone).order_by("-pk").first()
    assert message is not None and "分钟内有效" in message.text
    return re.search(r"\d{6}", message.text).group()


def sign_up(client, code: str, phone: str = PHONE, id_number: str = ID_NUMBER, name: str = "赵小明",
            password: str = "", region_code: str = "KG-DZ-XFL"):
    return client.post("/signup/", {"step": "signup", "phone": phone, "code": code, "name": name,
                                    "id_number": id_number, "password": password, "password2": password,
                                    "region_code": region_code})


def test_a_new_number_signs_up_with_the_code_from_the_outbox_and_sees_my_cases(client, world, clock_at):
    page = client.get("/signup/")
    assert page.status_code == 200 and "获取验证码" in page.content.decode()
    sent = send(client)
    assert sent.status_code == 200 and "验证码已发送" in sent.content.decode()
    answer = sign_up(client, last_code(), password="a-long-Passw0rd")
    assert answer.status_code == 302 and answer["Location"] == "/me/cases/"
    mine = client.get("/me/cases/")
    body = mine.content.decode()
    assert mine.status_code == 200 and "我的办件" in body and "注册成功" in body
    resident = Resident.objects.get(id_number=ID_NUMBER)
    assert resident.phone == PHONE and resident.user is not None and resident.name == "赵小明"
    assert resident.region.code == "KG-DZ-XFL"  # where they said they live: their applications go there
    assert resident.user.check_password("a-long-Passw0rd")
    assert ID_NUMBER not in body
    # A password login works with the username the page told them.
    client.post("/logout/")
    assert client.login(username=resident.user.username, password="a-long-Passw0rd")


def test_sign_up_without_a_password_and_log_in_again_by_code(client, world, clock_at):
    send(client)
    assert sign_up(client, last_code()).status_code == 302
    user = Resident.objects.get(phone=PHONE).user
    assert not user.has_usable_password()
    client.post("/logout/")
    assert "手机验证码登录" in client.get("/login/").content.decode()
    clock_at(61)
    assert send(client, page="/login/code/").status_code == 200
    answer = client.post("/login/code/", {"step": "login", "phone": PHONE, "code": last_code()})
    assert answer.status_code == 302 and answer["Location"] == "/me/cases/"
    assert client.get("/me/cases/").status_code == 200
    assert int(client.session["_auth_user_id"]) == user.pk


def test_a_code_login_for_a_number_without_an_account_is_told_to_sign_up(client, world, clock_at):
    send(client, page="/login/code/")
    answer = client.post("/login/code/", {"step": "login", "phone": PHONE, "code": last_code()})
    assert answer.status_code == 422 and "尚未注册" in answer.content.decode()


def test_a_wrong_code_is_refused_with_a_message(client, world, clock_at):
    send(client)
    code = last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answer = sign_up(client, wrong)
    assert answer.status_code == 422 and "验证码不正确，还可以再试 4 次" in answer.content.decode()
    assert not Resident.objects.filter(phone=PHONE).exists()
    assert sign_up(client, code).status_code == 302


def test_an_expired_code_is_refused(client, world, clock_at):
    send(client)
    clock_at(5 * 60 + 1)
    answer = sign_up(client, last_code())
    assert answer.status_code == 422 and "验证码已过期" in answer.content.decode()


def test_five_wrong_tries_and_the_code_is_dead(client, world, clock_at):
    send(client)
    code = last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert sign_up(client, wrong).status_code == 422
    answer = sign_up(client, code)
    assert answer.status_code == 422 and "验证码无效，请重新获取" in answer.content.decode()
    # A new code, a minute later, works.
    clock_at(61)
    send(client)
    assert sign_up(client, last_code()).status_code == 302


def test_a_code_is_used_once(client, world, clock_at):
    send(client)
    code = last_code()
    assert sign_up(client, code).status_code == 302
    client.post("/logout/")
    again = client.post("/login/code/", {"step": "login", "phone": PHONE, "code": code})
    assert again.status_code == 422 and "验证码无效" in again.content.decode()


def test_a_resend_within_60_seconds_is_refused(client, world, clock_at):
    send(client)
    clock_at(30)
    again = send(client)
    assert again.status_code == 422 and "30 秒后再获取" in again.content.decode()
    assert Message.objects.filter(to=PHONE).count() == 1
    clock_at(60)
    assert send(client).status_code == 200
    assert Message.objects.filter(to=PHONE).count() == 2


def test_sending_too_many_codes_is_slowed(client, world, clock_at):
    for i in range(5):
        clock_at(61 * i)
        assert send(client).status_code == 200
    clock_at(61 * 5)
    refused = send(client)
    assert refused.status_code == 429 and "获取验证码过于频繁" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    # The owner, elsewhere, still gets one: one sender cannot use up the number's own ceiling.
    assert send(client, address="10.9.0.2").status_code == 200


@pytest.mark.parametrize("number", ["12345678901", "1381234567", "+1 4155550100", "021-12345678", "1391234567a"])
def test_a_number_that_is_not_a_mainland_mobile_is_refused_beside_the_field(client, world, clock_at, number):
    answer = send(client, phone=number)
    assert answer.status_code == 422
    assert "请填写有效的中国大陆手机号码" in answer.content.decode()
    assert not Message.objects.exists()


def test_an_id_number_with_a_bad_checksum_is_refused_and_the_code_is_kept(client, world, clock_at):
    send(client)
    bad = ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")
    answer = sign_up(client, last_code(), id_number=bad)
    assert answer.status_code == 422 and "身份证号码无效" in answer.content.decode()
    assert bad not in answer.content.decode()
    assert sign_up(client, last_code()).status_code == 302  # the code was not spent on the refusal


def test_one_account_per_id_number(client, world, clock_at):
    send(client)
    assert sign_up(client, last_code()).status_code == 302
    other = client.__class__()
    other_phone = "13987654321"
    send(other, phone=other_phone, address="10.9.0.3")
    answer = sign_up(other, last_code(other_phone), phone=other_phone)
    assert answer.status_code == 422 and "该身份证号码已注册账号" in answer.content.decode()
    # 王大爷's number, whose record already has an account, too.
    clock_at(61)
    send(other, phone=other_phone, address="10.9.0.3")
    answer = sign_up(other, last_code(other_phone), phone=other_phone, id_number="61040219500101123X", name="王大爷")
    assert answer.status_code == 422 and "该身份证号码已注册账号" in answer.content.decode()
    assert Resident.objects.filter(user__isnull=False, id_number=ID_NUMBER).count() == 1


def test_a_resident_on_record_without_an_account_gets_it(client, world, clock_at):
    from yiwang.org.services import resident_create

    on_record = resident_create(name="钱奶奶", phone=PHONE, region=world.regions["xfl"], id_number=ID_NUMBER)
    send(client)
    assert sign_up(client, last_code(), name="孙某").status_code == 422  # the name must match the record
    assert sign_up(client, last_code(), name="钱奶奶").status_code == 302
    on_record.refresh_from_db()
    assert on_record.user is not None and on_record.phone == PHONE


def test_someone_who_knows_a_name_and_id_number_cannot_take_over_the_record(client, world, clock_at):
    """The record's own mobile number must be the one proven by the code."""
    from yiwang.org.services import resident_create

    on_record = resident_create(name="钱奶奶", phone="13800000099", region=world.regions["xfl"], id_number=ID_NUMBER)
    send(client)
    answer = sign_up(client, last_code(), name="钱奶奶")
    assert answer.status_code == 422 and "登记的手机号码不是此号码" in answer.content.decode()
    on_record.refresh_from_db()
    assert on_record.user is None and on_record.phone == "13800000099"
    assert not Resident.objects.filter(phone=PHONE).exists()
    assert Resident.objects.filter(id_number=ID_NUMBER).count() == 1


def test_the_id_number_is_never_shown_in_full_afterwards(client, world, clock_at):
    send(client)
    sign_up(client, last_code())
    for url in ("/me/cases/", "/signup/", "/login/code/", "/", "/report/", "/lookup/"):
        answer = client.get(url)
        assert answer.status_code in (200, 302), url
        assert ID_NUMBER not in answer.content.decode(), url
    assert not Message.objects.filter(text__contains=ID_NUMBER).exists()


def test_the_fifth_try_may_still_be_the_right_one(client, world, clock_at):
    send(client)
    code = last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        assert f"还可以再试 {left} 次" in sign_up(client, wrong).content.decode()
    assert sign_up(client, code).status_code == 302


def test_the_fifth_wrong_try_says_the_code_is_dead(client, world, clock_at):
    send(client)
    wrong = f"{(int(last_code()) + 1) % 1_000_000:06d}"
    for _ in range(4):
        sign_up(client, wrong)
    assert "验证码不正确，已失效" in sign_up(client, wrong).content.decode()


def test_a_new_resident_says_where_they_live_and_applies_there(client, world, clock_at):
    from yiwang.cases.services import case_create
    from yiwang.org.selectors import viewer_for
    from yiwang.testing import SENIOR_OK

    send(client)
    code = last_code()
    refused = sign_up(client, code, region_code="")
    assert refused.status_code == 422 and "请选择您居住的村（社区）。" in refused.content.decode()
    assert not Resident.objects.filter(id_number=ID_NUMBER).exists()
    refused = sign_up(client, code, region_code="KG-DZ")  # a town, not a community
    assert refused.status_code == 422 and not Resident.objects.filter(id_number=ID_NUMBER).exists()

    assert sign_up(client, code).status_code == 302
    user = Resident.objects.get(id_number=ID_NUMBER).user
    case = case_create(viewer=viewer_for(user), matter_code="SENIOR_CARD", **SENIOR_OK).case
    assert case.holder_unit_id == world.units["xfl_sh"].id  # the community's hall, not a fallback


# --- the optional password: Django's validators at sign-up, then phone + password at login -----------

@pytest.mark.parametrize(("password", "why"), [
    ("short1!", "密码太短，至少需要 8 个字符"),  # MinimumLengthValidator
    ("12345678901", "不能全是数字"),             # NumericPasswordValidator
    ("password123", "太常见"),                   # CommonPasswordValidator
    ("13912345678x", "太相似"),                  # UserAttributeSimilarityValidator: the mobile number
])
def test_a_weak_password_is_refused_beside_the_field_and_the_code_is_kept(client, world, clock_at, password, why):
    send(client)
    code = last_code()
    answer = sign_up(client, code, password=password)
    html = answer.content.decode()
    assert answer.status_code == 422
    errors = html.split('id="password-errors"', 1)[1].split("</div>", 1)[0]
    assert why in errors, errors
    assert not Resident.objects.filter(phone=PHONE).exists()
    # The code was not spent on a refused form: the same code signs up with a good password.
    assert sign_up(client, code, password="a-long-Passw0rd").status_code == 302


def test_mismatched_passwords_are_refused_beside_the_second(client, world, clock_at):
    send(client)
    answer = client.post("/signup/", {"step": "signup", "phone": PHONE, "code": last_code(), "name": "赵小明",
                                      "id_number": ID_NUMBER, "password": "a-long-Passw0rd",
                                      "password2": "a-long-Passw0rd!", "region_code": "KG-DZ-XFL"})
    assert answer.status_code == 422 and "两次输入的密码不一致" in answer.content.decode()


def _signed_up(client, password: str = "a-long-Passw0rd"):
    send(client)
    assert sign_up(client, last_code(), password=password).status_code == 302
    client.post("/logout/")
    return Resident.objects.get(phone=PHONE).user


def test_a_resident_logs_in_with_phone_and_password(client, world, clock_at):
    user = _signed_up(client)
    page = client.get("/login/").content.decode()
    assert "手机号码或用户名" in page and "手机验证码登录" in page  # both ways are offered
    answer = client.post("/login/", {"username": f"+86 {PHONE}", "password": "a-long-Passw0rd", "next": "/me/cases/"})
    assert answer.status_code == 302 and answer["Location"] == "/me/cases/"
    assert int(client.session["_auth_user_id"]) == user.pk
    # The API's session login takes the number too.
    client.post("/logout/")
    api = client.post("/api/v1/session", data=json.dumps({"username": PHONE, "password": "a-long-Passw0rd"}),
                      content_type="application/json")
    assert api.status_code == 200 and api.json()["username"] == user.username


def test_a_wrong_password_by_phone_gets_a_clear_message_and_is_throttled(client, world, clock_at, settings):
    _signed_up(client)
    settings.YIWANG_LOGIN_FAILURES_PER_USERNAME = 3
    for _try in range(3):
        answer = client.post("/login/", {"username": PHONE, "password": "wrong-Passw0rd"}, REMOTE_ADDR="10.9.0.7")
        assert answer.status_code == 200 and "用户名或密码不正确" in answer.content.decode()
        assert "手机验证码登录" in answer.content.decode()
    # Counted against the account, whichever of its names is typed: the username now waits too.
    username = Resident.objects.get(phone=PHONE).user.username
    refused = client.post("/login/", {"username": username, "password": "a-long-Passw0rd"}, REMOTE_ADDR="10.9.0.8")
    assert refused.status_code == 429 and refused.has_header("Retry-After")
    assert "_auth_user_id" not in client.session


def test_a_number_without_an_account_or_without_a_password_does_not_log_in(client, world, clock_at):
    answer = client.post("/login/", {"username": PHONE, "password": "a-long-Passw0rd"})
    assert answer.status_code == 200 and "用户名或密码不正确" in answer.content.decode()
    _signed_up(client, password="")
    answer = client.post("/login/", {"username": PHONE, "password": ""})
    assert answer.status_code == 200 and "_auth_user_id" not in client.session


def test_a_number_shared_by_two_accounts_logs_into_neither(client, world, clock_at):
    from yiwang.org.services import resident_create, user_create

    _signed_up(client)
    other = user_create(username="r_other", password="a-long-Passw0rd")
    resident_create(name="赵小明的家人", phone=PHONE, region=Resident.objects.get(phone=PHONE).region,
                    id_number="", user=other)
    answer = client.post("/login/", {"username": PHONE, "password": "a-long-Passw0rd"})
    assert answer.status_code == 200 and "_auth_user_id" not in client.session
