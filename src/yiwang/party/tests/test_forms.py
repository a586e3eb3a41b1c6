"""The party pages' forms read a post as the views did by hand, and refuse beside the same field."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict

from yiwang.core import pages
from yiwang.core.errors import ValidationFailed
from yiwang.party.forms import STEP_FORMS, GroupCountForm, GroupsForm, MemberForm, PairForm
from yiwang.party.models import PartyMember


def test_a_member_form_reads_the_dates_and_refuses_a_bad_one_by_name():
    data = pages.cleaned(MemberForm({"name": "李娟", "gender": "female", "birth_date": "1980-05-01"}))
    assert data["birth_date"] == dt.date(1980, 5, 1) and data["joined_on"] is None and data["phone"] == ""
    with pytest.raises(ValidationFailed) as refused:
        pages.cleaned(MemberForm({"name": "王某", "birth_date": "", "joined_on": "1999-02-30"}))
    assert refused.value.errors == {"birth_date": ["请填写有效日期(年-月-日)。"], "joined_on": ["请填写有效日期(年-月-日)。"]}


def test_a_pair_form_needs_the_member_and_the_resident_ids():
    assert pages.cleaned(PairForm({"member": "3", "resident": "4", "needs": "x"})) == {
        "member": 3, "resident": 4, "needs": "x"}
    with pytest.raises(ValidationFailed) as refused:
        pages.cleaned(PairForm({"member": "3", "resident": "x"}))
    assert refused.value.field == "resident" and "resident" in refused.value.message


def test_the_group_count_may_be_left_out_but_not_be_wrong():
    assert pages.cleaned(GroupCountForm({"groups": ""}))["groups"] is None
    assert pages.cleaned(GroupCountForm({"groups": "3"}))["groups"] == 3
    with pytest.raises(ValidationFailed) as refused:
        pages.cleaned(GroupCountForm({"groups": "abc"}))
    assert refused.value.field == "groups"


def test_the_edited_proposal_puts_each_member_in_the_group_given():
    post = {"name-0": "甲", "kind-0": "wealth", "name-1": "乙", "kind-1": "custom", "leader-1": "7",
            "member-7": "1", "member-8": "0", "member-9": ""}
    assert GroupsForm(post, n=2, member_ids=[7, 8, 9]).groups() == [
        {"name": "甲", "kind": "wealth", "members": [8], "leader": None},
        {"name": "乙", "kind": "custom", "members": [7], "leader": 7}]
    with pytest.raises(ValidationFailed) as refused:
        GroupsForm({**post, "member-8": "2"}, n=2, member_ids=[7, 8, 9]).groups()
    assert refused.value.field == "member-8" and "member-8：0 到 1" in refused.value.message


def test_a_steps_form_reads_the_version_and_what_the_step_needs():
    post = QueryDict(mutable=True)
    post.update({"version": "4", "kind": "job", "household_size": "", "monthly_income": "850.5"})
    post.setlist("materials", ["id_card", "income_proof"])
    data = pages.cleaned(STEP_FORMS["measure"](post))
    assert data["version"] == 4 and data["household_size"] is None and data["monthly_income"] == Decimal("850.5")
    assert data["materials"] == ["id_card", "income_proof"]
    with pytest.raises(ValidationFailed) as refused:
        pages.cleaned(STEP_FORMS["measure"]({"version": "4", "monthly_income": "八百"}))
    assert refused.value.errors == {"monthly_income": ["请填写数字。"]}
    photo = SimpleUploadedFile("p.jpg", b"")
    visit = pages.cleaned(STEP_FORMS["visit"]({"version": "1", "comment": "入户"}, {"photo": photo}))
    assert visit["photo"] is photo and visit["visited_on"] is None
    assert pages.cleaned(STEP_FORMS["visit"]({"version": "1"}))["photo"] is None
    with pytest.raises(ValidationFailed) as refused:
        pages.cleaned(STEP_FORMS["end"]({"result": "stable"}))
    assert refused.value.field == "version"


@pytest.mark.django_db
def test_a_bad_birth_date_on_the_branch_page_is_shown_beside_it(client, world, branch):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="secretary_cjc"))
    response = client.post("/party/KG-DZ-CJC-DZB/", {"form": "member", "name": "王某", "gender": "male",
                                                      "birth_date": "1980-13-01"})
    assert response.status_code == 200 and "请填写有效日期(年-月-日)。" in response.content.decode()
    assert not PartyMember.objects.filter(name="王某").exists()
