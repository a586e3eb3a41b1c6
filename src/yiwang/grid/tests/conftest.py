import csv
import io

import pytest

from yiwang.core import idnumber


def id_number(serial: int, birth: str = "19500101") -> str:
    """A valid 18-digit ID number (correct check digit) for a test resident."""
    first17 = f"610402{birth}{serial:03d}"
    return first17 + idnumber.check_digit(first17)


def bad_id_number(serial: int) -> str:
    good = id_number(serial)
    return good[:17] + ("0" if good[17] != "0" else "1")


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


RESIDENT_HEADER = ["网格编码", "户号", "地址", "姓名", "身份证号", "手机号", "与户主关系", "独居老人", "低保", "贫困户"]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path
