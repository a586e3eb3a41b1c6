"""The party API: the same services behind /api/v1/party/…, with 4xx answers naming the field."""

import datetime as dt

import pytest

from yiwang.cases.models import CaseEvent
from yiwang.core import clock
from yiwang.party.models import PartyMember

pytestmark = pytest.mark.django_db


def test_a_branch_lists_members_groups_and_pairs(api, world, members, pair):
    response = api("get", "/party/branches/KG-DZ-CJC-DZB", "secretary_cjc")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["may_manage"] is True and len(body["members"]) == len(members)
    assert body["pairs"][0]["case_number"] == pair.case.number and body["pairs"][0]["state_label"] == "帮扶中"
    listed = api("get", "/party/branches", "leader_kg").json()
    assert [b["code"] for b in listed] == ["KG-DZ-CJC-DZB"] and listed[0]["may_manage"] is True


def test_members_are_entered_and_changed(api, world):
    body = {"name": "李娟", "gender": "female", "birth_date": "1990-06-01", "experience": ["电商"]}
    created = api("post", "/party/branches/KG-DZ-CJC-DZB/members", "secretary_cjc", body)
    assert created.status_code == 201, created.content
    member_id = created.json()["id"]
    changed = api("patch", f"/party/members/{member_id}", "secretary_cjc", {"occupation": "电商主播"})
    assert changed.status_code == 200 and changed.json()["occupation"] == "电商主播"
    assert changed.json()["experience"] == ["电商"]
    bad = api("post", "/party/branches/KG-DZ-CJC-DZB/members", "secretary_cjc", {**body, "birth_date": "2020-01-01"})
    assert bad.status_code == 422 and "birth_date" in bad.json()["errors"]
    malformed = api("post", "/party/branches/KG-DZ-CJC-DZB/members", "secretary_cjc", {**body, "birth_date": "soon"})
    assert malformed.status_code == 422 and "birth_date" in malformed.json()["errors"]
    gone = api("post", f"/party/members/{member_id}/deactivate", "secretary_cjc")
    assert gone.status_code == 200 and gone.json()["active"] is False


def test_the_proposal_is_fetched_edited_and_saved(api, world, members):
    proposal = api("get", "/party/branches/KG-DZ-CJC-DZB/grouping?groups=3", "secretary_cjc")
    assert proposal.status_code == 200, proposal.content
    groups = proposal.json()
    assert sorted(len(g["members"]) for g in groups) == [3, 3, 3]
    saved = api("put", "/party/branches/KG-DZ-CJC-DZB/groups", "secretary_cjc", {"groups": groups})
    assert saved.status_code == 200, saved.content
    assert [g["name"] for g in saved.json()] == ["致富之星党小组", "服务之星党小组", "青春之星党小组"]
    for n in (0, 99):
        bad = api("get", f"/party/branches/KG-DZ-CJC-DZB/grouping?groups={n}", "secretary_cjc")
        assert bad.status_code == 422 and "groups" in bad.json()["errors"]
    groups[0]["members"] = groups[0]["members"][1:]
    bad = api("put", "/party/branches/KG-DZ-CJC-DZB/groups", "secretary_cjc", {"groups": groups})
    assert bad.status_code == 422 and "groups" in bad.json()["errors"]


def test_a_pair_is_opened_and_walked_through_its_steps(api, world, members, poor):
    opened = api("post", "/party/branches/KG-DZ-CJC-DZB/pairs", "secretary_cjc",
                 {"member_id": members[0].id, "resident_id": poor.id, "needs": "缺少收入来源"})
    assert opened.status_code == 201, opened.content
    pair = opened.json()
    assert pair["state"] == "active" and "log_visit" in pair["actions"]
    path = f"/party/pairs/{pair['id']}"
    version = pair["version"]
    visit = api("post", f"{path}/visits", "secretary_cjc", {"version": version, "comment": "入户走访"})
    assert visit.status_code == 201, visit.content
    measure = api("post", f"{path}/measures", "secretary_cjc", {
        "version": visit.json()["version"], "kind": "subsistence", "description": "代为申请低保",
        "household_size": 3, "monthly_income": "900", "materials": ["id_card", "income"]})
    assert measure.status_code == 201, measure.content
    assert measure.json()["measures"][0]["application"].startswith("YW")
    last = clock.today().replace(day=1) - dt.timedelta(days=1)
    income = api("post", f"{path}/incomes", "secretary_cjc", {
        "version": measure.json()["version"], "year": last.year, "month": last.month, "amount": "3200.50",
        "source": "land_transfer"})
    assert income.status_code == 201, income.content
    assert income.json()["income_12_months"] == "3200.50"
    stale = api("post", f"{path}/exit", "secretary_cjc", {"version": version, "comment": "达标"})
    assert stale.status_code == 409
    out = api("post", f"{path}/exit", "secretary_cjc", {"version": income.json()["version"], "comment": "达标"})
    assert out.status_code == 200 and out.json()["state"] == "monitoring"
    early = api("post", f"{path}/end-monitoring", "secretary_cjc", {"version": out.json()["version"], "result": "稳定"})
    assert early.status_code == 422 and "result" in early.json()["errors"]


@pytest.mark.parametrize("body,field", [
    ({"amount": "-5"}, "amount"), ({"month": 13}, "month"), ({"source": "x"}, "source"), ({"amount": "many"}, "amount"),
    ({"year": "last"}, "year"),
])
def test_bad_income_is_a_422_on_the_field(api, world, pair, body, field):
    pair.case.refresh_from_db()
    today = clock.today()
    full = {"version": pair.case.version, "year": today.year, "month": today.month, "amount": "1", "source": "wages",
            **body}
    response = api("post", f"/party/pairs/{pair.id}/incomes", "secretary_cjc", full)
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]


def test_bad_pairs_are_refused(api, world, members, poor):
    missing = api("post", "/party/branches/KG-DZ-CJC-DZB/pairs", "secretary_cjc", {"member_id": members[0].id})
    assert missing.status_code == 422
    wrong = api("post", "/party/branches/KG-DZ-CJC-DZB/pairs", "secretary_cjc",
                {"member_id": members[0].id, "resident_id": world.residents["wang"].id, "needs": "x"})
    assert wrong.status_code == 422 and "resident" in wrong.json()["errors"]
    unknown = api("post", "/party/pairs/999999/visits", "secretary_cjc", {"version": 1, "comment": "x"})
    assert unknown.status_code == 404
    bad_measure = api("post", "/party/pairs/999999/measures", "secretary_cjc", {"version": 1})
    assert bad_measure.status_code == 422


def test_anonymous_callers_are_refused(api, world, members, pair):
    for path in ("/party/branches", "/party/branches/KG-DZ-CJC-DZB", f"/party/pairs/{pair.id}"):
        response = api("get", path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthenticated" and "请先登录" in response.json()["detail"], path
        body = response.content.decode()
        assert "KG-DZ-CJC-DZB" not in body and "张保权" not in body and pair.case.number not in body, path
    before = (PartyMember.objects.count(), pair.case.version, CaseEvent.objects.filter(case=pair.case).count())
    added = api("post", "/party/branches/KG-DZ-CJC-DZB/members", None,
                {"name": "王某", "gender": "male", "birth_date": "1990-01-01"})
    visited = api("post", f"/party/pairs/{pair.id}/visits", None, {"version": pair.case.version, "comment": "x"})
    assert added.status_code == visited.status_code == 401
    assert added.json()["code"] == visited.json()["code"] == "unauthenticated"
    pair.case.refresh_from_db()
    assert (PartyMember.objects.count(), pair.case.version,
            CaseEvent.objects.filter(case=pair.case).count()) == before
