"""No full ID number leaves the server: every list, detail, export and API answer, for every role.

Known ID numbers are planted where they can sit — a resident's registered number, a case's
description, a form field, a comment, a result, an evaluation's comment (and so a follow-up case) —
then every page, API read, export and admin page is fetched as each role, and no full number may
appear in any answer. The URLs come from the API's OpenAPI description, the admin's registry and a
list of the pages; a new GET endpoint is crawled without changing this file.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_act, case_create
from yiwang.catalog.services import matter_publish
from yiwang.core import idnumber
from yiwang.feedback.models import Evaluation
from yiwang.feedback.services import evaluation_create
from yiwang.grid import services as grid_services
from yiwang.testing import SENIOR_CARD_FORM, SENIOR_OK


def valid_id(first17: str) -> str:
    return first17 + idnumber.check_digit(first17)


REGISTERED = "61040219500101123X"  # 王大爷's, from the test world
IN_DESCRIPTION = valid_id("61040219800101001")
IN_FORM = valid_id("61040219900202002")
IN_COMMENT = valid_id("61040220000303003")
IN_RESULT = valid_id("61040219700404004")
IN_EVALUATION = valid_id("61040219600505005")
SECRETS = (REGISTERED, IN_DESCRIPTION, IN_FORM, IN_COMMENT, IN_RESULT, IN_EVALUATION)
PHONE = "13800000001"  # 王大爷's mobile: masked wherever it was masked before (API, exports, Open311)

# One account per role of the test world, and nobody logged in.
ROLES = ["clerk_xfl", "handler_xfl", "handler_dz", "handler_kg", "operator_kg", "operator_area", "handler_en",
         "leader_kg", "gridder_xfl", "secretary_cjc", "admin", "resident_wang", "resident_li", None]

PAGES = [
    "/", "/work/", "/work/?tab=closed", "/work/?tab=mine", "/work/notifications/", "/me/cases/", "/grid/",
    "/grid/KG-DZ-XFL-G1/", "/dashboard/", "/dashboard/cases/", "/dashboard/cases/?closed=1",
    "/dashboard/incidents/", "/command/", "/command/?tab=registered", "/command/?tab=handling", "/ledger/",
    "/party/", "/patrol/", "/parking/", "/parking/violations/", "/open311/v2/requests.json",
    "/open311/v2/requests.xml", "/dashboard/cases/export.xlsx", "/dashboard/cases/export.xlsx?closed=1",
    "/dashboard/export.xlsx",
]
PER_CASE = [
    "/work/cases/{number}/", "/cases/{number}/", "/lookup/?number={number}&phone=" + PHONE,
    "/open311/v2/requests/{number}.json", "/open311/v2/requests/{number}.xml", "/admin/cases/case/{pk}/change/",
]
# Path parameters of the API's GET operations, by the path they appear in; an operation needing
# another parameter reads a record of an app that holds no resident data (a patrol log, a ledger item).
API_PARAMS = {
    "/api/v1/matters/{code}": {"code": "SENIOR_CARD"},
    "/api/v1/grids/{code}": {"code": "KG-DZ-XFL-G1"},
    "/api/v1/party/branches/{code}": {"code": "KG-DZ-CJC-DZB"},
    "/api/v1/party/branches/{code}/grouping": {"code": "KG-DZ-CJC-DZB"},
}
# Answers where a phone number must be masked too (staff pages show the call-back number in full).
PHONE_MASKED = re.compile(r"^/(api/|open311/)|\.xlsx")


def ask_for_an_id_number(world) -> None:
    """老年证 asks for the agent's ID number (代办人身份证号), checked as GB 11643 says."""
    matter = world.matters["senior"]
    matter.form_schema = {**SENIOR_CARD_FORM, "properties": {
        **SENIOR_CARD_FORM["properties"], "agent_id": {"type": "string", "format": "id-number", "title": "代办人身份证号"}}}
    matter_publish(matter=matter)


@pytest.fixture
def planted(world):
    """Cases and basic data holding every secret, in every place a secret can sit."""
    wang = world.viewer("resident_wang")
    ask_for_an_id_number(world)
    application = case_create(
        viewer=wang, matter_code="SENIOR_CARD", description=f"代办：母亲身份证 {IN_DESCRIPTION}，请核对",
        form={**SENIOR_OK["form"], "agent_id": IN_FORM, "reason": f"本人身份证{IN_FORM}"},
        materials=SENIOR_OK["materials"]).case
    clerk, handler = world.viewer("clerk_xfl"), world.viewer("handler_xfl")
    application = case_act(viewer=clerk, case_id=application.pk, action="accept", version=application.version)
    application = case_act(viewer=handler, case_id=application.pk, action="decide", version=application.version,
                           decision="approved")
    application = case_act(viewer=clerk, case_id=application.pk, action="close", version=application.version,
                           result=f"已核验证件 {IN_RESULT}，准予办理")
    evaluation_create(viewer=wang, case_id=application.pk, rating=2, comment=f"身份证{IN_EVALUATION}被念出来了")
    waiting = case_create(viewer=wang, matter_code="SENIOR_CARD", description="再次申请",
                          form={**SENIOR_OK["form"], "agent_id": IN_FORM}, materials=SENIOR_OK["materials"]).case
    waiting = case_act(viewer=clerk, case_id=waiting.pk, action="accept", version=waiting.version)
    case_act(viewer=clerk, case_id=waiting.pk, action="request_supplement", version=waiting.version,
             comment=f"请补交身份证 {IN_COMMENT} 的复印件")
    report = case_create(viewer=wang, matter_code="INC_PARKING", lat=34.405, lng=108.705,
                         description=f"车堵门口，车主身份证 {IN_DESCRIPTION}", address=f"幸福里 {IN_COMMENT} 号").case
    household = grid_services.household_create(grid=world.regions["xfl_g1"], address="幸福里1号楼101", number="101")
    grid_services.household_member_set(household=household, resident=world.residents["wang"], relation="head")
    grid_services.resident_flags_set(resident=world.residents["wang"], elderly_alone=True)
    follow_up = Evaluation.objects.get(case=application).follow_up_case
    return [Case.objects.get(pk=c.pk) for c in (application, waiting, report, follow_up)]


def _text(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content[:4] == b"PK\x03\x04":  # an Excel workbook: every part of the archive
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return content.decode("utf-8", "replace")


def _api_urls(cases: list[Case]) -> list[str]:
    from yiwang.urls import api

    urls = []
    for path, operations in api.get_openapi_schema()["paths"].items():
        if "get" not in operations:
            continue
        if "{number}" in path:
            urls += [path.replace("{number}", c.number) for c in cases]
        elif "{" not in path:
            urls.append(path)
        elif path in API_PARAMS:
            urls.append(path.format(**API_PARAMS[path]))
    return urls


def _admin_urls(cases: list[Case]) -> list[str]:
    urls = [f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in admin.site._registry]
    from yiwang.org.models import Resident

    urls.append(f"/admin/org/resident/{Resident.objects.get(id_number=REGISTERED).pk}/change/")
    urls += [f"/admin/cases/caseevent/{e.pk}/change/" for e in CaseEvent.objects.filter(case__in=cases)]
    urls += [f"/admin/feedback/evaluation/{e.pk}/change/" for e in Evaluation.objects.all()]
    return urls


def all_urls(cases: list[Case]) -> list[str]:
    per_case = [u.format(number=c.number, pk=c.pk) for c in cases for u in PER_CASE]
    return PAGES + per_case + _api_urls(cases) + _admin_urls(cases)


@pytest.mark.parametrize("username", ROLES)
def test_no_full_id_number_in_any_answer(world, planted, username):
    client = Client()
    if username:
        client.force_login(world.users[username])
    urls = all_urls(planted)
    assert len(urls) > 80  # the crawl reaches pages, API reads, exports and the admin
    leaks, errors = [], []
    for url in urls:
        response = client.get(url)
        if response.status_code >= 500:
            errors.append(f"{url} → {response.status_code}")
            continue
        text = _text(response)
        leaks += [f"{url} shows {s}" for s in SECRETS if s in text or s.lower() in text]
        if PHONE_MASKED.search(url) and PHONE in text:
            leaks.append(f"{url} shows the mobile number")
    assert not errors and not leaks


def test_the_crawl_sees_the_planted_data_masked(world, planted, client):
    """The crawl above proves something only if the pages do show the cases: they show them masked."""
    application, _waiting, report, _follow_up = planted
    client.force_login(world.users["clerk_xfl"])
    panel = client.get(f"/work/cases/{application.number}/").content.decode()
    assert idnumber.mask(IN_DESCRIPTION) in panel and idnumber.mask(IN_FORM) in panel
    assert idnumber.mask(REGISTERED) in panel and idnumber.mask(IN_RESULT) in panel
    detail = client.get(f"/api/v1/cases/{application.number}").json()
    assert idnumber.mask(IN_DESCRIPTION) in detail["description"]
    assert [f["field"] for f in detail["id_fields"]] == ["applicant", "description", "form.reason", "form.agent_id"]
    client.force_login(world.users["gridder_xfl"])
    assert idnumber.mask(REGISTERED) in client.get("/grid/KG-DZ-XFL-G1/").content.decode()
    public = client.get(f"/open311/v2/requests/{report.number}.json").json()[0]
    assert idnumber.mask(IN_DESCRIPTION) in public["description"]


def test_the_cli_shows_case_text_masked(world, planted):
    out = io.StringIO()
    for case in planted[:2]:
        call_command("case", "show", case.number, "--as", "clerk_xfl", stdout=out)
    call_command("case", "list", "--as", "clerk_xfl", stdout=out)
    text = out.getvalue()
    assert planted[0].number in text and idnumber.mask(IN_RESULT) in text
    assert not [s for s in SECRETS if s in text]


def test_an_invalid_id_number_in_a_form_is_a_field_error_that_does_not_echo_it(api, world):
    ask_for_an_id_number(world)
    wrong = IN_FORM[:-1] + ("0" if IN_FORM[-1] != "0" else "1")
    response = api("post", "/cases", "resident_wang", {
        "matter_code": "SENIOR_CARD", "form": {**SENIOR_OK["form"], "agent_id": wrong},
        "materials": SENIOR_OK["materials"]})
    assert response.status_code == 422
    body = response.json()
    assert list(body["errors"]) == ["form.agent_id"] and wrong not in json.dumps(body, ensure_ascii=False)
    ok = api("post", "/cases", "resident_wang", {
        "matter_code": "SENIOR_CARD", "form": {**SENIOR_OK["form"], "agent_id": IN_FORM.lower()},
        "materials": SENIOR_OK["materials"]})
    assert ok.status_code == 201


def test_a_form_field_of_an_unknown_format_is_refused_when_the_matter_is_saved(world):
    from yiwang.core.errors import ValidationFailed

    matter = world.matters["senior"]
    matter.form_schema = {"type": "object", "properties": {"agent_id": {"type": "string", "format": "id_number"}}}
    with pytest.raises(ValidationFailed) as caught:
        matter_publish(matter=matter)
    assert caught.value.field == "form_schema"
