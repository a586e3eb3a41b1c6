"""An assistance pair's whole life through the party services, each step an event on its case."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from yiwang.cases.models import Case, CaseEvent
from yiwang.core import clock
from yiwang.core.errors import IllegalTransition, PermissionDenied, ValidationFailed
from yiwang.party import selectors, services
from yiwang.party.models import IncomeRecord, Measure

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def version(pair):
    pair.case.refresh_from_db()
    return pair.case.version


def events(pair, action):
    return list(CaseEvent.objects.filter(case_id=pair.case_id, action=action).order_by("seq"))


def test_pairing_opens_an_assistance_case_at_the_branch(world, branch, pair, members, poor):
    case = pair.case
    assert case.kind == "assistance" and case.state == "active" and case.matter.code == "ASSIST_POVERTY"
    assert case.holder_unit_id == branch.id and case.region_path == pair.region_path == poor.region_path
    assert case.title == "党员张保权帮扶程濛濛" and case.description == pair.needs
    first = CaseEvent.objects.get(case=case, seq=1)
    assert first.payload["party_member"] == "张保权" and first.payload["resident_id"] == poor.id


@pytest.mark.parametrize("fields,field", [
    ({"needs": " "}, "needs"),
    ({"member_id": 999_999}, "member"),
    ({"resident": "wang"}, "resident"),  # 王大爷 lives in 幸福里, outside the branch's village
    ({"resident": "not_poor"}, "resident"),
    ({"matter_code": "SENIOR_CARD"}, "matter_code"),
])
def test_bad_pairings_are_refused_with_the_field(world, branch, members, poor, fields, field):
    from yiwang.org.services import resident_create

    resident = {"wang": world.residents["wang"],
                "not_poor": resident_create(name="程某", phone="13900000010", region=world.regions["cjc"])}.get(
        fields.pop("resident", None), poor)
    args = {"member_id": members[0].id, "resident_id": resident.id, "needs": "缺少收入", **fields}
    with pytest.raises(ValidationFailed) as err:
        services.pair_create(viewer=world.viewer("secretary_cjc"), branch=branch, **args)
    assert err.value.field == field
    assert not Case.objects.filter(kind="assistance").exists()


def test_a_household_gets_one_open_pair_at_a_time(world, branch, pair, members, poor):
    with pytest.raises(ValidationFailed) as err:
        services.pair_create(viewer=world.viewer("secretary_cjc"), branch=branch, member_id=members[1].id,
                             resident_id=poor.id, needs="再次结对")
    assert err.value.field == "resident"
    assert poor not in selectors.poor_residents(viewer=world.viewer("secretary_cjc"), branch=branch)


def test_a_visit_is_logged_with_its_date_and_photo(world, pair, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    photo = SimpleUploadedFile("visit.png", PNG, content_type="image/png")
    services.pair_visit(viewer=world.viewer("secretary_cjc"), pair_id=pair.id, version=version(pair),
                        comment="入户了解养鸡场关停后的打算", visited_on=clock.today(), photo=photo)
    [visit] = events(pair, "log_visit")
    assert visit.payload["note"] == "入户了解养鸡场关停后的打算"
    assert visit.payload["visited_on"] == clock.today().isoformat()
    assert visit.payload["photos"][0]["content_type"] == "image/png"
    assert (tmp_path / visit.payload["photos"][0]["reference"]).exists()


@pytest.mark.parametrize("fields,field", [
    ({"comment": ""}, "comment"),
    ({"visited_on": dt.date(2999, 1, 1)}, "visited_on"),
    ({"visited_on": dt.date(2000, 1, 1)}, "visited_on"),
    ({"photo": SimpleUploadedFile("x.png", b"GIF89a....", content_type="image/png")}, "photo"),
])
def test_bad_visits_are_refused(world, pair, fields, field):
    with pytest.raises(ValidationFailed) as err:
        services.pair_visit(viewer=world.viewer("secretary_cjc"), pair_id=pair.id, version=version(pair),
                            **{"comment": "走访", **fields})
    assert err.value.field == field
    assert not events(pair, "log_visit")


def test_measures_are_recorded_on_the_timeline(world, pair):
    secretary = world.viewer("secretary_cjc")
    for kind, text in [("land_transfer", "流转土地 5 亩给合作社"), ("job_info", "为其子提供空港物流园务工信息")]:
        services.pair_measure_add(viewer=secretary, pair_id=pair.id, version=version(pair), kind=kind,
                                  description=text)
    measures = selectors.measure_list(pair=pair)
    assert [m.kind for m in measures] == ["land_transfer", "job_info"]
    timeline = events(pair, "add_measure")
    assert [e.payload["measure"] for e in timeline] == ["land_transfer", "job_info"]
    assert timeline[0].payload["note"] == "土地流转：流转土地 5 亩给合作社"
    assert [m.event_seq for m in measures] == [e.seq for e in timeline]


def test_the_subsistence_measure_opens_an_application_on_the_households_behalf(world, pair, poor):
    measure = services.pair_measure_add(
        viewer=world.viewer("secretary_cjc"), pair_id=pair.id, version=version(pair), kind="subsistence",
        description="家庭人均收入低于低保标准，代为申请", household_size=4, monthly_income=Decimal("1200"),
        materials=["id_card", "income"])
    application = measure.application
    assert application.kind == "application" and application.matter.code == "SUBSISTENCE"
    assert application.applicant_id == poor.id and application.channel == "hall"
    assert application.form_data == {"household_size": 4, "monthly_income": 1200.0}
    assert application.holder_unit.code == "KG-DZ-SH"  # routed as any application from 程家村
    assert CaseEvent.objects.get(case=application, seq=1).payload["assistance_case"] == pair.case.number
    [event] = events(pair, "add_measure")
    assert event.payload["application"] == application.number


def test_a_subsistence_measure_with_missing_materials_opens_nothing(world, pair):
    with pytest.raises(ValidationFailed) as err:
        services.pair_measure_add(viewer=world.viewer("secretary_cjc"), pair_id=pair.id, version=version(pair),
                                  kind="subsistence", description="代为申请", household_size=4, monthly_income=1200,
                                  materials=["id_card"])
    assert "materials" in err.value.errors
    assert not Case.objects.filter(kind="application").exists() and not Measure.objects.exists()
    assert not events(pair, "add_measure")


def test_a_second_subsistence_application_waits_for_the_first(world, pair):
    args = dict(kind="subsistence", description="代为申请", household_size=4, monthly_income=1200,
                materials=["id_card", "income"])
    services.pair_measure_add(viewer=world.viewer("secretary_cjc"), pair_id=pair.id, version=version(pair), **args)
    with pytest.raises(ValidationFailed) as err:
        services.pair_measure_add(viewer=world.viewer("secretary_cjc"), pair_id=pair.id, version=version(pair), **args)
    assert err.value.field == "kind"


def test_income_is_recorded_with_its_event_and_charted_by_month(world, pair):
    secretary = world.viewer("secretary_cjc")
    today = clock.today()
    last = (today.replace(day=1) - dt.timedelta(days=1))
    for month, source, amount in [(last, "land_transfer", "3200"), (last, "wages", "2500.5"),
                                  (today, "wages", "2600")]:
        services.pair_income_record(viewer=secretary, pair_id=pair.id, version=version(pair), year=month.year,
                                    month=month.month, amount=amount, source=source)
    records = selectors.income_list(pair=pair)
    assert [(r.source, r.amount) for r in records] == [
        ("land_transfer", Decimal("3200.00")), ("wages", Decimal("2500.50")), ("wages", Decimal("2600.00"))]
    assert IncomeRecord.objects.filter(pair=pair).count() == 3
    timeline = events(pair, "record_income")
    assert [e.payload["amount"] for e in timeline] == ["3200.00", "2500.50", "2600.00"]
    assert {r.event_seq for r in records} == {e.seq for e in timeline}
    assert selectors.income_by_month(pair=pair) == [(f"{last:%Y-%m}", Decimal("5700.50")),
                                                    (f"{today:%Y-%m}", Decimal("2600.00"))]
    assert selectors.income_chart(pair=pair)["values"] == [5700.5, 2600.0]
    assert selectors.income_last_twelve_months(pair=pair) == Decimal("5700.50")


@pytest.mark.parametrize("fields,field", [
    ({"year": 1999}, "year"), ({"month": 13}, "month"), ({"month": 0}, "month"), ({"amount": "-1"}, "amount"),
    ({"amount": "abc"}, "amount"), ({"amount": "NaN"}, "amount"), ({"amount": "1e12"}, "amount"),
    ({"source": "lottery"}, "source"), ({"year": 2999}, "year"),
])
def test_bad_income_is_refused_and_nothing_is_written(world, pair, fields, field):
    today = clock.today()
    args = {"year": today.year, "month": today.month, "amount": "100", "source": "wages", **fields}
    with pytest.raises(ValidationFailed) as err:
        services.pair_income_record(viewer=world.viewer("secretary_cjc"), pair_id=pair.id, version=version(pair),
                                    **args)
    assert field in err.value.errors
    assert not IncomeRecord.objects.exists() and not events(pair, "record_income")


def test_a_future_month_and_a_repeated_month_are_refused(world, pair):
    secretary = world.viewer("secretary_cjc")
    with clock.frozen_at(timezone.make_aware(dt.datetime(2026, 3, 10, 10))):
        with pytest.raises(ValidationFailed) as err:
            services.pair_income_record(viewer=secretary, pair_id=pair.id, version=version(pair), year=2026,
                                        month=4, amount="1", source="wages")
        assert "month" in err.value.errors
        services.pair_income_record(viewer=secretary, pair_id=pair.id, version=version(pair), year=2026, month=2,
                                    amount="1", source="wages")
        with pytest.raises(ValidationFailed) as err:
            services.pair_income_record(viewer=secretary, pair_id=pair.id, version=version(pair), year=2026,
                                        month=2, amount="2", source="wages")
        assert err.value.field == "month"


def test_exit_monitoring_relapse_and_the_end_of_the_pair(world, pair):
    secretary = world.viewer("secretary_cjc")
    with pytest.raises(ValidationFailed):  # no income on record: nothing to judge 脱贫 on
        services.pair_declare_exit(viewer=secretary, pair_id=pair.id, version=version(pair), comment="达标")
    last = clock.today().replace(day=1) - dt.timedelta(days=1)
    services.pair_income_record(viewer=secretary, pair_id=pair.id, version=version(pair), year=last.year,
                                month=last.month, amount="9000", source="land_transfer")
    services.pair_declare_exit(viewer=secretary, pair_id=pair.id, version=version(pair), comment="人均纯收入超过标准")
    pair.case.refresh_from_db()
    assert pair.case.state == "monitoring"
    assert events(pair, "declare_exit")[0].payload["income_12_months"] == "9000.00"
    with pytest.raises(IllegalTransition):  # measures belong to active assistance
        services.pair_measure_add(viewer=secretary, pair_id=pair.id, version=version(pair), kind="other",
                                  description="x")
    with pytest.raises(ValidationFailed) as err:  # monitoring means going back to look
        services.pair_end_monitoring(viewer=secretary, pair_id=pair.id, version=version(pair), result="稳定")
    assert err.value.field == "result"
    services.pair_relapse(viewer=secretary, pair_id=pair.id, version=version(pair), comment="因病返贫")
    services.pair_declare_exit(viewer=secretary, pair_id=pair.id, version=version(pair), comment="医保报销后达标")
    services.pair_visit(viewer=secretary, pair_id=pair.id, version=version(pair), comment="回访：收入稳定")
    services.pair_end_monitoring(viewer=secretary, pair_id=pair.id, version=version(pair), result="监测期满，稳定脱贫")
    pair.case.refresh_from_db()
    assert pair.case.state == "closed" and pair.case.closed_at is not None
    actions = list(CaseEvent.objects.filter(case_id=pair.case_id).order_by("seq").values_list("action", flat=True))
    assert actions == ["submit", "record_income", "declare_exit", "relapse", "declare_exit", "log_visit",
                       "end_monitoring"]


def test_a_stale_version_is_a_conflict_and_writes_no_income(world, pair):
    from yiwang.core.errors import Conflict

    stale = version(pair)
    services.pair_visit(viewer=world.viewer("secretary_cjc"), pair_id=pair.id, version=stale, comment="走访")
    with pytest.raises(Conflict):
        services.pair_income_record(viewer=world.viewer("secretary_cjc"), pair_id=pair.id, version=stale,
                                    year=clock.today().year, month=clock.today().month, amount="1", source="wages")
    assert not IncomeRecord.objects.exists()


def test_the_leader_opens_pairs_but_the_branch_keeps_the_ledger(world, branch, members, poor):
    pair = services.pair_create(viewer=world.viewer("leader_kg"), branch=branch, member_id=members[2].id,
                                resident_id=poor.id, needs="养老")
    with pytest.raises(PermissionDenied):  # the assistance workflow's steps are the branch's
        services.pair_visit(viewer=world.viewer("leader_kg"), pair_id=pair.id, version=version(pair), comment="看望")


def test_photo_too_big_is_refused(world, pair):
    big = SimpleUploadedFile("big.png", PNG + b"\0" * (5 * 1024 * 1024), content_type="image/png")
    with pytest.raises(ValidationFailed) as err:
        services.pair_visit(viewer=world.viewer("secretary_cjc"), pair_id=pair.id, version=version(pair),
                            comment="走访", photo=big)
    assert err.value.field == "photo"
