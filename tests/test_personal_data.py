"""No full ID number leaves the server: every list, detail, export and API answer, for every role.

Known ID numbers are planted where they can sit — a resident's registered number, a case's title,
description, a form field, a comment, a result, an evaluation's comment (and so a follow-up case),
and the free text staff type into ledger, party, patrol and parking records, both 18-digit numbers
and first-generation 15-digit ones — then every page, API read, export and admin page is fetched as
each role, and no full number may appear in any answer. The URLs come from the API's OpenAPI
description, the admin's registry and a list of the pages; a new API read is crawled without
changing this file (or fails here until its path parameter is given a value), and a new page fails
``test_every_page_is_crawled`` until it is added to the list.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

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
IN_TITLE = valid_id("61040219850606006")
OLD_IN_TITLE = "610402750808123"  # first generation: 15 digits, born 1975-08-08, no check digit
IN_RECORD = valid_id("61040219950707007")
OLD_IN_RECORD = "610402660909456"  # first generation, born 1966-09-09
IN_NAME = valid_id("61010419500101123")  # typed into a name field by a clerk (代办): "王6101041950…"
IN_ADDRESS = valid_id("61010419450202234")
SECRETS = (REGISTERED, IN_DESCRIPTION, IN_FORM, IN_COMMENT, IN_RESULT, IN_EVALUATION, IN_TITLE, OLD_IN_TITLE,
           IN_RECORD, OLD_IN_RECORD, IN_NAME, IN_ADDRESS)
TITLE = f"门口堵车，车主身份证{IN_TITLE}，旧证{OLD_IN_TITLE}"
# What staff type into a record's free text (a ledger item, a pair's needs, a finding, an appeal).
TYPED = f"身份证 {IN_RECORD}，旧证 {OLD_IN_RECORD}"
MASKED = (idnumber.mask(IN_RECORD), idnumber.mask(OLD_IN_RECORD))
PHONE = "13800000001"  # 王大爷's mobile: masked wherever it was masked before (API, exports, Open311)

# One account per role of the test world, and nobody logged in.
ROLES = ["clerk_xfl", "handler_xfl", "handler_dz", "handler_kg", "operator_kg", "operator_area", "handler_en",
         "leader_kg", "gridder_xfl", "secretary_cjc", "admin", "resident_wang", "resident_li", None]

PAGES = [
    "/maps/outlines.json", "/", "/work/", "/work/?tab=closed", "/work/?tab=mine", "/work/notifications/", "/work/faq/", "/work/search-misses/", "/work/preferences/", "/me/cases/", "/me/messages/", "/me/close/", "/grid/",
    "/grid/KG-DZ-XFL-G1/", "/dashboard/", "/dashboard/cases/", "/dashboard/cases/?closed=1",
    "/dashboard/incidents/", "/command/", "/command/?tab=registered", "/command/?tab=handling", "/ledger/",
    "/party/", "/patrol/", "/parking/", "/parking/violations/", "/open311/v2/requests.json",
    "/open311/v2/requests.xml", "/dashboard/cases/export.xlsx", "/dashboard/cases/export.xlsx?closed=1",
    "/dashboard/export.xlsx", "/checkpoints/",
    "/open/", "/open/?region=KG-DZ-XFL", "/open/?unit=KG-DZ-XFL-SH", "/open/map/",  # public (docs/public-figures.md)
    "/healthz", "/metrics",  # for machines (docs/operations.md): counts and ages only
]
PER_CASE = [
    "/work/cases/{number}/", "/cases/{number}/", "/lookup/?number={number}&phone=" + PHONE,
    "/open311/v2/requests/{number}.json", "/open311/v2/requests/{number}.xml", "/admin/cases/case/{pk}/change/",
    "/receipts/check/?number={number}&hash=" + "0" * 64,
]
# The pages of the records staff type text into, and the pages that show no record but are pages.
PER_RECORD = [
    "/ledger/topics/", "/ledger/topics/counts/", "/ledger/topics/new/", "/ledger/batches/new/",
    "/ledger/topics/{topic}/", "/ledger/batches/{batch}/", "/ledger/lists/{plist}/", "/ledger/items/{item}/",
    "/ledger/items/{topic_item}/", "/ledger/batches/{batch}/ledger.xlsx", "/ledger/batches/{batch}/ledger.pdf",
    "/ledger/lists/{plist}/ledger.xlsx", "/ledger/lists/{plist}/ledger.pdf",
    "/party/{branch}/", "/party/{branch}/grouping/", "/party/pairs/{pair}/",
    "/patrol/me/", "/patrol/check-in/", "/patrol/teams/{team}/", "/patrol/logs/{log}/", "/patrol/logs/{check_in}/",
    "/parking/violations/{violation}/", "/parking/hotspots/",
    "/matters/SENIOR_CARD/", "/matters/SENIOR_CARD/apply/", "/report/", "/halls/", "/login/", "/login/code/", "/signup/",
    "/open311/v2/discovery.json", "/open311/v2/services.json", "/open311/v2/services/INC_PARKING.json",
    "/two-factor/", "/two-factor/verify/", "/two-factor/recovery/",  # staff second factor (the suite runs with YIWANG_STAFF_2FA=off)
    "/checkpoints/{checkpoint}.json",  # every case's number and hash, signed (docs/checkpoints.md)
]
# Page routes the crawl does not fetch, and why. A GET on the POST-only ones must answer 405, so one
# that starts answering GET has to join the crawl (test_every_page_is_crawled).
POST_ONLY = {
    "grid:reveal_id", "command:dispatch", "command:dispatch_bulk", "command:merge", "patrol:team_generate",
    "patrol:shift_start", "patrol:log_check_in", "patrol:log_finish", "patrol:finding_create",
    "patrol:check_in_finish", "ledger:visit_item", "ledger:list_create", "ledger:batch_accept", "ledger:item_create",
    "ledger:item_report", "party:pair_step", "parking:gate", "parking:decide", "parking:pay", "parking:appeal",
    "parking:judge", "web:case_action", "web:work_case_act", "web:work_case_reveal_id", "web:logout",
    "set_language",  # the language switch: a POST that only sets a cookie and redirects
    "care",  # 长辈版 on or off: the same
    "web:work_case_public",  # the public map's moderation (its box shows on the crawled workbench case page)
}
NOT_CRAWLED = {
    "web:matter_document": "a guide's blank form or sample as uploaded (a .docx or .pdf), not text; none in the world",
    "web:faq_edit": "a FAQ draft's editing page: no draft in the world; catalog/tests/test_resident_catalogue.py "
                    "renders one holding an ID number and a phone and finds them masked and flagged",
    "readyz": "503 here, where no worker beats; tests/test_observability.py reads it with an ID number and a "
              "mobile number queued in the outbox and finds neither (counts and ages only)",
    "web:work_material": "a stored upload (a photo or a scan) as it was uploaded, not text",
    "open311:token": "a submission's token answers its request id only (open311/selectors.py)",
    "web:case_photo": "an incident's photo, re-encoded pixels only (cases.attachments.photos_store), not text",
    "web:case_answer_photo": "the same photo reached from the SMS link, not text",
    "web:lookup_photo": "the same photo reached from /lookup/, not text",
    "web:case_answer": "needs the SMS link's signed token: tests/test_pages_incident_evidence.py renders it with an "
                       "ID number in the title, the description and the result, and finds each masked",
}
# Path parameters of the API's GET operations, by name; a path with a parameter not here fails the
# crawl (so a new read is crawled, not skipped). Values in braces are the planted records' ids.
API_PARAMS = {
    "code": "SENIOR_CARD", "topic_id": "{topic}", "batch_id": "{batch}", "item_id": "{item}", "pair_id": "{pair}",
    "log_id": "{log}", "violation_id": "{violation}", "team_id": "{team}", "checkpoint_number": "{checkpoint}",
}
API_CODES = {  # {code} names a matter, a grid or a party branch
    "/api/v1/grids/{code}": "KG-DZ-XFL-G1", "/api/v1/party/branches/{code}": "{branch}",
    "/api/v1/party/branches/{code}/grouping": "{branch}",
}
API_QUERIES = {  # reads that also need a query
    "/api/v1/patrol/teams/{team_id}/shifts": "?start={today}&end={today}",
    "/api/v1/patrol/teams/{team_id}/shifts/generate": "?start={tomorrow}&end={tomorrow}",
}
# Answers where a phone number must be masked too (staff pages show the call-back number in full).
PHONE_MASKED = re.compile(r"^/(api/|open311/)|\.xlsx")
# Pages outside this change's files that still show a case's title as typed, each with where to fix
# it. The crawl lets these through for numbers that sit in some case's title only (a ledger item's
# title is its problem's first line); test_the_known_leaks_are_still_there fails once one is fixed,
# so that its line here goes too.
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
                           result=f"已核验证件 {IN_RESULT}，准予办理", delivery={"method": "post", "tracking": "SF1234567890"})
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
    # A grid resident whose name and address were typed with an ID number in them (an import gone wrong).
    from yiwang.org.services import resident_create

    typed = resident_create(name=f"王{IN_NAME}", phone="13900000077", region=world.regions["xfl"],
                            address=f"幸福里{IN_ADDRESS}")
    grid_services.household_member_set(household=household, resident=typed, relation="spouse")
    grid_services.resident_flags_set(resident=typed, low_income=True)
    follow_up = Evaluation.objects.get(case=application).follow_up_case
    # A title typed by the reporter, on an open incident: on the dashboard, its map and the command board.
    titled = case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_PARKING", lat=34.406, lng=108.706,
                         title=TITLE, description="车堵门口", channel="grid").case
    # A clerk's 代办 with the applicant's ID number typed into the name and the address.
    named = case_create(viewer=clerk, matter_code="SENIOR_CARD", region_code="KG-DZ-XFL", channel="hall",
                        applicant_name=f"王{IN_NAME}", applicant_phone=PHONE, address=f"幸福里{IN_ADDRESS}",
                        form=SENIOR_OK["form"], materials=SENIOR_OK["materials"]).case
    return [Case.objects.get(pk=c.pk) for c in (application, waiting, report, follow_up, titled, named)]


@dataclass
class Records:
    """Records of the ledger, party, patrol and parking apps with TYPED in their free text."""

    ids: dict

    def url(self, template: str) -> str:
        return template.format(**self.ids)


@pytest.fixture
def records(world) -> Records:
    from yiwang.core import clock
    from yiwang.ledger import services as ledger
    from yiwang.org.services import resident_create, resident_update
    from yiwang.parking import services as parking
    from yiwang.party import services as party
    from yiwang.patrol import services as patrol
    from yiwang.patrol.selectors import tonight
    from yiwang.patrol.tests.conftest import make_team

    today = clock.today()
    leader, secretary = world.viewer("leader_kg"), world.viewer("secretary_cjc")
    topic = ledger.topic_create(viewer=leader, title=f"调研 {TYPED}", field="party", unit_code="KG-OF", problem=TYPED,
                                crux=TYPED, plan=TYPED, leader_username="leader_kg")
    visit = ledger.visit_log(viewer=leader, topic_id=topic.pk, visited_on=today, place=TYPED, people_met=TYPED,
                             findings=TYPED)
    topic_item = ledger.visit_item_open(viewer=leader, visit_id=visit.pk, problem=TYPED, measures=TYPED,
                                        unit_code="KG-DZ-CJC-DZB", due_at=today + dt.timedelta(days=60))
    batch = ledger.batch_create(viewer=leader, title=f"整改 {TYPED}", region_code="KG", supervisor_unit_code="KG-OF",
                                matter_code="RECT_GRASSROOTS")
    plist = ledger.problem_list_create(viewer=leader, batch_id=batch.pk, title=TYPED, region_code="KG-DZ-CJC")
    item = ledger.item_create(viewer=leader, problem_list_id=plist.pk, problem=TYPED, measures=TYPED,
                              unit_code="KG-DZ-CJC-DZB", due_at=today + dt.timedelta(days=60),
                              assignee_username="secretary_cjc", responsible_person=TYPED)

    branch = world.units["cjc_branch"]
    member = party.member_create(viewer=secretary, branch=branch, name="张保权", gender="male",
                                 birth_date=dt.date(1968, 3, 1), occupation=TYPED)
    party.grouping_save(viewer=secretary, branch=branch, groups=[
        {"name": OLD_IN_RECORD, "kind": "custom", "leader": member.pk, "members": [member.pk]}])
    poor = resident_update(resident=resident_create(name="困难户", phone="13900000009", region=world.regions["cjc"],
                                                    address=TYPED), poverty=True)
    pair = party.pair_create(viewer=secretary, branch=branch, member_id=member.pk, resident_id=poor.pk, needs=TYPED)

    def version() -> int:
        pair.case.refresh_from_db()
        return pair.case.version

    party.pair_measure_add(viewer=secretary, pair_id=pair.pk, version=version(), kind="job_info", description=TYPED)
    party.pair_income_record(viewer=secretary, pair_id=pair.pk, version=version(), year=today.year,
                             month=today.month, amount="1200", source="wages", note=TYPED)

    team, *_ = make_team(world, key="xfl", region=world.regions["xfl"], members=3)
    # Tonight's, which /patrol/me/ shows with its log: before noon that is yesterday's date.
    shift, *_ = patrol.shifts_generate(viewer=world.viewer("secretary_xfl"), team=team, start=tonight(),
                                       end=tonight(), seed=7)
    with clock.frozen_at(shift.starts_at):
        log = patrol.patrol_start(viewer=world.viewer("xfl_member1"), shift=shift, lat=34.405, lng=108.705)
        finding = patrol.finding_report(viewer=world.viewer("xfl_member1"), log=log, description=TYPED,
                                        category="INC_PARKING", lat=34.405, lng=108.705)
    gridder = world.viewer("gridder_xfl")
    check_in = patrol.patrol_start(viewer=gridder, lat=34.405, lng=108.705)
    patrol.finding_report(viewer=gridder, log=check_in, description=TYPED, category="INC_PARKING", lat=34.405,
                          lng=108.705)

    operator = world.viewer("operator_kg")
    parking.penalty_rule_create(viewer=world.viewer("admin"), name="违法停车罚款", decision="fine", amount="50")
    violation = parking.violation_record(viewer=operator, plate="陕A11111", source="patrol", lat=34.405,
                                         lng=108.705, address=TYPED, description=TYPED)
    case = violation.case
    case.refresh_from_db()
    if case.state == "reported":
        case = case_act(viewer=operator, case_id=case.pk, action="register", version=case.version)
    if case.state == "registered":  # recorded by the command centre, it may be dispatched already
        case_act(viewer=operator, case_id=case.pk, action="dispatch", version=case.version, unit_code="KG-DZ-EN")
    penalty = parking.penalty_decide(viewer=world.viewer("handler_en"), violation_id=violation.pk, note=TYPED)
    appeal = parking.appeal_file(viewer=leader, penalty_id=penalty.pk, reason=TYPED)
    from yiwang.records.services import checkpoint_create

    checkpoint = checkpoint_create()  # after every planted case: the signed file names them all
    return Records({"checkpoint": checkpoint.number, "finding": finding.pk, "appeal": appeal.pk, "topic": topic.pk, "visit": visit.pk, "topic_item": topic_item.pk, "batch": batch.pk,
                    "plist": plist.pk, "item": item.pk, "branch": branch.code, "pair": pair.pk, "team": team.pk,
                    "log": log.pk, "check_in": check_in.pk, "violation": violation.pk, "today": today,
                    "tomorrow": today + dt.timedelta(days=1)})


def _text(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content[:4] == b"PK\x03\x04":  # an Excel workbook: every part of the archive
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return content.decode("utf-8", "replace")


def _api_urls(cases: list[Case], records: Records) -> list[str]:
    from yiwang.urls import api

    urls = []
    for path, operations in api.get_openapi_schema()["paths"].items():
        if "get" not in operations:
            continue
        if "{number}" in path:
            urls += [path.replace("{number}", c.number) for c in cases]
            continue
        names = re.findall(r"\{(\w+)\}", path)
        unknown = [n for n in names if n not in API_PARAMS]
        assert not unknown, f"{path}: give {unknown} a value in API_PARAMS so the crawl reads it"
        values = {n: API_PARAMS[n] for n in names} | ({"code": API_CODES[path]} if path in API_CODES else {})
        url = path.format(**{n: records.url(v) for n, v in values.items()})
        urls.append(url + records.url(API_QUERIES.get(path, "")))
    return urls


def _admin_urls(cases: list[Case], records: Records) -> list[str]:
    urls = [f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in admin.site._registry]
    from yiwang.org.models import Resident

    urls.append(f"/admin/org/resident/{Resident.objects.get(id_number=REGISTERED).pk}/change/")
    urls += [f"/admin/cases/caseevent/{e.pk}/change/" for e in CaseEvent.objects.filter(case__in=cases)]
    urls += [f"/admin/feedback/evaluation/{e.pk}/change/" for e in Evaluation.objects.all()]
    urls += [records.url(u) for u in ("/admin/patrol/finding/{finding}/change/",
                                      "/admin/parking/violation/{violation}/change/",
                                      "/admin/parking/appeal/{appeal}/change/")]
    return urls


def all_urls(cases: list[Case], records: Records) -> list[str]:
    per_case = [u.format(number=c.number, pk=c.pk) for c in cases for u in PER_CASE]
    per_record = [records.url(u) for u in PER_RECORD]
    return PAGES + per_case + per_record + _api_urls(cases, records) + _admin_urls(cases, records)


@pytest.mark.parametrize("username", ROLES)
def test_no_full_id_number_in_any_answer(world, planted, records, username):
    client = Client()
    if username:
        client.force_login(world.users[username])
    urls = all_urls(planted, records)
    assert len(urls) > 150  # the crawl reaches pages, API reads, exports and the admin
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
    application, _waiting, report, _follow_up, _titled, named = planted
    client.force_login(world.users["clerk_xfl"])
    for url in ("/work/", f"/work/cases/{named.number}/", f"/api/v1/cases/{named.number}", "/api/v1/cases"):
        assert "王" + idnumber.mask(IN_NAME) in client.get(url).content.decode("unicode_escape" if "api" in url
                                                                                else "utf-8"), url
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


def _shows(text: str, masked: tuple[str, ...]) -> bool:
    # A page escapes nothing in a masked number; JSON may escape nothing either: plain containment.
    return all(m in text for m in masked)


def test_a_case_title_shows_masked_on_the_dashboard_and_the_command_board(world, planted, client):
    titled = planted[4]
    masked = (idnumber.mask(IN_TITLE), idnumber.mask(OLD_IN_TITLE))
    assert idnumber.mask(OLD_IN_TITLE) == "6104*********23"
    client.force_login(world.users["leader_kg"])
    # The town's map draws each open incident with its title (a new city's counts them per community).
    for url in ("/dashboard/?region=KG-DZ", "/dashboard/cases/", "/dashboard/cases/?open=1"):
        page = client.get(url).content.decode()
        assert titled.number in page and _shows(page, masked), url
    client.force_login(world.users["operator_kg"])
    board = client.get("/command/").content.decode()
    assert titled.number in board and board.count(masked[0]) == 2 and board.count(masked[1]) == 2  # table and map
    answer = client.get("/api/v1/command/board").json()
    assert [c["title"] for c in answer["cases"] if c["number"] == titled.number] == [
        f"门口堵车，车主身份证{masked[0]}，旧证{masked[1]}"]


def test_typed_text_of_ledger_party_patrol_and_parking_shows_masked(world, records, client):
    """Each app's pages and API answers show the planted text, masked (the crawl proves it shows no
    more; this proves it shows the records at all)."""
    pages = {
        "leader_kg": ["/ledger/", "/ledger/topics/", "/ledger/topics/{topic}/", "/ledger/batches/{batch}/",
                      "/ledger/items/{item}/", "/parking/violations/", "/parking/violations/{violation}/"],
        "secretary_cjc": ["/party/{branch}/", "/party/pairs/{pair}/"],
        "xfl_member1": ["/patrol/me/", "/patrol/logs/{log}/"],
        "gridder_xfl": ["/patrol/logs/{check_in}/"],
    }
    reads = {
        "leader_kg": ["/api/v1/ledger/topics/{topic}", "/api/v1/ledger/topics/{topic}/visits",
                      "/api/v1/ledger/batches/{batch}", "/api/v1/ledger/batches/{batch}/lists",
                      "/api/v1/ledger/items/{item}", "/api/v1/parking/violations/{violation}"],
        "secretary_cjc": ["/api/v1/party/branches/{branch}", "/api/v1/party/pairs/{pair}"],
        "xfl_member1": ["/api/v1/patrol/logs/{log}"],
    }
    for username, urls in pages.items():
        client.force_login(world.users[username])
        for url in urls:
            response = client.get(records.url(url))
            assert response.status_code == 200 and _shows(response.content.decode(), MASKED), url
    for username, urls in reads.items():
        client.force_login(world.users[username])
        for url in urls:
            response = client.get(records.url(url))
            assert response.status_code == 200 and _shows(json.dumps(response.json(), ensure_ascii=False), MASKED), url


def _page_routes(patterns=None, namespace: str = "") -> list[str]:
    """The URL names of every page (the admin, the API and the language switch aside)."""
    names = []
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            if str(p.pattern) not in ("admin/", "api/v1/", "i18n/"):
                names += _page_routes(p.url_patterns, p.namespace or namespace)
        elif isinstance(p, URLPattern) and p.name:
            names.append(f"{namespace}:{p.name}" if namespace else p.name)
    return names


def test_every_page_is_crawled(world, planted, records):
    """A page added to the URL conf fails here until the crawl fetches it (or it is POST-only)."""
    crawled = {resolve(url.split("?")[0]).view_name for url in all_urls(planted, records)
               if not url.startswith(("/api/", "/admin/"))}
    routes = set(_page_routes())
    assert routes - crawled - POST_ONLY - set(NOT_CRAWLED) == set()
    assert not (POST_ONLY | set(NOT_CRAWLED)) - routes  # no stale names
    client = Client()
    client.force_login(world.users["admin"])
    samples = {"grid:reveal_id": "/grid/KG-DZ-XFL-G1/residents/1/reveal-id/", "web:logout": "/logout/",
               "web:case_action": f"/cases/{planted[0].number}/action/",
               "web:work_case_act": f"/work/cases/{planted[0].number}/act/accept/",
               "web:work_case_reveal_id": f"/work/cases/{planted[0].number}/reveal-id/",
               "web:work_case_public": f"/work/cases/{planted[0].number}/public/",
               "set_language": "/i18n/setlang/", "care": "/care/"}
    for name in POST_ONLY:
        url = samples.get(name) or _sample(name, records)
        assert client.get(url).status_code == 405, name


def _sample(name: str, records: Records) -> str:
    """A URL of the POST-only route ``name``, its parameters taken from the planted records."""
    from django.urls import NoReverseMatch, reverse

    values = {"case_id": 1, "team_id": records.ids["team"], "shift_id": 1, "log_id": records.ids["log"],
              "visit_id": records.ids["visit"], "batch_id": records.ids["batch"], "list_id": records.ids["plist"],
              "item_id": records.ids["item"], "pair_id": records.ids["pair"], "step": "visit",
              "violation_id": records.ids["violation"]}
    for keys in ((), *[(k,) for k in values], ("pair_id", "step")):
        try:
            return reverse(name, kwargs={k: values[k] for k in keys})
        except NoReverseMatch:  # the route takes other parameters
            continue
    raise AssertionError(f"no sample URL for {name}")


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
