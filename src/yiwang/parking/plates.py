"""Chinese number plates (机动车号牌, GA 36): normalising what people and cameras type, and checking it.

- ordinary plates, 7 characters: province, issuing-authority letter, five letters or digits, the
  last of which may be 挂 学 警 港 澳 (陕A12345, 陕A1234学);
- new-energy plates (新能源), 8 characters: small cars put the energy letter first (陕AD12345),
  large vehicles last (陕A12345D). Letters I and O never appear: they read as 1 and 0.
"""

from __future__ import annotations

import re
import unicodedata

from django.utils.translation import gettext as _

from yiwang.core.errors import ValidationFailed

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"  # letters without I and O
# GA 36-2018 and its 2021 amendment: D pure electric, F plug-in hybrid, and the letters added later.
_ENERGY = "A-HJK"
PLATE_RE = re.compile(
    rf"^[{PROVINCES}][{_L}]"
    rf"(?:[{_L}0-9]{{4}}[{_L}0-9挂学警港澳]"  # ordinary
    rf"|[{_ENERGY}][{_L}0-9][0-9]{{4}}"  # small new-energy
    rf"|[0-9]{{5}}[{_ENERGY}])$"  # large new-energy
)
_SEPARATORS = str.maketrans("", "", " ·•・.-_")


def normalise_plate(raw: str) -> str:
    """Upper case, half-width, without the dot or spaces people put after the second character."""
    return unicodedata.normalize("NFKC", raw or "").translate(_SEPARATORS).upper()


def is_new_energy(plate: str) -> bool:
    return len(plate) == 8


def check_plate(raw: str, *, field: str = "plate") -> str:
    """The plate normalised, or ValidationFailed saying what a plate looks like."""
    plate = normalise_plate(raw)
    if not PLATE_RE.match(plate):
        raise ValidationFailed(
            _("车牌号 %(p)s 格式不正确：应为省份简称+字母+5位(如 陕A12345)，新能源车为6位(如 陕AD12345)。")
            % {"p": raw or "—"}, field=field)
    return plate
