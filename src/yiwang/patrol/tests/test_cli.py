"""`yiwang patrol schedule …` prints the shifts it drew and fails clearly on bad input."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from yiwang.patrol.models import Shift


def schedule(*args):
    out = StringIO()
    call_command("patrol", "schedule", *args, stdout=out)
    return out.getvalue()


def test_it_draws_and_prints_the_shifts(patrol, frozen):
    out = schedule("--team", str(patrol.team.pk), "--from", "2026-06-01", "--to", "2026-06-03", "--seed", "8")
    lines = out.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("2026-06-01 Mon  0") and "xfl_member" in lines[0]
    assert "drew 3 shifts, seed 8" in lines[-1]
    assert Shift.objects.count() == 3


def test_a_dry_run_prints_the_same_plan_without_saving(patrol, frozen):
    args = ("--team", str(patrol.team.pk), "--from", "2026-06-01", "--to", "2026-06-03", "--seed", "8")
    dry = schedule(*args, "--dry-run")
    assert not Shift.objects.exists()
    assert dry.splitlines()[:3] == schedule(*args).splitlines()[:3]


def test_replace_redraws(patrol, frozen):
    args = ("--team", str(patrol.team.pk), "--from", "2026-06-01", "--to", "2026-06-03")
    schedule(*args, "--seed", "1")
    with pytest.raises(CommandError, match="已有班次"):
        schedule(*args, "--seed", "2")
    assert "seed 2" in schedule(*args, "--seed", "2", "--replace")
    assert set(Shift.objects.values_list("seed", flat=True)) == {2}


@pytest.mark.parametrize("args, message", [
    (["--team", "999", "--from", "2026-06-01", "--to", "2026-06-02"], "no patrol team with id 999"),
    (["--from", "2026-06-01", "--to", "x"], "not a date"),
    (["--from", "2026-06-05", "--to", "2026-06-01"], "结束日期不能早于开始日期"),
    (["--from", "2026-06-01", "--to", "2026-06-02", "--as", "nobody"], "no active user 'nobody'"),
    (["--from", "2026-06-01", "--to", "2026-06-02", "--as", "secretary_spd"], "只有"),
])
def test_it_fails_with_a_clear_message(patrol, frozen, args, message):
    if "--team" not in args:
        args = ["--team", str(patrol.team.pk), *args]
    with pytest.raises(CommandError, match=message):
        schedule(*args)


def test_a_team_too_small_fails_naming_the_problem(patrol, frozen):
    patrol.team.team_size = 8
    patrol.team.save()
    with pytest.raises(CommandError, match="在岗队员只有 5 人"):
        schedule("--team", str(patrol.team.pk), "--from", "2026-06-01", "--to", "2026-06-02")


def test_the_console_script_exits_non_zero(patrol, tmp_path):
    # CommandError from call_command is the exception; the console script turns it into exit code 1.
    from django.core.management import ManagementUtility

    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["yiwang", "patrol", "schedule", "--team", "x", "--from", "a", "--to", "b"]).execute()
    assert exited.value.code != 0


def test_sweep_marks_missed_shifts(patrol, frozen):
    out = StringIO()
    call_command("patrol", "sweep", stdout=out)
    assert "0 shifts marked missed" in out.getvalue()
