"""The parking fee of one stay, from its zone's tariff. Pure: no database, no clock.

How a stay is charged (the rules most Chinese cities publish for 路内泊位 and 公共停车场):
1. A stay no longer than the free minutes (免费时长) costs nothing; a longer one is charged from the
   entry, free minutes included.
2. The stay is cut into 24-hour blocks from the entry (每24小时最高收费 applies to each block).
3. Inside a block, the stay is cut where a time-of-day band begins or ends. Each piece is charged
   by whole units of the band (a started unit counts in full), and at most the band's cap. A band
   that runs past midnight (夜间 20:00–次日08:00) is one piece across midnight, not two, so its cap
   is taken once per night.
4. A block costs at most the daily cap. Time covered by no band is free.
Times are taken in the district's time zone (settings.TIME_ZONE), so "20:00" means 20:00 there.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Band:
    start: dt.time
    end: dt.time  # not after start: runs past midnight; equal to start: the whole day
    unit_minutes: int
    unit_price: Decimal
    cap: Decimal | None = None
    name: str = ""

    def occurrences(self, day: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """The band's stretch that starts on local ``day``."""
        start = dt.datetime.combine(day, self.start, tzinfo=tz)
        end_day = day if self.end > self.start else day + DAY
        return start, dt.datetime.combine(end_day, self.end, tzinfo=tz)


@dataclass(frozen=True)
class Tariff:
    bands: tuple[Band, ...]
    free_minutes: int = 0
    daily_cap: Decimal | None = None


@dataclass(frozen=True)
class Charge:
    band: str
    start: dt.datetime
    end: dt.datetime
    units: int
    amount: Decimal  # after the band's cap

    def as_dict(self) -> dict:
        return {"band": self.band, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "units": self.units, "amount": str(self.amount)}


@dataclass
class Fee:
    total: Decimal
    charges: list[Charge] = field(default_factory=list)
    free: bool = False  # within the free minutes
    blocks: int = 0
    capped_blocks: int = 0  # blocks the daily cap cut down


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def bands_overlap(bands: list[Band]) -> bool:
    """True when two bands cover the same minute of some day (a tariff must say one price)."""
    def minutes(band: Band) -> set[int]:
        start = band.start.hour * 60 + band.start.minute
        end = band.end.hour * 60 + band.end.minute
        if end <= start:
            end += 24 * 60
        return {m % (24 * 60) for m in range(start, end)}

    seen: set[int] = set()
    for band in bands:
        mine = minutes(band)
        if seen & mine:
            return True
        seen |= mine
    return False


def compute_fee(tariff: Tariff, entered: dt.datetime, exited: dt.datetime, tz: dt.tzinfo | str) -> Fee:
    """The fee for a stay from ``entered`` to ``exited`` (aware datetimes); see the module's rules."""
    if entered.tzinfo is None or exited.tzinfo is None:
        raise ValueError("compute_fee needs aware datetimes")
    if exited < entered:
        raise ValueError("exit before entry")
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    if exited - entered <= dt.timedelta(minutes=tariff.free_minutes):
        return Fee(total=money(0), free=True)
    fee = Fee(total=money(0))
    block_start = entered
    while block_start < exited:
        block_end = min(block_start + DAY, exited)
        block_total = money(0)
        for charge in _block_charges(tariff, block_start, block_end, tz):
            fee.charges.append(charge)
            block_total += charge.amount
        if tariff.daily_cap is not None and block_total > tariff.daily_cap:
            block_total = money(tariff.daily_cap)
            fee.capped_blocks += 1
        fee.total += block_total
        fee.blocks += 1
        block_start = block_end
    fee.total = money(fee.total)
    return fee


def _block_charges(tariff: Tariff, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> list[Charge]:
    first = start.astimezone(tz).date() - DAY  # yesterday's night band may still be running
    last = end.astimezone(tz).date()
    out = []
    day = first
    while day <= last:
        for band in tariff.bands:
            band_start, band_end = band.occurrences(day, tz)
            piece_start, piece_end = max(start, band_start), min(end, band_end)
            if piece_end <= piece_start:
                continue
            seconds = (piece_end - piece_start).total_seconds()
            units = math.ceil(seconds / (band.unit_minutes * 60))
            amount = money(band.unit_price * units)
            if band.cap is not None:
                amount = min(amount, money(band.cap))
            out.append(Charge(band.name, piece_start, piece_end, units, amount))
        day += DAY
    out.sort(key=lambda c: c.start)
    return out
