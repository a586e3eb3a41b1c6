"""Resident ID numbers (公民身份号码, GB 11643-1999): checksum validation and masking."""

import datetime as dt

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


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


def birth_date(number: str) -> dt.date | None:
    """The birth date an 18-digit ID number carries (digits 7–14), or None when it has none."""
    try:
        return dt.datetime.strptime(number[6:14], "%Y%m%d").date() if len(number) == 18 else None
    except ValueError:
        return None
