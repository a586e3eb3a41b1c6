"""`yiwang calendar load | show | add-workdays`."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.core import clock
from yiwang.testing import SENIOR_OK

YAML_2027 = """
year: 2027
holidays:
  - {name: 元旦, from: 2027-01-01, to: 2027-01-03}
  - {name: 春节, from: 2027-02-06, to: 2027-02-12}
workdays:
  - {name: 春节调休, date: 2027-02-14}
"""


def run(*args) -> str:
    out = io.StringIO()
    call_command("calendar", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_add_workdays_prints_one_iso_date():
    assert run("add-workdays", "2019-09-27", "5") == "2019-10-10\n"


@pytest.mark.django_db
def test_add_workdays_refuses_a_bad_date():
    with pytest.raises(CommandError, match="not a date"):
        run("add-workdays", "27/09/2019", "5")


@pytest.mark.django_db
def test_show_lists_holidays_and_make_up_days():
    out = run("show", "2019")
    assert "2019-10-01" in out and "2019-09-29" in out


@pytest.mark.django_db
def test_show_says_when_a_year_is_guessed():
    assert "guessed" in run("show", "2030")


@pytest.mark.django_db
def test_loading_a_year_replaces_its_guessed_days(tmp_path):
    f = tmp_path / "2027.yaml"
    f.write_text(YAML_2027, encoding="utf-8")
    out = run("load", str(f))
    assert "2027-01-01" in out and "2027-02-14" in out
    assert run("add-workdays", "2026-12-31", "1") == "2027-01-04\n"


@pytest.mark.django_db
def test_a_csv_calendar_loads_too(tmp_path):
    f = tmp_path / "2027.csv"
    f.write_text("date,type,name\n2027-01-01,holiday,元旦\n2027-02-06..2027-02-12,holiday,春节\n"
                 "2027-02-14,workday,春节调休\n", encoding="utf-8")
    run("load", str(f))
    assert run("add-workdays", "2027-02-05", "1") == "2027-02-14\n"


@pytest.mark.django_db
@pytest.mark.parametrize("text, message", [
    ("year: 2027\nholidays: [2026-12-31]\n", "不在 2027"),
    ("year: 2027\nholidays: [2027-13-01]\n", "不是日期"),
    ("year: 2027\nholidays: [2027-01-01, 2027-01-01]\n", "重复"),
    ("year: 2027\nholidays: [2027-01-01]\nworkdays: [2027-01-04]\n", "本来就是工作日"),
    ("holidays: []\n", "year"),
    ("year: [\n", "YAML"),
])
def test_a_doubtful_file_is_refused_and_nothing_changes(tmp_path, text, message):
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        run("load", str(f))
    assert "guessed" in run("show", "2027")


@pytest.mark.django_db
def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="无法读取"):
        run("load", str(tmp_path / "nope.yaml"))


def test_open_deadlines_move_only_with_recompute(world, tmp_path):
    accepted = timezone.make_aware(dt.datetime(2026, 12, 28, 10))
    with clock.frozen_at(accepted):
        case = case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                           **SENIOR_OK).case
        case = case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=1)
    guessed_due = case.due_at  # 5 Mon–Fri days after 12-28 → 2027-01-04
    assert timezone.localdate(guessed_due) == dt.date(2027, 1, 4)
    f = tmp_path / "2027.yaml"
    f.write_text(YAML_2027, encoding="utf-8")
    out = run("load", str(f))
    assert case.number in out and "--recompute" in out
    assert Case.objects.get(pk=case.pk).due_at == guessed_due
    out = run("load", str(f), "--recompute")
    moved = Case.objects.get(pk=case.pk)
    # with 01-01 a holiday, the fifth working day is Tuesday 2027-01-05
    assert timezone.localdate(moved.due_at) == dt.date(2027, 1, 5)
    assert moved.events.order_by("-seq").first().action == "recompute_due"
    call_command("verify", stdout=io.StringIO())
