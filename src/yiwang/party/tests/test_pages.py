"""The secretary's pages: branch, grouping proposal (edit and save), pair (steps as plain forms)."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from yiwang.cases.models import CaseEvent
from yiwang.core import clock
from yiwang.party import selectors
from yiwang.party.models import GroupMembership, IncomeRecord, PartyMember

pytestmark = pytest.mark.django_db


def login(client, username):
    client.force_login(get_user_model().objects.get(username=username))


def test_a_secretary_goes_straight_to_the_branch(client, world, members, pair):
    login(client, "secretary_cjc")
    response = client.get("/party/")
    assert response.status_code == 302 and response["Location"] == "/party/KG-DZ-CJC-DZB/"
    page = client.get("/party/KG-DZ-CJC-DZB/").content.decode()
    assert "程家村党支部" in page and "张保权" in page and "程濛濛" in page and pair.case.number in page
    assert "登记党员" in page and "新建帮扶对子" in page


def test_a_member_is_entered_through_the_form_and_a_bad_one_comes_back_with_errors(client, world):
    login(client, "secretary_cjc")
    ok = client.post("/party/KG-DZ-CJC-DZB/", {"form": "member", "name": "李娟", "gender": "female",
                                               "birth_date": "1990-06-01", "experience": "电商、务工"})
    assert ok.status_code == 302
    assert PartyMember.objects.get(name="李娟").experience == ["电商", "务工"]
    bad = client.post("/party/KG-DZ-CJC-DZB/", {"form": "member", "name": "王某", "gender": "male",
                                                "birth_date": "tomorrow"})
    assert bad.status_code == 200 and "请填写有效日期" in bad.content.decode()
    assert not PartyMember.objects.filter(name="王某").exists()


def test_the_proposal_is_shown_edited_and_saved(client, world, branch, members):
    login(client, "secretary_cjc")
    page = client.get("/party/KG-DZ-CJC-DZB/grouping/?groups=3")
    assert page.status_code == 200
    html = page.content.decode()
    assert "致富之星党小组" in html and "保存分组" in html
    proposal = selectors.grouping_proposal(viewer=world.viewer("secretary_cjc"), branch=branch, n=3)
    form = {"groups": "3"}
    for i, g in enumerate(proposal):
        form[f"name-{i}"], form[f"kind-{i}"] = g.name, g.kind
        form[f"leader-{i}"] = ""
        for m in g.members:
            form[f"member-{m.id}"] = str(i)
    moved = proposal[0].members[0]
    form[f"member-{moved.id}"] = "2"
    form["name-2"] = "青年突击党小组"
    saved = client.post("/party/KG-DZ-CJC-DZB/grouping/", form)
    assert saved.status_code == 302, saved.content.decode()[:500]
    assert GroupMembership.objects.get(member=moved).group.name == "青年突击党小组"
    assert GroupMembership.objects.count() == len(members)


def test_a_bad_edit_comes_back_with_the_groups_errors(client, world, branch, members):
    login(client, "secretary_cjc")
    form = {"groups": "2", "name-0": "甲", "name-1": "甲", "kind-0": "wealth", "kind-1": "custom"}
    for m in members:
        form[f"member-{m.id}"] = "0"
    response = client.post("/party/KG-DZ-CJC-DZB/grouping/", form)
    html = response.content.decode()
    assert response.status_code == 200 and "重复" in html and "没有成员" in html
    assert not GroupMembership.objects.exists()
    bad_n = client.get("/party/KG-DZ-CJC-DZB/grouping/?groups=abc")
    assert bad_n.status_code == 200 and "请填写整数" in bad_n.content.decode()


def test_the_pair_page_charts_income_and_takes_steps(client, world, pair):
    login(client, "secretary_cjc")
    last = clock.today().replace(day=1) - dt.timedelta(days=1)
    version = pair.case.version
    response = client.post(f"/party/pairs/{pair.id}/income/", {"version": version, "year": last.year,
                                                               "month": last.month, "amount": "3200",
                                                               "source": "land_transfer"})
    assert response.status_code == 302
    assert IncomeRecord.objects.get(pair=pair).amount == 3200
    response = client.post(f"/party/pairs/{pair.id}/visit/", {"version": version + 1, "comment": "入户走访",
                                                              "visited_on": clock.today().isoformat()})
    assert response.status_code == 302
    page = client.get(f"/party/pairs/{pair.id}/").content.decode()
    assert 'data-bar="income-data"' in page and f"{last:%Y-%m}" in page and "3200" in page
    assert f"/work/cases/{pair.case.number}/" in page and "入户走访" in page and "宣布脱贫" in page


def test_a_refused_step_shows_its_error_and_writes_nothing(client, world, pair):
    login(client, "secretary_cjc")
    response = client.post(f"/party/pairs/{pair.id}/income/", {"version": pair.case.version, "year": "2020",
                                                               "month": "13", "amount": "-1", "source": "wages"})
    assert response.status_code == 422
    assert "月份须在 1 到 12 之间" in response.content.decode()
    assert not CaseEvent.objects.filter(case_id=pair.case_id, action="record_income").exists()
    stale = client.post(f"/party/pairs/{pair.id}/visit/", {"version": "0", "comment": "x"})
    assert stale.status_code == 422 and "请刷新后重试" in stale.content.decode()
    assert client.post(f"/party/pairs/{pair.id}/dance/", {}).status_code == 404


def test_pages_refuse_residents_and_hide_other_regions(client, world, members, pair):
    def writes():
        pair.case.refresh_from_db()
        return pair.case.version, CaseEvent.objects.filter(case=pair.case).count(), PartyMember.objects.count()

    before = writes()
    visit = {"version": str(pair.case.version), "comment": "入户走访"}
    login(client, "resident_wang")
    for url in ("/party/", "/party/KG-DZ-CJC-DZB/", f"/party/pairs/{pair.id}/"):
        response = client.get(url)
        assert response.status_code == 403 and "仅限工作人员。" in response.content.decode(), url
    refused = client.post(f"/party/pairs/{pair.id}/visit/", visit)
    assert refused.status_code == 403 and "仅限工作人员。" in refused.content.decode()
    login(client, "clerk_xfl")
    for url in ("/party/KG-DZ-CJC-DZB/", f"/party/pairs/{pair.id}/"):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 404, url
        assert "程家村党支部" not in body and "张保权" not in body and "程濛濛" not in body, url
        assert pair.case.number not in body, url
    assert client.post(f"/party/pairs/{pair.id}/visit/", visit).status_code == 404
    added = client.post("/party/KG-DZ-CJC-DZB/", {"form": "member", "name": "王某", "gender": "male",
                                                  "birth_date": "1990-01-01"})
    assert added.status_code == 404
    client.logout()
    stranger = client.get("/party/KG-DZ-CJC-DZB/")
    assert stranger.status_code == 302 and stranger["Location"] == "/login/?next=/party/KG-DZ-CJC-DZB/"
    assert client.post(f"/party/pairs/{pair.id}/visit/", visit)["Location"].startswith("/login/")
    assert writes() == before


def test_a_town_handler_reads_the_branch_without_forms(client, world, members, pair):
    login(client, "handler_en")
    page = client.get("/party/KG-DZ-CJC-DZB/").content.decode()
    assert "张保权" in page and "登记党员" not in page
    pair_page = client.get(f"/party/pairs/{pair.id}/").content.decode()
    assert "您对该帮扶对子暂无可执行的操作" in pair_page
