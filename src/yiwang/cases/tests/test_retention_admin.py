"""The retention sweep's log in the admin, read-only (docs/retention.md), and the seal's salt shown nowhere:
not in the staff API, the workbench, the CLI or the admin (the salt is what keeps a sealed digest from
confirming a guessed phone or ID number after erasure)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from yiwang.cases.chain import SALT
from yiwang.cases.models import Case, CaseEvent, RetentionRun
from yiwang.cases.services import case_act, case_create
from yiwang.core import clock
from yiwang.org.services import token_create
from yiwang.testing import SENIOR_OK

ID_NUMBER = "61040219500101123X"


@pytest.fixture
def run():
    now = clock.now()
    return RetentionRun.objects.create(
        started_at=now, finished_at=now, cases=3, files_deleted=1,
        counts={"reporter_contact": 2, "grid_household": 1},
        errors=[f"case 9 id_number: ValueError: bad {ID_NUMBER} <script>alert(1)</script> =1+1"])


def test_the_administrator_reads_the_runs_and_nobody_can_change_them(world, client, run):
    client.force_login(world.users["admin"])
    listing = client.get(reverse("admin:cases_retentionrun_changelist"))
    assert listing.status_code == 200 and "grid_household 1" in listing.content.decode()
    page = client.get(reverse("admin:cases_retentionrun_change", args=[run.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert ID_NUMBER not in page  # an error quoting an ID number shows it masked
    assert client.get(reverse("admin:cases_retentionrun_add")).status_code == 403
    assert client.post(reverse("admin:cases_retentionrun_delete", args=[run.pk]), {"post": "yes"}).status_code == 403
    client.post(reverse("admin:cases_retentionrun_change", args=[run.pk]), {"cases": 0})
    assert RetentionRun.objects.get(pk=run.pk).cases == 3


def test_a_resident_or_a_clerk_without_admin_rights_does_not_reach_it(world, run):
    for user in ("resident_wang", "clerk_xfl"):
        client = Client()
        client.force_login(world.users[user])
        answer = client.get(reverse("admin:cases_retentionrun_change", args=[run.pk]))
        assert answer.status_code in (302, 403), user


def sealed_case(world) -> Case:
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    for who, action, inputs in [("clerk_xfl", "accept", {}), ("handler_xfl", "decide", {"decision": "approved"}),
                                ("clerk_xfl", "close",
                                 {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
        case = Case.objects.get(pk=case.pk)
        case = case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **inputs)
    return case


def salts(case: Case) -> list[str]:
    found = [e.payload[SALT] for e in CaseEvent.objects.filter(case=case) if SALT in (e.payload or {})]
    assert found, "the close with a delivery is sealed"
    return found


def test_the_salt_of_a_sealed_value_is_in_no_staff_answer_or_page(world, client):
    case = sealed_case(world)
    secret = salts(case)
    api = Client()
    answer = api.get(f"/api/v1/cases/{case.number}", HTTP_AUTHORIZATION=f"Bearer {token_create(username='clerk_xfl')}")
    assert answer.status_code == 200
    body = answer.content.decode()
    assert "_salt" not in body and not any(s in body for s in secret)
    timeline = json.loads(body)["timeline"]
    assert any(e["payload"].get("delivery") for e in timeline)  # the sealed value itself is still shown
    # The resident's own answer and a neighbouring community's clerk (who cannot see the case at all).
    mine = api.get(f"/api/v1/cases/{case.number}", HTTP_AUTHORIZATION=f"Bearer {token_create(username='resident_wang')}")
    assert mine.status_code == 200 and "_salt" not in mine.content.decode()
    other = api.get(f"/api/v1/cases/{case.number}", HTTP_AUTHORIZATION=f"Bearer {token_create(username='clerk_spd')}")
    assert other.status_code == 404

    client.force_login(world.users["clerk_xfl"])
    page = client.get(f"/work/cases/{case.number}/").content.decode()
    assert not any(s in page for s in secret)

    client.force_login(world.users["admin"])
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    admin_page = client.get(reverse("admin:cases_caseevent_change", args=[event.pk])).content.decode()
    assert "_salt" not in admin_page and not any(s in admin_page for s in secret)

    out = io.StringIO()
    call_command("case", "show", case.number, "--as", "clerk_xfl", stdout=out)
    assert not any(s in out.getvalue() for s in secret)
    # The stored row keeps it: the hash is computed over it.
    assert salts(case) == secret
