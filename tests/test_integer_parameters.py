"""A number a page reads from its query string, its form or its path is checked by one helper
(core.forms.integer): a value that is not a whole number, or is out of what its use can take, is a 400
naming the parameter (or, on a page that shows a form, the message beside the field), never a 500 from
an OverflowError in a query or in date arithmetic.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter

from yiwang.cases.models import CaseEvent, Notification
from yiwang.cases.services import case_create
from yiwang.party.tests.conftest import branch, members, pair, poor  # noqa: F401 (fixtures)
from yiwang.patrol.models import Shift
from yiwang.patrol.tests.conftest import frozen, patrol  # noqa: F401 (fixtures)
from yiwang.testing import SENIOR_OK

# Past SQLite's and PostgreSQL's bigint (2**63); a digit int() refuses; below zero; not integers.
BAD = ["99999999999999999999", "9223372036854775808", "²", "-1", "1e3", "abc"]


def logged_in(world, username: str) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(world.users[username])
    return client


def assert_refused_naming(response, parameter: str):
    assert response.status_code == 400, response.content[:300]
    assert parameter in response.content.decode()


@pytest.mark.parametrize("value", [*BAD, "999999999"])  # 999999999 days: past year 9999
def test_integer_parameters_out_of_range_are_a_400(world, value):
    """/work/?due_days=99999999999999999999 was a 500 (OverflowError building the deadline)."""
    clerk = logged_in(world, "clerk_xfl")
    assert_refused_naming(clerk.get("/work/", {"due_days": value}), "due_days")
    for fine in ("3", ""):
        page = clerk.get("/work/", {"due_days": fine})
        assert page.status_code == 200 and "我的待办" in page.content.decode(), fine


@pytest.mark.parametrize("value", BAD)
def test_notification_ids_out_of_range_are_a_400_and_mark_nothing_read(world, value):
    """POST /work/notifications/ with ids=999999999999999999999 was a 500 (SQLite's 64-bit integers)."""
    case = case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       applicant_name="王大爷", applicant_phone="13800000001", **SENIOR_OK).case
    note = Notification.objects.create(unit=case.holder_unit, case=case, event_seq=1, kind="warn",
                                       created_at=case.created_at)
    clerk = logged_in(world, "clerk_xfl")
    assert_refused_naming(clerk.post("/work/notifications/", {"ids": [str(note.pk), value]}), "ids")
    note.refresh_from_db()
    assert note.read_at is None
    assert clerk.post("/work/notifications/", {"ids": [str(note.pk)]}).status_code == 303


@pytest.mark.parametrize(("username", "path", "parameter"), [
    ("leader_kg", "/dashboard/incidents/", "days"),
    ("leader_kg", "/parking/hotspots/", "days"),
    ("leader_kg", "/ledger/topics/", "leader"),
])
def test_filters_out_of_range_are_a_400_naming_the_filter(world, username, path, parameter):
    page = logged_in(world, username)
    for value in ("99999999999999999999", "²"):
        assert_refused_naming(page.get(path, {parameter: value}), parameter)
    fine = page.get(path)
    assert fine.status_code == 200 and "<h1" in fine.content.decode()


def test_a_case_action_with_a_version_out_of_range_shows_the_message_and_acts_not(world):
    case = case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       applicant_name="王大爷", applicant_phone="13800000001", **SENIOR_OK).case
    clerk = logged_in(world, "clerk_xfl")
    for value in ("99999999999999999999", "²", ""):
        response = clerk.post(f"/work/cases/{case.number}/act/accept/", {"version": value}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200 and "version" in response.content.decode()
    assert not CaseEvent.objects.filter(case=case, action="accept").exists()


def test_a_patrol_seed_out_of_range_is_refused_not_stored(world, patrol, frozen):  # noqa: F811
    secretary = logged_in(world, patrol.secretary.username)
    response = secretary.post(f"/patrol/teams/{patrol.team.pk}/generate/",
                              {"start": "2026-06-10", "end": "2026-06-12", "seed": str(2**63)}, follow=True)
    assert response.status_code == 200 and "seed" in response.content.decode()
    assert not Shift.objects.exists()


def test_a_grouping_with_a_member_in_no_such_group_is_refused_beside_the_form(world, branch, members):  # noqa: F811
    secretary = logged_in(world, "secretary_cjc")
    form = {"groups": "2", "name-0": "甲", "name-1": "乙", "kind-0": "wealth", "kind-1": "custom"}
    form |= {f"member-{m.id}": "0" for m in members}
    form[f"member-{members[0].id}"] = "²"
    response = secretary.post(f"/party/{branch.code}/grouping/", form)
    assert response.status_code == 200 and f"member-{members[0].id}" in response.content.decode()


def test_a_pair_step_with_a_year_out_of_range_is_a_422_beside_the_field(world, pair):  # noqa: F811
    secretary = logged_in(world, "secretary_cjc")
    response = secretary.post(f"/party/pairs/{pair.id}/income/", {
        "version": pair.case.version, "year": "99999999999999999999", "month": "1", "amount": "1", "source": "wages"})
    assert response.status_code == 422 and "year" in response.content.decode()


def _int_routes(resolver: URLResolver | None = None, prefix: str = "") -> list[tuple[str, set[str], list[str]]]:
    """Every page route with an <int:…> path converter: its name, its int parameters and all its
    parameters. The admin's and the API's aside: Django's and ninja's own."""
    routes = []
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if str(entry.pattern) not in ("admin/", "api/v1/"):
                routes += _int_routes(entry, f"{prefix}{entry.namespace}:" if entry.namespace else prefix)
        elif isinstance(entry, URLPattern) and entry.name:
            converters = entry.pattern.converters
            ints = {name for name, converter in converters.items() if isinstance(converter, IntConverter)}
            if ints:
                routes.append((prefix + entry.name, ints, list(converters)))
    return routes


INT_ROUTES = _int_routes()


def test_the_walk_finds_the_pages_with_numbers_in_their_path():
    assert {"parking:pay", "command:dispatch", "patrol:team_generate", "party:pair"} <= {r[0] for r in INT_ROUTES}


@pytest.mark.parametrize(("name", "ints", "parameters"), INT_ROUTES, ids=[r[0] for r in INT_ROUTES])
def test_path_numbers_past_the_database_s_integers_are_never_a_500(world, name, ints, parameters):
    """Django 5 answers an out-of-range integer lookup with no rows; nothing after it (an insert, date
    arithmetic) may turn the number into a 500. Called as the superuser, who passes every check."""
    url = reverse(name, kwargs={p: "99999999999999999999" if p in ints else "x" for p in parameters})
    admin = logged_in(world, "admin")
    for method in ("get", "post"):
        response = getattr(admin, method)(url, {"version": "1", "penalty": "1", "appeal": "1"})
        assert response.status_code < 500, (method, url, response.status_code)
        # Not there (or not this method): said in a page of the site, not Django's bare answer.
        if response.status_code in (400, 404):
            assert "<h1" in response.content.decode() and "Not Found" not in response.content.decode(), url


@pytest.mark.parametrize("rating", ["99999999999999999999", "²", ""])
def test_a_resident_s_rating_that_is_not_1_to_5_is_refused_with_a_message(world, rating):
    from yiwang.cases.services import case_act
    from yiwang.feedback.models import Evaluation

    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    for user, action, kw in [("clerk_xfl", "accept", {}), ("handler_xfl", "decide", {"decision": "approved"}),
                             ("handler_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
        case = case_act(viewer=world.viewer(user), case_id=case.pk, action=action, version=case.version, **kw)
    resident = logged_in(world, "resident_wang")
    response = resident.post(f"/cases/{case.number}/action/", {"action": "rate", "rating": rating}, follow=True)
    assert response.status_code == 200 and '<li class="error">' in response.content.decode()
    assert not Evaluation.objects.exists()


def test_api_integers_past_the_database_s_are_never_a_500(world):
    """The API reads numbers with its schemas; an id, a limit or a count past bigint in a path or a query
    is a 404 or a 422, never an OverflowError (SQLite) or a DataError (PostgreSQL). Every operation with
    an integer path or query parameter, as the superuser."""
    from yiwang.org.services import token_create

    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token_create(username='admin')}")
    document = api.get("/api/v1/openapi.json").json()
    called = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parameters = [p for p in operation.get("parameters", []) if p["in"] in ("path", "query")]
            if not any(p.get("schema", {}).get("type") == "integer" for p in parameters):
                continue
            url, query = path, {}
            for p in parameters:
                value = "99999999999999999999" if p.get("schema", {}).get("type") == "integer" else "x"
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", value)
                elif p.get("schema", {}).get("type") == "integer":
                    query[p["name"]] = value
            response = api.generic(method.upper(), url + ("?" + urlencode(query) if query else ""), "{}",
                                   content_type="application/json")
            assert response.status_code < 500, (method, url, query, response.status_code)
            called += 1
    assert called >= 20
