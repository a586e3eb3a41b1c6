"""Public figures (/open/, /api/v1/public/figures): every figure is the dashboard's for the same scope,
served without login, and no personal data typed anywhere into a case reaches a public page or answer."""

import datetime as dt
import json
import re
import zoneinfo

import pytest

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.rollups import REWORK_ACTIONS
from yiwang.cases.services import case_act, case_create
from yiwang.command.services import register_and_dispatch
from yiwang.core import clock
from yiwang.feedback.models import Evaluation
from yiwang.feedback.services import evaluation_create
from yiwang.stats import public
from yiwang.stats.selectors import (
    FigureFilters,
    figure_cases,
    indicators,
    percent,
    region_breakdown,
    weekly_trend,
)
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.django_db
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
OCTOBER = dt.datetime(2026, 10, 12, 9, 0, tzinfo=TZ)  # a working Monday
NOVEMBER = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a working Monday
TODAY = dt.datetime(2026, 12, 7, 10, 0, tzinfo=TZ)

# Planted in every free-text field a case has: none may reach a public page or answer.
ID_NUMBER = "110101199003077777"
PHONE = "13912345678"
NAME = "欧阳秘密"
HOSTILE = f"{NAME} {ID_NUMBER} {PHONE} =1+1"
SECRETS = (ID_NUMBER, PHONE, NAME, "=1+1", "1391234", "110101")


def act(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


def application(world, *, region="KG-DZ-XFL", close=True, rating=None):
    wang = world.viewer("resident_wang")
    case = case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code=region, title=HOSTILE,
                       description=HOSTILE, address=HOSTILE, applicant=world.residents["wang"], channel="hall",
                       applicant_name=NAME, applicant_phone=PHONE,
                       form={"birth_date": "1950-01-01", "reason": HOSTILE}, materials=SENIOR_OK["materials"]).case
    case = act(world, "clerk_xfl" if region == "KG-DZ-XFL" else "clerk_dz", case, "accept", reply=HOSTILE,
               note=HOSTILE)
    if close:
        act(world, "handler_xfl", case, "decide", decision="approved", note=HOSTILE, result=HOSTILE)
        case = act(world, "handler_xfl", case, "close", reply=HOSTILE, delivery={"method": "post", "tracking": "SF1234567890"})
        if rating:
            evaluation_create(viewer=wang, case_id=case.pk, rating=rating, comment=HOSTILE)
    return case


def incident(world, *, lat=34.405, lng=108.705, rework=False, close=True):
    case = case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_PARKING", lat=lat, lng=lng,
                       title=HOSTILE, description=HOSTILE, address=HOSTILE, channel="grid").case
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk, version=case.version)
    act(world, "handler_en", case, "acknowledge")
    act(world, "handler_en", case, "handle", result=HOSTILE, reply=HOSTILE)
    if rework:
        act(world, "operator_kg", case, "rework", comment=HOSTILE)
        act(world, "handler_en", case, "acknowledge")
        act(world, "handler_en", case, "handle", result=HOSTILE)
    if close:
        act(world, "operator_kg", case, "verify", note=HOSTILE)
        act(world, "operator_kg", case, "close", reply=HOSTILE)
    return case


@pytest.fixture(autouse=True)
def _no_cached_digest():
    # The tallies' digest is cached per data version (web.public.checkpoint_ref): not across tests.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def busy(world):
    """Cases in two months, several regions and units, rated, reworked, with personal data everywhere."""
    with clock.frozen_at(OCTOBER):
        application(world, rating=5)
        application(world, rating=1)
        incident(world, rework=True)
    with clock.frozen_at(NOVEMBER):
        application(world, rating=4)
        application(world, close=False)
        application(world, region="KG-DZ-CJC", close=False)
        incident(world)
        incident(world, rework=True, lat=34.4051, lng=108.7051)
        incident(world, close=False, lng=108.745)
    with clock.frozen_at(NOVEMBER + dt.timedelta(days=12)):  # late: past the 5 working days
        application(world, rating=2)
    return world


def test_each_region_s_figures_equal_the_dashboard_s(busy):
    admin = busy.viewer("admin")
    with clock.frozen_at(TODAY):
        for code in (None, "XX", "KG", "KG-DZ", "KG-DZ-XFL", "KG-DZ-CJC", "QH"):
            published = public.public_figures(region_code=code)
            total = region_breakdown(viewer=admin, region_code=code or "XX")["total"]
            dashboard = indicators(viewer=admin, region_code=code)
            figures = published["figures"]
            assert figures["received"] == total["cases"] == dashboard["cases"], code
            assert figures["closed"] == total["closed"] == dashboard["closed"], code
            assert figures["on_time_rate"] == total["on_time_rate"] == dashboard["on_time_rate"], code
            assert figures["satisfaction_rate"] == total["satisfaction_rate"] == dashboard["satisfaction_rate"], code
            assert figures["community_share"] == total["community_share"] == dashboard["community_share"], code
            assert figures["ratings"] == dashboard["ratings"] and figures["bad_reviews"] == dashboard["bad_reviews"]
            for child in published["children"]:
                theirs = region_breakdown(viewer=admin, region_code=child["region"]["code"])["total"]
                assert (child["received"], child["closed"], child["on_time_rate"], child["satisfaction_rate"]) == (
                    theirs["cases"], theirs["closed"], theirs["on_time_rate"], theirs["satisfaction_rate"])
        # A leader sees the same figure for their own region as the public does.
        leader = region_breakdown(viewer=busy.viewer("leader_kg"), region_code="KG")["total"]
        assert public.public_figures(region_code="KG")["figures"]["on_time_rate"] == leader["on_time_rate"]
        # 9 cases, and the follow-ups (整改) the two bad reviews opened.
        assert public.public_figures(region_code="XX")["figures"]["received"] == 12
        assert public.public_figures(region_code="KG-DZ")["figures"]["satisfaction_rate"] == "50.000"


def test_each_unit_s_figures_equal_the_dashboard_s(busy):
    with clock.frozen_at(TODAY):
        rows = {r["unit"]: r for r in indicators(viewer=busy.viewer("admin"))["by_unit"]}
        assert {"KG-DZ-XFL-SH", "KG-DZ-EN"} <= set(rows)
        for code, row in rows.items():
            figures = public.public_figures(unit_code=code)["figures"]
            assert figures["received"] == row["open"] + row["closed"]
            assert (figures["closed"], figures["on_time_rate"], figures["satisfaction_rate"]) == (
                row["closed"], row["on_time_rate"], row["satisfaction_rate"])
        # A unit's month is the dashboard's month for that unit, its rework rate from the month tallies.
        for month in (dt.date(2026, 10, 1), dt.date(2026, 11, 1)):
            theirs = {r["unit"]: r for r in indicators(viewer=busy.viewer("admin"), month=month,
                                                       kinds=public.PUBLIC_KINDS)["by_unit"]}
            for code in ("KG-DZ-EN", "KG-DZ-XFL-SH"):
                mine = public.public_figures(unit_code=code, month=month.strftime("%Y-%m"))["month"]
                row = theirs[code]
                assert (mine["closed"], mine["on_time_rate"], mine["satisfaction_rate"], mine["rework_rate"]) == (
                    row["closed"], row["on_time_rate"], row["satisfaction_rate"], row["rework_rate"]), (code, month)
        november = public.public_figures(unit_code="KG-DZ-EN", month="2026-11")["month"]
        assert (november["incidents_closed"], november["rework_rate"]) == (2, "50.000")  # one of two sent back
        assert public.public_figures(unit_code="KG-DZ-EN", month="2026-10")["month"]["rework_rate"] == "100.000"


def test_a_month_s_figures_equal_the_dashboard_s(busy):
    admin = busy.viewer("admin")
    with clock.frozen_at(TODAY):
        for code in ("XX", "KG-DZ-XFL", "KG-DZ-CJC"):
            published = public.public_figures(region_code=code, month="2026-11")
            months = {m["month"]: m for m in published["months"]}
            for first, last in ((dt.date(2026, 10, 1), dt.date(2026, 11, 1)), (dt.date(2026, 11, 1), dt.date(2026, 12, 1))):
                start = dt.datetime.combine(first, dt.time.min, TZ)
                end = dt.datetime.combine(last, dt.time.min, TZ)
                cases = figure_cases(viewer=admin, filters=FigureFilters(region_code=code))
                received = cases.filter(created_at__gte=start, created_at__lt=end).count()
                closed = cases.filter(closed_at__gte=start, closed_at__lt=end).count()
                assert (months[first.strftime("%Y-%m")]["received"], months[first.strftime("%Y-%m")]["closed"]) == (
                    received, closed), (code, first)
            # The rework rate from the month tallies is the timelines': November's incidents closed as
            # 结案 and, of them, those with a rework step.
            start, end = dt.datetime(2026, 11, 1, tzinfo=TZ), dt.datetime(2026, 12, 1, tzinfo=TZ)
            closed = figure_cases(viewer=admin, filters=FigureFilters(region_code=code, kind="incident",
                                                                      state="closed")).filter(
                closed_at__gte=start, closed_at__lt=end)
            reworked = closed.filter(pk__in=CaseEvent.objects.filter(action__in=REWORK_ACTIONS).values("case_id"))
            assert (published["month"]["incidents_closed"], published["month"]["incidents_reworked"]) == (
                closed.count(), reworked.count()), code
            assert published["month"]["rework_rate"] == region_breakdown(
                viewer=admin, region_code=code, month=dt.date(2026, 11, 1), kinds=public.PUBLIC_KINDS)["total"]["rework_rate"]
        assert public.public_figures(region_code="XX", month="2026-11")["month"]["rework_rate"] == "50.000"
        # The weekly trend and the months are the same day tallies, summed differently.
        weeks = weekly_trend(viewer=admin, region_code="XX", weeks=3)  # from 2026-11-23 (W48) to W50
        assert weeks[0]["submitted"] == 6  # the week of 23 November: all of November's cases
        assert public.public_figures(region_code="XX", month="2026-11")["months"][-1]["received"] == 6


SCOPES = ("XX", "KG", "KG-DZ", "KG-DZ-XFL", "KG-DZ-CJC")  # the area, a new city, a town, two communities


def test_every_figure_of_a_month_equals_the_dashboard_s_and_the_cases_for_several_scopes(busy):
    admin = busy.viewer("admin")
    kinds = public.PUBLIC_KINDS
    with clock.frozen_at(TODAY):
        for first, last in ((dt.date(2026, 10, 1), dt.date(2026, 11, 1)), (dt.date(2026, 11, 1), dt.date(2026, 12, 1))):
            start, end = dt.datetime.combine(first, dt.time.min, TZ), dt.datetime.combine(last, dt.time.min, TZ)
            for code in SCOPES:
                published = public.public_figures(region_code=code, month=first.strftime("%Y-%m"))
                mine = published["month"]
                total = region_breakdown(viewer=admin, region_code=code, month=first, kinds=kinds)["total"]
                dashboard = indicators(viewer=admin, region_code=code, month=first, kinds=kinds)
                for name, theirs in (("received", "cases"), ("closed", "closed"), ("on_time_rate", "on_time_rate"),
                                     ("satisfaction_rate", "satisfaction_rate"), ("ratings", "ratings"),
                                     ("community_share", "community_share"), ("rework_rate", "rework_rate")):
                    assert mine[name] == total[theirs] == dashboard[theirs], (code, first, name)
                # ... and what the cases themselves say, counted the slow way.
                cases = figure_cases(viewer=admin, filters=FigureFilters(region_code=code))
                closed = cases.filter(closed_at__gte=start, closed_at__lt=end)
                with_due = closed.filter(due_at__isnull=False)
                on_time = sum(1 for c in with_due if c.closed_at <= c.due_at)
                assert mine["received"] == cases.filter(created_at__gte=start, created_at__lt=end).count()
                assert mine["closed"] == closed.count(), (code, first)
                assert mine["on_time_rate"] == percent(on_time, with_due.count()), (code, first)
                rated = Evaluation.objects.filter(created_at__gte=start, created_at__lt=end,
                                                  region_path__startswith=published["region"]["path"])
                assert mine["ratings"] == rated.count()
                assert mine["bad_reviews"] == rated.filter(rating__lte=2).count()
                for child in published["children"]:
                    theirs = region_breakdown(viewer=admin, region_code=child["region"]["code"], month=first,
                                              kinds=kinds)["total"]
                    assert (child["month"]["received"], child["month"]["closed"], child["month"]["on_time_rate"],
                            child["month"]["satisfaction_rate"], child["month"]["rework_rate"]) == (
                        theirs["cases"], theirs["closed"], theirs["on_time_rate"], theirs["satisfaction_rate"],
                        theirs["rework_rate"]), (code, child["region"]["code"])
                units = {r["unit"]: r for r in dashboard["by_unit"]}
                for row in published["units"]:
                    theirs = units.get(row["unit"]["code"], {"closed": 0, "on_time_rate": None})
                    assert (row["month"]["closed"], row["month"]["on_time_rate"]) == (
                        theirs["closed"], theirs["on_time_rate"]), (code, row["unit"]["code"])
        # A leader reads the same month for their own city.
        leader = region_breakdown(viewer=busy.viewer("leader_kg"), region_code="KG", month=dt.date(2026, 11, 1),
                                  kinds=kinds)["total"]
        november = public.public_figures(region_code="KG", month="2026-11")["month"]
        assert (november["closed"], november["on_time_rate"], november["rework_rate"]) == (
            leader["closed"], leader["on_time_rate"], leader["rework_rate"])
        # November: an application and two incidents closed, on time (the late one closed in December).
        assert (november["closed"], november["on_time_rate"]) == (3, "100.000")
        december = public.public_figures(region_code="KG", month="2026-12")["month"]
        assert (december["closed"], december["ratings"], december["bad_reviews"]) == (1, 1, 1)


def test_assistance_pairs_and_rectification_items_are_not_published(busy):
    """A community with one assistance pair would otherwise show its poor household in its figures."""
    from yiwang.org.services import resident_create, resident_update
    from yiwang.party import services as party

    admin = busy.viewer("admin")
    with clock.frozen_at(TODAY):
        before = public.public_figures(region_code="KG-DZ-CJC")
        secretary = busy.viewer("secretary_cjc")
        member = party.member_create(viewer=secretary, branch=busy.units["cjc_branch"], name="张保权", gender="male",
                                     birth_date=dt.date(1968, 4, 2), experience=[], occupation="农民",
                                     joined_on=dt.date(2000, 7, 1))
        poor = resident_create(name=NAME, phone=PHONE, region=busy.regions["cjc"])
        resident_update(resident=poor, poverty=True)
        pair = party.pair_create(viewer=secretary, branch=busy.units["cjc_branch"], member_id=member.id,
                                 resident_id=poor.id, needs=HOSTILE)
        assert Case.objects.get(pk=pair.case_id).kind == "assistance"
        # The leaders' dashboard counts it; the public figures, of the kinds residents bring, do not.
        assert indicators(viewer=admin, region_code="KG-DZ-CJC")["cases"] == before["figures"]["received"] + 1
        after = public.public_figures(region_code="KG-DZ-CJC")
        assert after["figures"] == before["figures"]
        assert after["month"] == before["month"] and after["months"] == before["months"]
        town = public.public_figures(region_code="KG-DZ")
        assert next(c for c in town["children"] if c["region"]["code"] == "KG-DZ-CJC")["received"] == \
            before["figures"]["received"]
        assert town["figures"]["received"] == region_breakdown(
            viewer=admin, region_code="KG-DZ", kinds=public.PUBLIC_KINDS)["total"]["cases"]
        assert "assistance" not in public.PUBLIC_KINDS and "rectification" not in public.PUBLIC_KINDS


def test_the_api_answers_without_login_and_refuses_bad_input_with_4xx(busy, client):
    with clock.frozen_at(TODAY):
        answer = client.get("/api/v1/public/figures", {"region": "KG-DZ", "month": "2026-11"})
        assert answer.status_code == 200
        body = answer.json()
        assert body["region"]["code"] == "KG-DZ" and body["figures"]["received"] == 12
        assert [c["region"]["code"] for c in body["children"]] == ["KG-DZ-CJC", "KG-DZ-XFL"]
        assert "checkpoint" in body
        for params, status in [({"region": "NOPE"}, 404), ({"region": "KG-DZ-XFL-G1"}, 404), ({"unit": "NOPE"}, 404),
                               ({"month": "2026-13"}, 422), ({"month": "=1+1"}, 422), ({"month": "2099-01"}, 422),
                               ({"region": "\x00"}, 422)]:
            assert client.get("/api/v1/public/figures", params).status_code == status, params
        for params, status in [({"region": "NOPE"}, 404), ({"unit": "NOPE"}, 404), ({"region": "KG-DZ-XFL-G1"}, 404)]:
            assert client.get("/open/", params).status_code == status, params
        page = client.get("/open/", {"region": "KG-DZ", "month": "=1+1"})  # this month, the refusal by the field
        assert page.status_code == 422 and 'id="month-error"' in page.content.decode()
        assert "=1+1" not in page.content.decode()
        schema = client.get("/api/v1/openapi.json").json()
        assert "/api/v1/public/figures" in schema["paths"] and "/api/v1/public/incidents" in schema["paths"]


def test_no_personal_data_on_any_public_page_or_answer(busy, client):
    with clock.frozen_at(TODAY):
        urls = ["/open/", "/open/map/", "/api/v1/public/incidents", "/api/v1/public/figures"]
        for code in ("XX", "KG", "KG-DZ", "KG-DZ-XFL", "KG-DZ-CJC"):
            urls += [f"/open/?region={code}", f"/api/v1/public/figures?region={code}&month=2026-10"]
        for code in ("KG-DZ-XFL-SH", "KG-DZ-EN", "KG-CC"):
            urls += [f"/open/?unit={code}", f"/api/v1/public/figures?unit={code}"]
        for url in urls:
            answer = client.get(url)
            assert answer.status_code == 200, url
            text = answer.content.decode()
            if url.startswith("/api/"):
                text = json.dumps(answer.json(), ensure_ascii=False)
            for secret in SECRETS:
                assert secret not in text, (url, secret)


def outsiders_sums(tallies: dict, path: str, community_units: set[int], month: str) -> dict:
    """docs/public-figures.md, "Checking a figure yourself", step 4, in plain Python over the file's tallies."""
    from decimal import ROUND_HALF_UP, Decimal

    def rate(part, whole):
        return str((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.001"), ROUND_HALF_UP)) if whole else None

    published = ("application", "consultation", "incident", "follow_up")  # never assistance, rectification
    rows = [r for r in tallies["cases"] if r[0].startswith(path) and r[1] in published]
    closed = [r for r in rows if r[3]]
    ratings = [r for r in tallies["ratings"] if r[0].startswith(path)]
    bad = sum(r[3] for r in ratings if r[2] <= 2)
    at_community = sum(r[6] for r in closed if (r[5] or r[4]) in community_units)
    days = [r for r in tallies["case_days"] if r[0].startswith(path) and r[1].startswith(month) and r[2] in published]
    # A month: [path, kind, state, unit id, "YYYY-MM", closed, with a deadline, on time, seconds, reworked].
    shut = [r for r in tallies["case_months"] if r[0].startswith(path) and r[4] == month and r[1] in published]
    incidents = [r for r in shut if r[1] == "incident" and r[2] == "closed"]
    rated = [r for r in tallies["rating_months"] if r[0].startswith(path) and r[3] == month]
    month_bad = sum(r[4] for r in rated if r[2] <= 2)
    return {
        "received": sum(r[6] for r in rows), "closed": sum(r[6] for r in closed),
        "on_time_rate": rate(sum(r[8] for r in closed), sum(r[7] for r in closed)),
        "satisfaction_rate": rate(sum(r[3] for r in ratings) - bad, sum(r[3] for r in ratings)),
        "community_share": rate(at_community, sum(r[6] for r in closed)),
        "month": {
            "received": sum(r[3] for r in days), "closed": sum(r[5] for r in shut),
            "on_time_rate": rate(sum(r[7] for r in shut), sum(r[6] for r in shut)),
            "satisfaction_rate": rate(sum(r[4] for r in rated) - month_bad, sum(r[4] for r in rated)),
            "community_share": rate(sum(r[5] for r in shut if r[3] in community_units), sum(r[5] for r in shut)),
            "rework_rate": rate(sum(r[9] for r in incidents), sum(r[5] for r in incidents)),
        },
    }


def test_an_outsider_re_adds_each_figure_from_the_signed_tallies(busy):
    # Signed checkpoints (docs/checkpoints.md) land in their own change; until then there is no file.
    records_checkpoints = pytest.importorskip("yiwang.records.checkpoints")
    canonical, tallies_snapshot = records_checkpoints.canonical, records_checkpoints.tallies_snapshot

    with clock.frozen_at(TODAY):
        # What the checkpoint file carries under "tallies", through its canonical JSON and back.
        tallies = json.loads(canonical(tallies_snapshot()))
        everywhere = public.public_figures(region_code="XX")
        community_units = {u["unit"]["id"] for u in everywhere["units"] if u["unit"]["level"] == "community"}
        assert community_units
        for code in SCOPES:
            for month in ("2026-10", "2026-11", "2026-12"):
                published = public.public_figures(region_code=code, month=month)
                sums = outsiders_sums(tallies, published["region"]["path"], community_units, month)
                figures = published["figures"]
                assert {k: figures[k] for k in ("received", "closed", "on_time_rate", "satisfaction_rate",
                                                "community_share")} == {k: sums[k] for k in (
                    "received", "closed", "on_time_rate", "satisfaction_rate", "community_share")}, code
                assert {k: published["month"][k] for k in sums["month"]} == sums["month"], (code, month)
                assert published["months"][-1]["received"] == sums["month"]["received"]


def test_the_answer_names_the_newest_checkpoint_and_whether_it_still_covers_the_figures(busy, client, settings,
                                                                                      tmp_path):
    checkpoint_create = pytest.importorskip("yiwang.records.services").checkpoint_create

    settings.YIWANG_SIGNING_KEY_FILE = str(tmp_path / "signing.pem")
    with clock.frozen_at(TODAY):
        assert client.get("/api/v1/public/figures").json()["checkpoint"] is None
        checkpoint = checkpoint_create()
        stated = client.get("/api/v1/public/figures").json()["checkpoint"]
        assert (stated["number"], stated["digest"], stated["figures_match"]) == (checkpoint.number, checkpoint.digest, True)
        assert stated["file_url"] == f"/checkpoints/{checkpoint.number}.json"
        assert f"#{checkpoint.number}" in client.get("/open/").content.decode()
        application(busy, close=False)  # a case moves after the checkpoint
        assert client.get("/api/v1/public/figures").json()["checkpoint"]["figures_match"] is False


def test_the_leaders_dashboard_shows_the_same_month(busy, client):
    """/dashboard/?month= reads region_breakdown(month=) as the public page does; a leader sees their
    city's month, another city's is the dashboard's not-found, a bad month is refused by the field."""
    client.login(username="leader_kg", password="pw-leader_kg")
    with clock.frozen_at(TODAY):
        page = client.get("/dashboard/", {"region": "KG", "month": "2026-11"})
        assert page.status_code == 200
        body = page.content.decode()
        total = body[body.index("data-month-total"):]
        published = public.public_figures(region_code="KG", month="2026-11")["month"]
        cells = re.findall(r"<td>([^<]*)</td>", total)[:7]
        assert cells == [str(published["received"]), str(published["closed"]), published["on_time_rate"],
                         published["satisfaction_rate"] or "—", str(published["bad_reviews"]),
                         published["community_share"] or "—", published["rework_rate"]]
        assert client.get("/dashboard/", {"region": "QH", "month": "2026-11"}).status_code == 404
        for bad in ("2026-13", "=1+1", "2099-01"):
            refused = client.get("/dashboard/", {"region": "KG", "month": bad})
            assert refused.status_code == 422 and 'id="month-error"' in refused.content.decode(), bad
        refused = client.get("/dashboard/", {"region": "KG", "month": "\x00"})  # the middleware's refusal
        assert refused.status_code == 422 and "month" in refused.content.decode()
