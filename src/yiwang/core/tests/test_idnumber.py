"""ID numbers (GB 11643) in free text are masked as a registered one is; nothing else is touched."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yiwang.core.idnumber import check_digit, find_in_text, is_valid, mask, mask_data, mask_text

VALID = "61040219500101123X"
OLD = "610402500101123"  # first generation: region 610402, born 1950-01-01, sequence 123, no check digit


def test_the_checksum_is_gb_11643s():
    assert is_valid(VALID) and is_valid(VALID.lower())
    assert not is_valid("610402195001011231") and not is_valid("6104021950010112") and not is_valid("")


@pytest.mark.parametrize(("text", "shown"), [
    ("身份证 61040219500101123X 请核对", "身份证 6104************3X 请核对"),
    ("身份证号61040219500101123x。", "身份证号6104************3x。"),
    ("校验位错了也遮：610402195001011231", "校验位错了也遮：6104************31"),  # a typo is still personal
    ("sfz61040219500101123X", "sfz6104************3X"),  # glued to letters is still a number
    ("电话13800000001", "电话138****0001"),
    (f"老身份证 {OLD} 请核对", "老身份证 6104*********23 请核对"),
    (f"旧证号{OLD}，新证号{VALID}。", "旧证号6104*********23，新证号6104************3X。"),
    (f"sfz{OLD}", "sfz6104*********23"),
    ("闰日出生 610402480229123", "闰日出生 6104*********23"),  # 1948-02-29
])
def test_id_and_mobile_numbers_in_text_are_masked(text, shown):
    assert mask_text(text) == shown


@pytest.mark.parametrize("text", [
    "YW202611260000000012",  # a case number, even once its id has ten digits
    "6104021950010112310",  # 19 digits (a bank card)
    "第 3 批 12 项，2026-11-26 · 91610000MA6TG1XX0Q",
    # 15 digits that cannot be a first-generation number:
    "订单号 610402501399123",  # digits 7–12 are no date (month 13)
    "运单 610402500230123",  # 30 February
    "610402000229123",  # 1900 was no leap year
    "流水号 020402500101123",  # no region code starts with 0 (GB/T 2260)
    "YW610402500101123",  # the digits of a case number
    "6104025001011231",  # 16 digits
    "卡号 86104025001011231",  # 17 digits
])
def test_other_numbers_are_left_alone(text):
    assert mask_text(text) == text


def test_staff_pages_keep_a_call_back_number():
    assert mask_text(f"{VALID} 13800000001", phones=False) == "6104************3X 13800000001"
    assert mask_text(f"{OLD} 13800000001", phones=False) == "6104*********23 13800000001"


@pytest.mark.parametrize("phone", ["13800000001", "19912312312"])
def test_a_mobile_number_follows_the_phone_rule_only(phone):
    """11 digits are never an ID number, whatever date they seem to hold; glued to four more digits
    they are neither (a 15-digit run that is no ID number is left alone)."""
    assert mask_text(f"电话{phone}", phones=False) == f"电话{phone}"
    assert mask_text(f"电话{phone}") == f"电话{phone[:3]}****{phone[-4:]}"
    assert not find_in_text(phone)
    assert mask_text(f"{phone}9999") == f"{phone}9999"  # 15 digits, digits 7–12 no date


def test_json_data_is_masked_string_by_string():
    data = {"a": [VALID, 1, None, {"b": f"id={VALID}"}], "n": 610402}
    assert mask_data(data) == {"a": [mask(VALID), 1, None, {"b": "id=" + mask(VALID)}], "n": 610402}


def test_the_numbers_in_a_text_are_found_once_each():
    assert find_in_text(f"{VALID.lower()}、{VALID}；610402195001011231") == [VALID, "610402195001011231"]


def test_first_generation_numbers_are_found_in_order_with_the_others():
    text = f"{OLD}；{VALID}；订单 610402501399123；{OLD}"
    assert find_in_text(text) == [OLD, VALID]


@given(st.text(alphabet="0123456789 号码：Xx-", max_size=60),
       st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_no_id_number_survives_and_masking_twice_changes_nothing(prefix, first17):
    number = first17 + check_digit(first17)
    shown = mask_text(f"{prefix} {number} 请回电")
    assert number not in shown and mask_text(shown) == shown


@given(st.text(alphabet="0123456789 号码：Xx-", max_size=60),
       st.sampled_from("12345678"), st.text(alphabet="0123456789", min_size=5, max_size=5),
       st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)),
       st.text(alphabet="0123456789", min_size=3, max_size=3))
def test_no_first_generation_number_survives(prefix, region1, region5, born, sequence):
    number = f"{region1}{region5}{born:%y%m%d}{sequence}"
    shown = mask_text(f"{prefix} {number} 请回电")
    assert number not in shown and mask_text(shown) == shown and number in find_in_text(f"{prefix} {number}")
