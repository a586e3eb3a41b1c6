"""Resident ID numbers (公民身份号码, GB 11643-1999): checksum validation and masking.

Personal information rules (个人信息保护法 Art. 28: an ID number is sensitive personal information):
an ID number leaves the server masked — in pages, API answers, exports and logs — unless a
staff member asks to see it and the request is recorded (cases.services.case_reveal_id,
grid.services.resident_reveal_id). ``mask`` is for a field known to hold an ID number;
``mask_text`` is the one function for text that may contain one.
"""

from __future__ import annotations

import datetime as dt
import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

# An ID-number-shaped token, not part of a longer number, wherever it stands ("身份证6104…",
# "sfz6104…", "id=6104…"), except the digits of a case number (YW + date + id):
# - 17 digits and a digit or X (GB 11643-1999). The checksum is not required: a mistyped number
#   still identifies its owner to within a digit, and an 18-digit bank or credit code is no less private.
# - 15 digits, a first-generation number (issued before GB 11643-1999, still found in old records
#   and typed from old certificates): region, YYMMDD birth date, sequence, no check digit. With no
#   check digit the shape alone would take any 15-digit order or waybill number, so it must start
#   like a region code (GB/T 2260: 1–8) and ``_is_first_generation`` asks for a real date.
_ID_NUMBER = re.compile(r"(?<!\d)(?<![Yy][Ww])(?:\d{17}[\dXx]|(?P<old>[1-8]\d{14}))(?!\d)")
# A mainland mobile number (11 digits, 13x–19x), not part of a longer number.
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def _is_first_generation(number: str) -> bool:
    """A 15-digit number whose digits 7–12 are a date (19YYMMDD: every first-generation holder was
    born in the 1900s)."""
    try:
        dt.date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    except ValueError:
        return False
    return True


def _is_id(match: re.Match[str]) -> bool:
    return not match.group("old") or _is_first_generation(match.group())


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_valid(number: str) -> bool:
    number = number.upper()
    if len(number) != 18 or not number[:17].isdigit():
        return False
    return check_digit(number[:17]) == number[17]


def mask(number: str) -> str:
    """Keep the region's first digits and the last two, as Chinese government sites show them."""
    if not number:
        return ""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 6) + number[-2:]


def mask_phone(phone: str) -> str:
    if len(phone) < 7:
        return phone
    return phone[:3] + "****" + phone[-4:]


def mask_text(text: str, *, phones: bool = True) -> str:
    """Free text with every ID-number-like token masked as ``mask`` shows it, and mobile numbers as
    ``mask_phone`` does unless ``phones`` is False (staff pages show a reporter's call-back number).

    Idempotent: masked text has no digit runs left to match.
    """
    if not text:
        return text
    text = _ID_NUMBER.sub(lambda m: mask(m.group()) if _is_id(m) else m.group(), text)
    if phones:
        text = _MOBILE.sub(lambda m: mask_phone(m.group()), text)
    return text


def mask_data(value: object, *, phones: bool = True) -> object:
    """``mask_text`` applied to every string inside JSON-like data (a form, a timeline payload)."""
    if isinstance(value, str):
        return mask_text(value, phones=phones)
    if isinstance(value, dict):
        return {k: mask_data(v, phones=phones) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(v, phones=phones) for v in value]
    return value


def find_in_text(text: str) -> list[str]:
    """The ID-number-like tokens in ``text`` (18 digits, or 15 of the first generation), upper-cased,
    in order, each once: what ``mask_text`` masks."""
    return list(dict.fromkeys(m.group().upper() for m in _ID_NUMBER.finditer(text or "") if _is_id(m)))


def birth_date(number: str) -> dt.date | None:
    """The birth date an 18-digit ID number carries (digits 7–14), or None when it has none."""
    try:
        return dt.datetime.strptime(number[6:14], "%Y%m%d").date() if len(number) == 18 else None
    except ValueError:
        return None


def find_phones(text: str) -> list[str]:
    """The mainland mobile numbers in ``text``, in order, each once: what ``mask_text`` masks as phones."""
    return list(dict.fromkeys(m.group() for m in _MOBILE.finditer(text or "")))
