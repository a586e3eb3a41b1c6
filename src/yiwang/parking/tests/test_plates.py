"""Number plates: ordinary and new-energy, normalised the way people and cameras type them."""

import pytest

from yiwang.core.errors import ValidationFailed
from yiwang.parking.plates import check_plate, is_new_energy


@pytest.mark.parametrize("raw,plate", [
    ("陕A12345", "陕A12345"),
    ("陕a·12345", "陕A12345"),
    (" 陕A 1234学 ", "陕A1234学"),
    ("陕AD12345", "陕AD12345"),  # small new-energy
    ("陕AFA1234", "陕AFA1234"),
    ("陕A12345D", "陕A12345D"),  # large new-energy
    ("京ＡＢ１２３４", "京AB1234"),  # full-width, as some keyboards type
    ("陕UA1234", "陕UA1234"),
])
def test_good_plates_are_normalised(raw, plate):
    assert check_plate(raw) == plate


@pytest.mark.parametrize("raw", ["", "陕A1234", "陕A123456", "陕I12345", "陕AO1234", "X A12345", "陕1A2345",
                                 "陕AD1234X", "陕A1234D5", "陕AZ12345"])
def test_bad_plates_are_refused_with_the_field(raw):
    with pytest.raises(ValidationFailed) as err:
        check_plate(raw)
    assert err.value.field == "plate"


def test_eight_characters_mean_new_energy():
    assert is_new_energy(check_plate("陕AD12345")) and not is_new_energy(check_plate("陕A12345"))
