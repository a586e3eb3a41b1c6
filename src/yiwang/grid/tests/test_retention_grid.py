"""The grid's household data in the retention sweep (docs/retention.md, kind grid_household): once a closed
account's period has run, the resident leaves their household and the household's head name and phone
that were theirs are erased, logged in the same RetentionRun and reported by `yiwang stats`."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from yiwang.cases import retention
from yiwang.cases.models import RetentionRun
from yiwang.grid import retention as grid_retention
from yiwang.grid.models import Household, HouseholdMember, Relation
from yiwang.org.models import Resident
from yiwang.org.services import resident_create

CLOSED = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
HOSTILE = "赵六 61040219500101123X =1+1"


@pytest.fixture(autouse=True)
def _periods(settings):
    settings.YIWANG_RETENTION = {"reporter_contact": None, "id_number": None, "documents": None,
                                 "grid_household": 365}


@pytest.fixture
def homes(world):
    wang, li = world.residents["wang"], world.residents["li"]
    child = resident_create(name="王小明", phone="13900000009", region=world.regions["xfl"])
    grid = world.regions["xfl_g1"]
    first = Household.objects.create(grid=grid, number="3-2-101", address="幸福里3号楼2单元101",
                                     head_name=wang.name, phone=wang.phone)
    HouseholdMember.objects.create(household=first, resident=wang, relation=Relation.HEAD)
    HouseholdMember.objects.create(household=first, resident=child, relation=Relation.CHILD)
    second = Household.objects.create(grid=grid, number="5-1-202", address="幸福里5号楼", head_name=HOSTILE,
                                      phone="13912345678")
    HouseholdMember.objects.create(household=second, resident=li, relation=Relation.OTHER)
    neighbour = Household.objects.create(grid=world.regions["cjc_g1"], number="1", head_name="程大伯",
                                         phone="13700000000")
    # Both accounts closed (cases.retention.resident_close_account sets closed_at; the grid keeps them).
    Resident.objects.filter(pk__in=[wang.pk, li.pk]).update(closed_at=CLOSED)
    return first, second, neighbour, child


def test_nothing_is_erased_before_the_period_runs_out(homes):
    run = retention.retention_sweep(now=CLOSED + dt.timedelta(days=364))
    assert run.counts["grid_household"] == 0
    assert HouseholdMember.objects.count() == 3


def test_a_closed_account_leaves_its_household_and_its_head_name_and_phone_go(world, homes):
    first, second, neighbour, child = homes
    wang = world.residents["wang"]
    run = retention.retention_sweep(now=CLOSED + dt.timedelta(days=366))
    assert run.counts["grid_household"] == 2 and run.errors == []
    assert RetentionRun.objects.count() == 1  # the same run as the cases' erasures

    first.refresh_from_db()
    second.refresh_from_db()
    neighbour.refresh_from_db()
    # The head left: their name and phone go; the child stays, and so does the dwelling.
    assert (first.head_name, first.phone) == (retention.ERASED, "")
    assert first.address == "幸福里3号楼2单元101"
    assert list(HouseholdMember.objects.filter(household=first).values_list("resident_id", flat=True)) == [child.pk]
    # Nobody left: whatever personal data it held goes, an ID number typed into the name included.
    assert (second.head_name, second.phone) == (retention.ERASED, "")
    assert not HouseholdMember.objects.filter(household=second).exists()
    # Another community's household, with no closed account in it, is untouched.
    assert (neighbour.head_name, neighbour.phone) == ("程大伯", "13700000000")
    text = " ".join(str(v) for v in Household.objects.values_list("head_name", "phone", "address"))
    for planted in (wang.name, wang.phone, "61040219500101123X", "13912345678"):
        assert planted not in text

    # A second pass finds nothing more; `yiwang stats` reports the runs with the kind.
    assert retention.retention_sweep(now=CLOSED + dt.timedelta(days=367)).counts["grid_household"] == 0
    out = io.StringIO()
    call_command("stats", stdout=out)
    assert "grid_household 2" in out.getvalue()


def test_a_member_who_was_not_the_head_takes_only_what_was_theirs(world, homes):
    first, _second, _neighbour, child = homes
    Resident.objects.filter(pk=child.pk).update(closed_at=CLOSED)
    Resident.objects.filter(pk=world.residents["wang"].pk).update(closed_at=None)
    retention.retention_sweep(now=CLOSED + dt.timedelta(days=366))
    first.refresh_from_db()
    assert first.head_name == world.residents["wang"].name and first.phone == world.residents["wang"].phone
    assert not HouseholdMember.objects.filter(resident=child).exists()


def test_a_failure_is_logged_on_the_run_and_the_others_go_on(homes, monkeypatch):
    real = grid_retention.household_member_erase
    calls = []

    def flaky(*, member_id):
        calls.append(member_id)
        if len(calls) == 1:
            raise RuntimeError("disk full =1+1")
        return real(member_id=member_id)

    monkeypatch.setattr(grid_retention, "household_member_erase", flaky)
    run = retention.retention_sweep(now=CLOSED + dt.timedelta(days=366))
    assert run.counts["grid_household"] == 1
    assert len(run.errors) == 1 and "disk full" in run.errors[0] and "household member" in run.errors[0]


def test_kept_for_ever_when_the_period_is_none_and_an_unknown_kind_is_refused(homes, settings):
    settings.YIWANG_RETENTION = {"grid_household": None}
    assert retention.retention_sweep(now=CLOSED + dt.timedelta(days=9999)).counts["grid_household"] == 0
    assert HouseholdMember.objects.count() == 3
    settings.YIWANG_RETENTION = {"grid_households": 30}
    with pytest.raises(ImproperlyConfigured, match="grid_households"):
        retention.retention_sweep(now=CLOSED)
