"""A unit's month: "received" counts the cases submitted that month that the unit held first
(CaseReceivedTally), whatever transfers came later; the public figure, the dashboard's month table by
unit and the case list behind each of its figures are the same number."""

import datetime as dt
import json
import zoneinfo

import pytest

from yiwang.cases import rollups
from yiwang.cases.models import CaseEvent, CaseReceivedTally
from yiwang.core import clock
from yiwang.records import checkpoints
from yiwang.records import rollups as all_rollups
from yiwang.records.verification import verify
from yiwang.stats import public
from yiwang.stats.selectors import indicators

pytestmark = pytest.mark.django_db
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
TODAY = dt.datetime(2026, 12, 7, 10, 0, tzinfo=TZ)
MONTHS = (dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1))
UNITS = ("KG-DZ-XFL-SH", "KG-DZ-SH", "KG-CC", "KG-DZ-EN")


def first_held(world, code: str, month: dt.date) -> int:
    """The slow way: cases whose first event went to the unit, submitted in the local month."""
    start = dt.datetime.combine(month, dt.time.min, TZ)
    end = dt.datetime.combine((month + dt.timedelta(days=32)).replace(day=1), dt.time.min, TZ)
    unit_id = next(u.id for u in world.units.values() if u.code == code)
    return CaseEvent.objects.filter(seq=1, to_unit_id=unit_id, case__created_at__gte=start,
                                    case__created_at__lt=end).count()


def test_a_unit_s_received_is_counted_for_the_unit_that_held_the_case_first(moved):
    admin = moved.viewer("admin")
    with clock.frozen_at(TODAY):
        seen = 0
        for month in MONTHS:
            theirs = {r["unit"]: r for r in indicators(viewer=admin, month=month, kinds=public.PUBLIC_KINDS)["by_unit"]}
            everywhere = {r["unit"]["code"]: r["month"] for r in public.public_figures(
                region_code="XX", month=month.strftime("%Y-%m"))["units"]}
            for code in UNITS:
                mine = public.public_figures(unit_code=code, month=month.strftime("%Y-%m"))["month"]
                slow = first_held(moved, code, month)
                assert mine["received"] == theirs.get(code, {"received": 0})["received"] == slow, (code, month)
                assert everywhere.get(code, {"received": 0})["received"] == slow, (code, month)
                seen += slow
        # Every published case submitted in these months is received by exactly one unit.
        assert seen == sum(public.public_figures(region_code="XX", month=m.strftime("%Y-%m"))["month"]["received"]
                           for m in MONTHS)
        november = {code: public.public_figures(unit_code=code, month="2026-11")["month"] for code in UNITS}
        # The station received three applications and kept one; the town's hall was handed two, received
        # only the follow-up (差评整改) of the bad review it earned, and closed one.
        assert (november["KG-DZ-XFL-SH"]["received"], november["KG-DZ-SH"]["received"]) == (3, 1)
        assert november["KG-DZ-SH"]["closed"] == 1
        assert november["KG-CC"]["received"] == 2 and november["KG-DZ-EN"]["received"] == 0
        assert public.public_figures(unit_code="KG-DZ-XFL-SH", month="2026-12")["month"]["received"] == 1


def test_verify_names_a_tampered_received_tally_and_rebuild_repairs_it(moved):
    assert rollups.stored_received() == rollups.recompute_received()
    row = CaseReceivedTally.objects.filter(received__gt=0).order_by("id").first()
    CaseReceivedTally.objects.filter(pk=row.pk).update(unit_id=moved.units["dz_sh"].id)  # credit another unit
    problems = all_rollups.differences()
    assert any(p.startswith("received tally") for p in problems), problems
    assert not verify().ok
    all_rollups.rebuild()
    assert not all_rollups.differences() and verify().ok


def test_an_outsider_re_adds_a_unit_s_received_from_the_signed_tallies(moved):
    with clock.frozen_at(TODAY):
        tallies = json.loads(checkpoints.canonical(checkpoints.tallies_snapshot()))
        published_kinds = ("application", "consultation", "incident", "follow_up")
        for code in UNITS:
            unit = public.public_figures(unit_code=code)["unit"]
            for month in MONTHS:
                label = month.strftime("%Y-%m")
                # [path, kind, unit id, "YYYY-MM", received]
                sums = sum(r[4] for r in tallies["case_received"] if r[2] == unit["id"] and r[3] == label
                           and r[1] in published_kinds)
                assert public.public_figures(unit_code=code, month=label)["month"]["received"] == sums, (code, label)


def test_a_checkpoint_signs_the_received_tallies(moved, settings, tmp_path):
    from yiwang.records import signing
    from yiwang.records.selectors import checkpoint_document
    from yiwang.records.services import checkpoint_create

    settings.YIWANG_SIGNING_KEY_FILE = str(tmp_path / "signing.pem")
    with clock.frozen_at(TODAY):
        cp = checkpoint_create()
    doc = json.loads(checkpoints.canonical(checkpoint_document(cp)))
    assert doc["tallies"]["case_received"]
    assert checkpoints.verify_document(doc, signing.private_key().public_key()).ok
    doc["tallies"]["case_received"][0][4] += 1
    report = checkpoints.verify_document(doc, signing.private_key().public_key())
    assert any("tallies digest" in p for p in report.problems), report.problems


def test_a_unit_s_months_are_its_figures_of_each_month(moved, client):
    with clock.frozen_at(TODAY):
        for code in UNITS:
            series = public.public_figures(unit_code=code, month="2026-12")["months"]
            assert len(series) == public.MONTHS and series[-1]["month"] == "2026-12"
            by_month = {m["month"]: m for m in series}
            for month in MONTHS:
                label = month.strftime("%Y-%m")
                figure = public.public_figures(unit_code=code, month=label)["month"]
                assert (by_month[label]["received"], by_month[label]["closed"]) == (
                    figure["received"], figure["closed"]), (code, label)
            assert sum(m["received"] for m in series) == sum(first_held(moved, code, m) for m in MONTHS)
        # A month asked for ends the series: nothing after it is counted.
        assert public.public_figures(unit_code="KG-DZ-XFL-SH", month="2026-11")["months"][-1]["month"] == "2026-11"
        # The unit's public page shows the series as the region's does (web/public/figures.html).
        page = client.get("/open/?unit=KG-DZ-XFL-SH&month=2026-12").content.decode()
        november = by_month_of("KG-DZ-XFL-SH")["2026-11"]
        assert (f'<tr data-month="2026-11"><th scope="row">2026-11</th><td>{november["received"]}</td>'
                f'<td>{november["closed"]}</td></tr>') in page


def by_month_of(code: str) -> dict:
    return {m["month"]: m for m in public.public_figures(unit_code=code, month="2026-12")["months"]}
