"""The fee of a stay: free minutes, band boundaries, across midnight, the 24-hour cap, several days."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yiwang.parking.fees import Band, Tariff, bands_overlap, compute_fee

TZ = ZoneInfo("Asia/Shanghai")
D = Decimal

DAY = Band(dt.time(8), dt.time(20), 30, D("1.00"), name="白天")  # 1 元 / 30 min
NIGHT = Band(dt.time(20), dt.time(8), 60, D("1.00"), cap=D("5.00"), name="夜间")  # 1 元 / h, at most 5 a night
CITY = Tariff(bands=(DAY, NIGHT), free_minutes=15, daily_cap=D("30.00"))


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """A local time in June 2026 (1 June is a Monday)."""
    return dt.datetime(2026, 6, day, hour, minute, second, tzinfo=TZ)


@pytest.mark.parametrize("why,entered,exited,fee", [
    ("no time at all", at(1, 9), at(1, 9), "0.00"),
    ("exactly the free minutes", at(1, 9), at(1, 9, 15), "0.00"),
    ("one second past the free minutes is charged from entry", at(1, 9), at(1, 9, 15, 1), "1.00"),
    ("a started unit counts in full", at(1, 9), at(1, 9, 31), "2.00"),
    ("whole units exactly", at(1, 9), at(1, 11), "4.00"),
    ("a band boundary splits the stay: day then night", at(1, 19, 30), at(1, 20, 30), "2.00"),
    ("ending exactly on the boundary charges no night unit", at(1, 19), at(1, 20), "2.00"),
    ("across midnight: one night, one piece", at(1, 22), at(2, 1), "3.00"),
    ("the night cap is taken once, not per calendar day", at(1, 20), at(2, 8), "5.00"),
    ("early morning belongs to the night before", at(2, 6), at(2, 9), "4.00"),
    ("the 24-hour cap", at(1, 8), at(1, 20), "24.00"),
    ("a whole day: day band 24 + night cap 5 is under the cap of 30", at(1, 8), at(2, 8), "29.00"),
    ("three days: each 24-hour block capped, the rest charged", at(1, 8), at(4, 9), "89.00"),
    ("a block boundary inside the day band", at(1, 12), at(2, 13), "31.00"),
])
def test_the_fee_table(why, entered, exited, fee):
    assert compute_fee(CITY, entered, exited, TZ).total == D(fee), why


def test_the_daily_cap_binds_when_the_bands_would_cost_more():
    dear = Tariff(bands=(Band(dt.time(0), dt.time(0), 60, D("3.00")),), daily_cap=D("40.00"))
    fee = compute_fee(dear, at(1, 0), at(3, 0), TZ)
    assert fee.total == D("80.00") and fee.blocks == 2 and fee.capped_blocks == 2
    assert compute_fee(dear, at(1, 0), at(1, 10), TZ).total == D("30.00")


def test_time_outside_every_band_is_free():
    day_only = Tariff(bands=(DAY,))
    assert compute_fee(day_only, at(1, 21), at(2, 7), TZ).total == D("0.00")
    assert compute_fee(day_only, at(1, 19), at(2, 9), TZ).total == D("4.00")


def test_the_charges_explain_the_total():
    fee = compute_fee(CITY, at(1, 19, 30), at(2, 9), TZ)
    assert [c.band for c in fee.charges] == ["白天", "夜间", "白天"]
    assert sum(c.amount for c in fee.charges) == fee.total == D("1.00") + D("5.00") + D("2.00")
    assert fee.charges[1].start == at(1, 20) and fee.charges[1].end == at(2, 8)


def test_times_in_another_zone_are_read_in_the_district_zone():
    utc = dt.UTC
    entered = dt.datetime(2026, 6, 1, 11, 30, tzinfo=utc)  # 19:30 in Xi'an
    exited = dt.datetime(2026, 6, 1, 12, 30, tzinfo=utc)
    assert compute_fee(CITY, entered, exited, TZ).total == D("2.00")


def test_exit_before_entry_is_refused():
    with pytest.raises(ValueError):
        compute_fee(CITY, at(1, 10), at(1, 9), TZ)


@pytest.mark.parametrize("bands,overlap", [
    ((DAY, NIGHT), False),
    ((DAY, Band(dt.time(19), dt.time(21), 60, D(1))), True),
    ((NIGHT, Band(dt.time(7), dt.time(9), 60, D(1))), True),
    ((Band(dt.time(0), dt.time(0), 60, D(1)),), False),
])
def test_overlapping_bands_are_found(bands, overlap):
    assert bands_overlap(list(bands)) is overlap


moments = st.integers(min_value=0, max_value=4 * 24 * 60).map(lambda m: at(1, 0) + dt.timedelta(minutes=m))


@settings(max_examples=200, deadline=None)
@given(entered=moments, minutes=st.integers(min_value=0, max_value=3 * 24 * 60), more=st.integers(0, 600))
def test_staying_longer_never_costs_less(entered, minutes, more):
    exited = entered + dt.timedelta(minutes=minutes)
    assert (compute_fee(CITY, entered, exited, TZ).total
            <= compute_fee(CITY, entered, exited + dt.timedelta(minutes=more), TZ).total)


@settings(max_examples=200, deadline=None)
@given(entered=moments, minutes=st.integers(min_value=0, max_value=5 * 24 * 60))
def test_no_24_hours_cost_more_than_the_cap(entered, minutes):
    fee = compute_fee(CITY, entered, entered + dt.timedelta(minutes=minutes), TZ)
    assert D(0) <= fee.total <= CITY.daily_cap * max(fee.blocks, 1)
    assert fee.total == fee.total.quantize(D("0.01"))


@settings(max_examples=200, deadline=None)
@given(entered=moments, minutes=st.integers(min_value=1, max_value=2 * 24 * 60))
def test_per_minute_pricing_without_caps_is_exactly_minutes_times_price(entered, minutes):
    # With one-minute units and no caps, cutting at bands and blocks must neither lose nor add a minute.
    flat = Tariff(bands=(Band(dt.time(8), dt.time(20), 1, D("0.10")), Band(dt.time(20), dt.time(8), 1, D("0.05"))))
    exited = entered + dt.timedelta(minutes=minutes)
    day_minutes = sum(1 for m in range(minutes) if 8 <= (entered + dt.timedelta(minutes=m)).hour < 20)
    expected = D("0.10") * day_minutes + D("0.05") * (minutes - day_minutes)
    assert compute_fee(flat, entered, exited, TZ).total == expected
