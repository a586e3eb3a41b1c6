"""/lookup/ (查件 by case number and phone) limits guesses per case number and per address.

A hostile tester guessed 600 phones for one case number in 2 s and found the right one at guess 420;
case numbers are sequential. Wrong guesses are counted (core.throttle.reserve, atomically) against
the number and against the address; the owner's correct phone is not counted.
"""

from __future__ import annotations

import datetime as dt

import pytest

from yiwang.cases.services import case_create
from yiwang.core import clock
from yiwang.testing import SENIOR_OK

PHONE = "13800000001"  # 王大爷's


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.YIWANG_LOOKUP_FAILURES_PER_NUMBER = 5
    settings.YIWANG_LOOKUP_FAILURES_PER_ADDRESS = 30
    settings.YIWANG_LOGIN_WINDOW_SECONDS = 900
    settings.YIWANG_PROXY_COUNT = 0


@pytest.fixture
def case(world):
    return case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case


def look(client, number: str, phone: str, address: str = "10.1.0.1"):
    return client.get("/lookup/", {"number": number, "phone": phone}, REMOTE_ADDR=address)


def test_guessing_one_cases_phone_stops_after_five_wrong_phones(client, case):
    for guess in range(5):
        answer = look(client, case.number, f"139{guess:08d}", address=f"10.2.0.{guess + 1}")
        assert answer.status_code == 200 and "没有找到编号与手机号都相符的办件" in answer.content.decode()
    # From any address, even with the right phone: the number is closed to guessing for the window.
    refused = look(client, case.number, PHONE, address="10.3.0.1")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "查询失败次数过多" in refused.content.decode()
    assert "王大爷" not in refused.content.decode()


def test_the_owners_right_phone_is_never_counted(client, case):
    for _ in range(20):
        answer = look(client, case.number, PHONE)
        assert answer.status_code == 200 and "已提交" in answer.content.decode()
        assert case.number in answer.content.decode()


def test_one_address_trying_many_numbers_is_slowed(client, case):
    for serial in range(30):
        answer = look(client, f"YW20260101{serial:08d}", PHONE)
        assert answer.status_code == 200 and "没有找到编号与手机号都相符的办件" in answer.content.decode()
    assert look(client, case.number, PHONE).status_code == 429
    # Another address is not affected.
    assert look(client, case.number, PHONE, address="10.4.0.1").status_code == 200


def test_the_window_passing_lets_the_number_be_looked_up_again(client, case):
    for guess in range(5):
        look(client, case.number, f"139{guess:08d}")
    assert look(client, case.number, PHONE, address="10.5.0.1").status_code == 429
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=901)):
        assert look(client, case.number, PHONE, address="10.5.0.1").status_code == 200
