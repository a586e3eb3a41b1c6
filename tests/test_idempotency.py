"""Idempotency-Key on every unsafe API operation: a retry acts once and gets the first answer.

The route test walks the API's routers, so a new POST/PUT/PATCH/DELETE fails here until it has a
recipe below: a caller and a body that succeed, built the way the app's own API tests build them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from yiwang.api import api as ninja_api
from yiwang.cases import services as case_services
from yiwang.cases.models import Case
from yiwang.command.tests.conftest import report
from yiwang.core import clock, idempotency
from yiwang.core.models import IdempotencyRecord
from yiwang.grid.tests.conftest import RESIDENT_HEADER, csv_bytes, id_number, media  # noqa: F401
from yiwang.ledger import services as ledger_services
from yiwang.ledger.tests.conftest import accept_item, make_batch, make_item, make_list
from yiwang.org.services import token_create
from yiwang.parking.tests.conftest import now, parking  # noqa: F401 (fixtures the recipes ask for)
from yiwang.party import services as party_services
from yiwang.party.tests.conftest import branch, members, pair, poor  # noqa: F401
from yiwang.patrol import services as patrol_services
from yiwang.patrol.tests.conftest import IN_XFL_G1, frozen, patrol  # noqa: F401
from yiwang.testing import SENIOR_OK
from yiwang.urls import urlpatterns  # noqa: F401 (mounts every router on the API)

CASE = {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "applicant_name": "王大爷",
        "applicant_phone": "13800000001", "channel": "hall", **SENIOR_OK}
XFL_G1 = (34.405, 108.705)


class Caller:
    """The API as a client sees it: a token per user, JSON or a multipart form, an optional key."""

    def __init__(self, client):
        self.client = client
        self.tokens: dict[str, str] = {}

    def __call__(self, method: str, path: str, user: str | None, body=None, *, key: str | None = None,
                 form: dict | None = None):
        headers = {}
        if user:
            if user not in self.tokens:
                self.tokens[user] = token_create(username=user)
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.tokens[user]}"
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        send = getattr(self.client, method.lower())
        if form is not None:
            return send(f"/api/v1{path}", data=form, **headers)
        data = json.dumps(body) if body is not None else ""
        return send(f"/api/v1{path}", data=data, content_type="application/json", **headers)


@pytest.fixture
def call(client, world):
    return Caller(client)


# --- the routes ---------------------------------------------------------------------------------


def unsafe_routes() -> list[tuple[str, str]]:
    routes = []
    for bound in ninja_api._get_bound_routers():
        for path, view in bound.path_operations.items():
            for operation in view.operations:
                for method in operation.methods:
                    if method in idempotency.UNSAFE_METHODS and operation.auth_callbacks:
                        routes.append((method, re.sub("/+", "/", f"/{bound.prefix}/{path}")))
    return sorted(set(routes))


@dataclass
class Call:
    user: str
    path: str
    body: dict | None = None
    form: Callable[[], dict] | None = None  # a multipart form, built anew for every send (files are read once)


@dataclass
class Ctx:
    world: object
    call: Caller
    fixture: Callable[[str], object]


RECIPES: dict[tuple[str, str], Callable[[Ctx], Call]] = {}


def recipe(method: str, path: str):
    def register(fn):
        RECIPES[(method, path)] = fn
        return fn
    return register


def _case(ctx: Ctx, **kw) -> Case:
    fields = {k: v for k, v in CASE.items() if k != "channel"} | kw
    return case_services.case_create(viewer=ctx.world.viewer("clerk_xfl"), channel="hall", **fields).case


def _act(ctx: Ctx, who: str, case: Case, action: str, **kw) -> Case:
    case.refresh_from_db()
    return case_services.case_act(viewer=ctx.world.viewer(who), case_id=case.pk, action=action, version=case.version,
                                  **kw)


@recipe("DELETE", "/session")
def _logout(ctx):
    return Call("clerk_xfl", "/session")


@recipe("POST", "/cases")
def _case_create(ctx):
    return Call("clerk_xfl", "/cases", CASE)


@recipe("POST", "/cases/{number}/actions/{action}")
def _case_act(ctx):
    return Call("clerk_xfl", f"/cases/{_case(ctx).number}/actions/accept", {"version": 1})


@recipe("POST", "/cases/{number}/evaluation")
def _rate(ctx):
    case = _case(ctx, applicant=ctx.world.residents["wang"])
    _act(ctx, "clerk_xfl", case, "accept")
    _act(ctx, "handler_xfl", case, "decide", decision="approved")
    _act(ctx, "handler_xfl", case, "close", delivery={"method": "post", "tracking": "SF1234567890"})
    return Call("resident_wang", f"/cases/{case.number}/evaluation", {"rating": 5, "comment": "很方便"})


@recipe("POST", "/cases/{number}/reveal-id")
def _reveal_id(ctx):
    case = _case(ctx, description=f"申请人身份证号 {id_number(7)}")
    return Call("clerk_xfl", f"/cases/{case.number}/reveal-id", {"field": "description", "reason": "核对申请人身份"})


@recipe("POST", "/uploads")
def _upload(ctx):
    ctx.fixture("media")
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    return Call("resident_wang", "/uploads", form=lambda: {"file": SimpleUploadedFile("id.png", png)})


@recipe("POST", "/grids/imports")
def _grid_import(ctx):
    rows = [RESIDENT_HEADER, ["KG-DZ-XFL-G1", "101", "幸福里1号楼101", "张三", id_number(1), "13900000001", "户主",
                              "否", "是", ""]]
    return Call("gridder_xfl", "/grids/imports",
                form=lambda: {"kind": "residents", "file": SimpleUploadedFile("r.csv", csv_bytes(rows))})


@recipe("POST", "/cameras/{code}/alerts")
def _camera_alert(ctx):
    from yiwang.grid.services import camera_create

    ctx.fixture("media")
    camera_create(code="CAM-XFL-1", name="幸福里东门探头", lat=34.405, lng=108.705, owner_unit=ctx.world.units["kg_cc"])
    return Call("operator_kg", "/cameras/CAM-XFL-1/alerts",
                {"alert_id": "a-1", "category": "INC_PARKING", "occurred_at": "2025-03-01T08:30:00+08:00"})


@recipe("POST", "/command/dispatch")
def _dispatch(ctx):
    case = report(ctx.world)
    return Call("operator_kg", "/command/dispatch", {"cases": [{"id": case.pk, "version": case.version}]})


@recipe("POST", "/dispatch/suggest")
def _suggest(ctx):
    return Call("operator_kg", "/dispatch/suggest", {"text": "路口乱停车，占用消防通道"})


@recipe("POST", "/patrol/teams/{team_id}/shifts/generate")
def _shifts(ctx):
    ctx.fixture("frozen")
    team = ctx.fixture("patrol").team
    return Call("secretary_xfl", f"/patrol/teams/{team.pk}/shifts/generate",
                {"start": "2026-06-01", "end": "2026-06-07", "seed": 5})


def _grid_patrol(ctx):
    ctx.fixture("frozen")
    return patrol_services.patrol_start(viewer=ctx.world.viewer("gridder_xfl"), lat=IN_XFL_G1[0], lng=IN_XFL_G1[1])


@recipe("POST", "/patrol/logs")
def _patrol_start(ctx):
    ctx.fixture("frozen")
    return Call("gridder_xfl", "/patrol/logs", {"lat": IN_XFL_G1[0], "lng": IN_XFL_G1[1]})


@recipe("POST", "/patrol/logs/{log_id}/check-ins")
def _check_in(ctx):
    return Call("gridder_xfl", f"/patrol/logs/{_grid_patrol(ctx).pk}/check-ins", {"lat": 34.406, "lng": 108.706})


@recipe("POST", "/patrol/logs/{log_id}/finish")
def _patrol_finish(ctx):
    return Call("gridder_xfl", f"/patrol/logs/{_grid_patrol(ctx).pk}/finish")


@recipe("POST", "/patrol/logs/{log_id}/findings")
def _finding(ctx):
    return Call("gridder_xfl", f"/patrol/logs/{_grid_patrol(ctx).pk}/findings",
                {"description": "可疑人员", "category": "INC_THEFT", "lat": IN_XFL_G1[0], "lng": IN_XFL_G1[1]})


TOPIC = {"title": "停车管理职能空白", "field": "urban", "unit_code": "KG-OF", "problem": "乱停车", "crux": "职能空白",
         "plan": "建立管理体系"}


def _topic(ctx):
    return ledger_services.topic_create(viewer=ctx.world.viewer("leader_kg"), **TOPIC)


def _due(days=30) -> str:
    return (clock.today() + dt.timedelta(days=days)).isoformat()


@recipe("POST", "/ledger/topics")
def _topic_create(ctx):
    return Call("leader_kg", "/ledger/topics", TOPIC)


@recipe("POST", "/ledger/topics/{topic_id}/visits")
def _visit(ctx):
    return Call("leader_kg", f"/ledger/topics/{_topic(ctx).pk}/visits",
                {"visited_on": clock.today().isoformat(), "place": "幸福里小学", "findings": "校门口拥堵"})


@recipe("POST", "/ledger/visits/{visit_id}/items")
def _visit_item(ctx):
    visit = ledger_services.visit_log(viewer=ctx.world.viewer("leader_kg"), topic_id=_topic(ctx).pk,
                                      visited_on=clock.today(), place="幸福里小学", findings="校门口拥堵")
    return Call("leader_kg", f"/ledger/visits/{visit.pk}/items",
                {"problem": "校门口拥堵", "measures": "施划泊位", "unit_code": "KG-DZ-EN", "due_on": _due(10),
                 "immediate": True})


@recipe("POST", "/ledger/batches")
def _batch(ctx):
    return Call("leader_kg", "/ledger/batches", {"title": "第一批", "region_code": "KG", "supervisor_unit_code": "KG-OF",
                                                 "matter_code": "RECT_GRASSROOTS"})


@recipe("POST", "/ledger/batches/{batch_id}/accept")
def _batch_accept(ctx):
    batch = make_batch(ctx.world)
    accept_item(ctx.world, make_item(ctx.world, make_list(ctx.world, batch)))
    return Call("leader_kg", f"/ledger/batches/{batch.pk}/accept", {"note": "合格"})


@recipe("POST", "/ledger/batches/{batch_id}/lists")
def _list(ctx):
    return Call("leader_kg", f"/ledger/batches/{make_batch(ctx.world).pk}/lists",
                {"title": "程家村", "region_code": "KG-DZ-CJC"})


@recipe("POST", "/ledger/lists/{list_id}/items")
def _item(ctx):
    plist = make_list(ctx.world, make_batch(ctx.world))
    return Call("leader_kg", f"/ledger/lists/{plist.pk}/items",
                {"problem": "组织生活不规范", "measures": "建立台账", "unit_code": "KG-DZ-CJC-DZB", "due_on": _due(),
                 "assignee": "secretary_cjc"})


BRANCH = "/party/branches/KG-DZ-CJC-DZB"


@recipe("POST", "/party/branches/{code}/members")
def _member(ctx):
    return Call("secretary_cjc", f"{BRANCH}/members",
                {"name": "李娟", "gender": "female", "birth_date": "1990-06-01", "experience": ["电商"]})


@recipe("PATCH", "/party/members/{member_id}")
def _member_update(ctx):
    return Call("secretary_cjc", f"/party/members/{ctx.fixture('members')[1].id}", {"occupation": "电商主播"})


@recipe("POST", "/party/members/{member_id}/deactivate")
def _member_deactivate(ctx):
    return Call("secretary_cjc", f"/party/members/{ctx.fixture('members')[1].id}/deactivate")


@recipe("PUT", "/party/branches/{code}/groups")
def _groups(ctx):
    ctx.fixture("members")
    groups = ctx.call("get", f"{BRANCH}/grouping?groups=3", "secretary_cjc").json()
    return Call("secretary_cjc", f"{BRANCH}/groups", {"groups": groups})


@recipe("POST", "/party/branches/{code}/pairs")
def _pair_create(ctx):
    return Call("secretary_cjc", f"{BRANCH}/pairs", {"member_id": ctx.fixture("members")[0].id,
                                                     "resident_id": ctx.fixture("poor").id, "needs": "缺少收入来源"})


def _pair(ctx, *steps: str):
    """The pair of the party fixtures, walked through ``steps`` by the secretary."""
    assisted = ctx.fixture("pair")
    secretary = ctx.world.viewer("secretary_cjc")
    last = clock.today().replace(day=1) - dt.timedelta(days=1)
    for step in steps:
        assisted.case.refresh_from_db()
        common = {"viewer": secretary, "pair_id": assisted.id, "version": assisted.case.version}
        if step == "income":
            party_services.pair_income_record(**common, year=last.year, month=last.month, amount="9000",
                                              source="land_transfer")
        elif step == "exit":
            party_services.pair_declare_exit(**common, comment="达标")
        elif step == "visit":
            party_services.pair_visit(**common, comment="回访：收入稳定")
    assisted.case.refresh_from_db()
    return assisted


@recipe("POST", "/party/pairs/{pair_id}/visits")
def _pair_visit(ctx):
    assisted = _pair(ctx)
    return Call("secretary_cjc", f"/party/pairs/{assisted.id}/visits", {"version": assisted.case.version, "comment": "入户走访"})


@recipe("POST", "/party/pairs/{pair_id}/measures")
def _pair_measure(ctx):
    assisted = _pair(ctx)
    return Call("secretary_cjc", f"/party/pairs/{assisted.id}/measures", {
        "version": assisted.case.version, "kind": "subsistence", "description": "代为申请低保", "household_size": 3,
        "monthly_income": "900", "materials": ["id_card", "income"]})


@recipe("POST", "/party/pairs/{pair_id}/incomes")
def _pair_income(ctx):
    assisted = _pair(ctx)
    last = clock.today().replace(day=1) - dt.timedelta(days=1)
    return Call("secretary_cjc", f"/party/pairs/{assisted.id}/incomes", {
        "version": assisted.case.version, "year": last.year, "month": last.month, "amount": "3200.50",
        "source": "land_transfer"})


@recipe("POST", "/party/pairs/{pair_id}/exit")
def _pair_exit(ctx):
    assisted = _pair(ctx, "income")
    return Call("secretary_cjc", f"/party/pairs/{assisted.id}/exit", {"version": assisted.case.version, "comment": "达标"})


@recipe("POST", "/party/pairs/{pair_id}/relapse")
def _pair_relapse(ctx):
    assisted = _pair(ctx, "income", "exit")
    return Call("secretary_cjc", f"/party/pairs/{assisted.id}/relapse", {"version": assisted.case.version, "comment": "因病返贫"})


@recipe("POST", "/party/pairs/{pair_id}/end-monitoring")
def _pair_end(ctx):
    assisted = _pair(ctx, "income", "exit", "visit")
    return Call("secretary_cjc", f"/party/pairs/{assisted.id}/end-monitoring",
                {"version": assisted.case.version, "result": "监测期满，稳定脱贫"})


def _parking(ctx):
    ctx.fixture("parking")


def _violation(ctx) -> int:
    _parking(ctx)
    return ctx.call("post", "/parking/violations", "operator_kg",
                    {"plate": "陕A12345", "lat": XFL_G1[0], "lng": XFL_G1[1], "source": "camera"}).json()["id"]


def _penalty(ctx) -> int:
    return ctx.call("post", f"/parking/violations/{_violation(ctx)}/penalty", "handler_en",
                    {"note": "驾驶人不在现场"}).json()["id"]


@recipe("POST", "/parking/sessions/entry")
def _entry(ctx):
    _parking(ctx)
    return Call("operator_kg", "/parking/sessions/entry", {"zone": "XFL-P1", "plate": "陕A12345"})


@recipe("POST", "/parking/sessions/exit")
def _exit(ctx):
    _parking(ctx)
    ctx.call("post", "/parking/sessions/entry", "operator_kg", {"zone": "XFL-P1", "plate": "陕A12345",
                                                                "at": (clock.now() - dt.timedelta(hours=3)).isoformat()})
    return Call("operator_kg", "/parking/sessions/exit", {"zone": "XFL-P1", "plate": "陕A12345"})


@recipe("POST", "/parking/violations")
def _violation_create(ctx):
    _parking(ctx)
    return Call("operator_kg", "/parking/violations", {"plate": "陕A12345", "lat": XFL_G1[0], "lng": XFL_G1[1],
                                                       "source": "camera"})


@recipe("POST", "/parking/violations/{violation_id}/penalty")
def _penalty_decide(ctx):
    return Call("handler_en", f"/parking/violations/{_violation(ctx)}/penalty", {"note": "驾驶人不在现场"})


@recipe("POST", "/parking/penalties/{penalty_id}/payment")
def _pay(ctx):
    return Call("handler_en", f"/parking/penalties/{_penalty(ctx)}/payment", {"reference": "ZF-1"})


@recipe("POST", "/parking/penalties/{penalty_id}/appeal")
def _appeal(ctx):
    return Call("handler_en", f"/parking/penalties/{_penalty(ctx)}/appeal", {"reason": "送孩子上学临时停靠"})


@recipe("POST", "/parking/appeals/{appeal_id}/decision")
def _appeal_decide(ctx):
    appeal = ctx.call("post", f"/parking/penalties/{_penalty(ctx)}/appeal", "handler_en", {"reason": "临时停靠"}).json()
    return Call("leader_kg", f"/parking/appeals/{appeal['id']}/decision", {"outcome": "upheld", "note": "证据确凿"})


def send(ctx: Ctx, method: str, call: Call, *, key: str | None, other: bool = False):
    """Send ``call``; ``other`` makes it another request (an extra field, or for no body a query)."""
    path, body = call.path, call.body
    if call.form is not None:
        form = call.form() | ({"other": "1"} if other else {})
        return ctx.call(method, path, call.user, key=key, form=form)
    if other:
        if body is None:
            path += "?other=1"
        else:
            body = body | {"other": 1}
    return ctx.call(method, path, call.user, body, key=key)


def row_counts() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.managed}


def writes(queries) -> list[str]:
    """The statements that change a table, but for the replay's own try at the key (refused, rolled back)."""
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
            and not q["sql"].lstrip().upper().startswith('INSERT INTO "CORE_IDEMPOTENCYRECORD"')]


ROUTES = unsafe_routes()


def test_the_walk_finds_the_api_s_unsafe_routes():
    assert ("POST", "/cases") in ROUTES and ("PATCH", "/party/members/{member_id}") in ROUTES
    assert ("POST", "/session") not in ROUTES  # logging in: nobody to scope a key to


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_unsafe_route_acts_once_per_key_and_replays_its_first_answer(route, call, world, request):
    assert route in RECIPES, f"{route[0]} {route[1]} has no recipe in tests/test_idempotency.py: add one"
    ctx = Ctx(world=world, call=call, fixture=request.getfixturevalue)
    method = route[0]
    recipe_call = RECIPES[route](ctx)
    first = send(ctx, method, recipe_call, key="retry-1")
    assert 200 <= first.status_code < 300, first.content
    assert not first.has_header(idempotency.REPLAYED_HEADER)
    before = row_counts()
    with CaptureQueriesContext(connection) as queries:
        again = send(ctx, method, recipe_call, key="retry-1")
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again[idempotency.REPLAYED_HEADER] == "true" and again["Content-Type"] == first["Content-Type"]
    assert writes(queries) == [] and row_counts() == before
    other = send(ctx, method, recipe_call, key="retry-1", other=True)
    assert other.status_code == 422, other.content
    assert other.json()["code"] == "idempotency_key_reused" and "Idempotency-Key" in other.json()["errors"]
    assert row_counts() == before


# --- the key, the scope, what is kept -----------------------------------------------------------


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ", "tab\there"])
def test_a_malformed_key_is_a_400_naming_the_header_and_acts_not(call, key):
    response = call("post", "/cases", "clerk_xfl", CASE, key=key)
    assert response.status_code == 400, response.content
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Case.objects.exists()


def test_a_255_character_key_is_fine_and_a_quoted_key_is_the_same_key(call):
    long = "k" * 255
    first = call("post", "/cases", "clerk_xfl", CASE, key=long)
    assert first.status_code == 201, first.content
    assert call("post", "/cases", "clerk_xfl", CASE, key=f'"{long}"')[idempotency.REPLAYED_HEADER] == "true"
    assert Case.objects.count() == 1


def test_a_json_body_counts_by_its_value_not_its_spelling(call):
    call("post", "/cases", "clerk_xfl", CASE, key="k1")
    reordered = json.dumps(dict(reversed(list(CASE.items()))), indent=2)
    again = call.client.post("/api/v1/cases", data=reordered, content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {call.tokens['clerk_xfl']}", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.status_code == 201 and again[idempotency.REPLAYED_HEADER] == "true"


def test_the_same_key_on_another_path_is_a_422(call, world):
    call("post", "/cases", "clerk_xfl", CASE, key="k1")
    case = Case.objects.get()
    response = call("post", f"/cases/{case.number}/actions/accept", "clerk_xfl", {"version": 1}, key="k1")
    assert response.status_code == 422 and "POST /api/v1/cases" in response.json()["detail"]
    assert Case.objects.get().state == "submitted"


def test_keys_belong_to_their_user(call):
    mine = call("post", "/cases", "clerk_xfl", CASE, key="k1")
    theirs = call("post", "/cases", "handler_xfl", CASE, key="k1")
    assert mine.status_code == theirs.status_code == 201
    assert not theirs.has_header(idempotency.REPLAYED_HEADER) and Case.objects.count() == 2


def test_a_refusal_is_not_kept_so_the_corrected_request_goes_through_under_the_same_key(call):
    refused = call("post", "/cases", "clerk_xfl", CASE | {"form": {}}, key="k1")
    assert refused.status_code == 422 and not IdempotencyRecord.objects.exists()
    done = call("post", "/cases", "clerk_xfl", CASE, key="k1")
    assert done.status_code == 201 and not done.has_header(idempotency.REPLAYED_HEADER)
    assert Case.objects.count() == 1 and IdempotencyRecord.objects.get().status == 201


def test_a_crash_leaves_neither_the_answer_nor_the_data(call, monkeypatch):
    real = case_services.case_create

    def crash(**kwargs):
        real(**kwargs)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(case_services, "case_create", crash)
    with pytest.raises(RuntimeError):
        call("post", "/cases", "clerk_xfl", CASE, key="k1")
    assert not Case.objects.exists() and not IdempotencyRecord.objects.exists()
    monkeypatch.setattr(case_services, "case_create", real)
    assert call("post", "/cases", "clerk_xfl", CASE, key="k1").status_code == 201


def test_without_a_key_nothing_is_stored_and_a_get_ignores_the_header(call):
    assert call("post", "/cases", "clerk_xfl", CASE).status_code == 201
    assert call("get", "/cases", "clerk_xfl", key="k1").status_code == 200
    assert not IdempotencyRecord.objects.exists()


def test_logging_in_with_a_key_is_not_held(client, world):
    world.users["clerk_xfl"].set_password("pw-long-enough")
    world.users["clerk_xfl"].save()
    body = json.dumps({"username": "clerk_xfl", "password": "pw-long-enough"})
    response = client.post("/api/v1/session", data=body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 200, response.content
    assert not IdempotencyRecord.objects.exists()


def test_an_answer_older_than_a_day_is_forgotten_and_purged(call):
    start = clock.now()
    with clock.frozen_at(start):
        call("post", "/ledger/topics", "leader_kg", TOPIC, key="k1")
    with clock.frozen_at(start + idempotency.KEEP_FOR - dt.timedelta(minutes=1)):
        assert call("post", "/ledger/topics", "leader_kg", TOPIC, key="k1")[idempotency.REPLAYED_HEADER] == "true"
        assert idempotency.purge_expired() == 0
    with clock.frozen_at(start + idempotency.KEEP_FOR + dt.timedelta(minutes=1)):
        again = call("post", "/ledger/topics", "leader_kg", TOPIC, key="k1")
        assert again.status_code == 201 and not again.has_header(idempotency.REPLAYED_HEADER)
    from yiwang.ledger.models import ResearchTopic

    assert ResearchTopic.objects.count() == 2
    with clock.frozen_at(start + 2 * idempotency.KEEP_FOR + dt.timedelta(minutes=2)):
        assert idempotency.purge_expired() == 1
    assert not IdempotencyRecord.objects.exists()


def test_the_openapi_document_shows_the_header_on_every_unsafe_operation(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
            expected = method.upper() in idempotency.UNSAFE_METHODS and operation.get("security") != []
            if (method.upper(), path) == ("POST", "/api/v1/session"):
                expected = False
            assert ("Idempotency-Key" in names) == expected, f"{method.upper()} {path}"


# --- two at once ------------------------------------------------------------------------------------


def _slow_case_create(monkeypatch, seconds: float) -> threading.Event:
    """case_create that holds its transaction ``seconds`` longer; the event is set once it is inside."""
    real, inside = case_services.case_create, threading.Event()

    def slow(**kwargs):
        created = real(**kwargs)
        inside.set()
        time.sleep(seconds)
        return created

    monkeypatch.setattr(case_services, "case_create", slow)
    return inside


def _in_thread(fn) -> tuple[threading.Thread, list]:
    answers: list = []

    def run():
        try:
            answers.append(fn())
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread, answers


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_sent_while_the_first_runs_waits_and_gets_the_first_answer(world, monkeypatch):
    tokens = {"clerk_xfl": token_create(username="clerk_xfl")}
    inside = _slow_case_create(monkeypatch, 0.5)

    def post():
        return Caller.__call__(_ThreadCaller(tokens), "post", "/cases", "clerk_xfl", CASE, key="race-1")

    first, first_answer = _in_thread(post)
    assert inside.wait(10)
    second, second_answer = _in_thread(post)
    first.join(30)
    second.join(30)
    a, b = first_answer[0], second_answer[0]
    assert a.status_code == b.status_code == 201 and a.content == b.content
    assert not a.has_header(idempotency.REPLAYED_HEADER) and b[idempotency.REPLAYED_HEADER] == "true"
    assert Case.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_that_waits_too_long_is_a_409_and_may_retry(world, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite queues the duplicate on its write lock (the busy timeout), as any writer")
    tokens = {"clerk_xfl": token_create(username="clerk_xfl")}
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.2)
    inside = _slow_case_create(monkeypatch, 1.5)

    def post():
        return Caller.__call__(_ThreadCaller(tokens), "post", "/cases", "clerk_xfl", CASE, key="race-2")

    first, first_answer = _in_thread(post)
    assert inside.wait(10)
    second, second_answer = _in_thread(post)
    second.join(30)
    first.join(30)
    assert first_answer[0].status_code == 201
    busy = second_answer[0]
    assert busy.status_code == 409 and busy.json()["code"] == "idempotency_key_in_use"
    retry = post()
    assert retry.status_code == 201 and retry[idempotency.REPLAYED_HEADER] == "true"
    assert Case.objects.count() == 1


class _ThreadCaller(Caller):
    """A Caller with its own test client (a client is not for two threads) and known tokens."""

    def __init__(self, tokens: dict[str, str]):
        from django.test import Client

        super().__init__(Client())
        self.tokens = tokens


# --- page forms ---------------------------------------------------------------------------------------


def _post_twice(client, path: str, form: dict, key: str = "page-1"):
    first = client.post(path, form | {"idempotency_key": key})
    again = client.post(path, form | {"idempotency_key": key})
    return first, again


@pytest.mark.parametrize("path,form,model", [
    ("/ledger/topics/new/", TOPIC, "ledger.ResearchTopic"),
    ("/ledger/batches/new/", {"title": "第二批", "region_code": "KG", "supervisor_unit_code": "KG-OF",
                              "matter_code": "RECT_GRASSROOTS"}, "ledger.Batch"),
])
def test_a_ledger_form_posted_twice_creates_once(client, world, path, form, model):
    client.force_login(world.users["leader_kg"])
    first, again = _post_twice(client, path, form)
    assert first.status_code == again.status_code == 303 and first["Location"] == again["Location"]
    assert again[idempotency.REPLAYED_HEADER] == "true" and apps.get_model(model).objects.count() == 1
    other = client.post(path, form | {"title": "另一个", "idempotency_key": "page-1"})
    assert other.status_code == 422 and apps.get_model(model).objects.count() == 1


def test_a_refused_ledger_form_keeps_its_key_for_the_corrected_post(client, world):
    client.force_login(world.users["leader_kg"])
    refused = client.post("/ledger/topics/new/", TOPIC | {"title": "", "idempotency_key": "page-1"})
    assert refused.status_code == 422 and b'value="page-1"' in refused.content
    done = client.post("/ledger/topics/new/", TOPIC | {"idempotency_key": "page-1"})
    assert done.status_code == 303 and not done.has_header(idempotency.REPLAYED_HEADER)


def test_a_visit_and_a_problem_list_posted_twice_are_recorded_once(client, world):
    from yiwang.ledger.models import ProblemList, ResearchVisit

    client.force_login(world.users["leader_kg"])
    topic = ledger_services.topic_create(viewer=world.viewer("leader_kg"), **TOPIC)
    visit = {"visited_on": clock.today().isoformat(), "place": "幸福里小学", "findings": "校门口拥堵"}
    visits = _post_twice(client, f"/ledger/topics/{topic.pk}/", visit)
    assert [r.status_code for r in visits] == [303, 303]
    assert ResearchVisit.objects.count() == 1
    batch = make_batch(world)
    lists = _post_twice(client, f"/ledger/batches/{batch.pk}/lists/", {"title": "程家村", "region_code": "KG-DZ-CJC"},
                        key="page-2")
    assert [r.status_code for r in lists] == [303, 303] and ProblemList.objects.filter(batch=batch).count() == 1


def test_the_pages_render_a_key_in_their_forms(client, world):
    client.force_login(world.users["leader_kg"])
    batch = make_batch(world)
    for path in ("/ledger/topics/new/", "/ledger/batches/new/", f"/ledger/batches/{batch.pk}/"):
        assert b'name="idempotency_key"' in client.get(path).content, path
    client.force_login(world.users["secretary_cjc"])
    assert b'name="idempotency_key"' in client.get("/party/KG-DZ-CJC-DZB/").content


def test_a_party_member_entered_twice_is_entered_once(client, world):
    from yiwang.party.models import PartyMember

    client.force_login(world.users["secretary_cjc"])
    form = {"form": "member", "name": "李娟", "gender": "female", "birth_date": "1990-06-01"}
    first, again = _post_twice(client, "/party/KG-DZ-CJC-DZB/", form)
    assert first.status_code == again.status_code == 302 and again[idempotency.REPLAYED_HEADER] == "true"
    assert PartyMember.objects.filter(name="李娟").count() == 1


def test_a_patrol_check_in_posted_twice_adds_one_point(client, world, frozen):  # noqa: F811
    from yiwang.patrol.models import PatrolLog

    client.force_login(world.users["gridder_xfl"])
    point = {"lat": "34.406", "lng": "108.706"}
    first, again = _post_twice(client, "/patrol/check-in/", point)
    assert first.status_code == again.status_code == 302
    log = PatrolLog.objects.get()
    _post_twice(client, f"/patrol/logs/{log.pk}/check-in/", point, key="page-2")
    log.refresh_from_db()
    assert len(log.track) == 2


def test_the_worker_s_sweep_purges_old_answers(call):
    from io import StringIO

    from django.core.management import call_command

    start = clock.now()
    with clock.frozen_at(start - idempotency.KEEP_FOR - dt.timedelta(minutes=1)):
        call("post", "/cases", "clerk_xfl", CASE, key="old")
    call("post", "/cases", "clerk_xfl", CASE, key="new")
    out = StringIO()
    call_command("worker", "--once", stdout=out)
    assert "idempotency: 1 stored answers purged" in out.getvalue()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
