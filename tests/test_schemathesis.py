"""Generated calls against every operation of /api/v1/openapi.json: whatever the input, never a 500.

schemathesis turns the API's OpenAPI document into Hypothesis strategies and calls each operation
through the real WSGI stack (yiwang.wsgi.application: every middleware, the token auth, the error
handlers), with a leader's, a superuser's, a resident's and a window clerk's token, on the world
tests/test_authz_matrix.py builds.
Every answer must be no server error and, where the document declares its status, match the
declared schema. Each call runs in a savepoint rolled back afterwards: writes — logging out, taking
a member off the register, replacing a branch's groups — cannot change what the next call sees.

`make test` runs the schema's examples for every role, its boundary values (schemathesis's coverage
phase) for the leader and the superuser (see NARROW_COVERAGE), and a few generated examples per
operation and role (SCHEMATHESIS_EXAMPLES, default 6; fewer for the resident and the clerk:
SCHEMATHESIS_NARROW_EXAMPLES). `make fuzz` is the long run: 200 of each, per operation and role, and
the coverage phase for every role, with a seed it prints first.

The generated examples come from one seed per run, different every run, so that each `make test`
tries calls no earlier run tried. It is chosen once for the whole run — SCHEMATHESIS_SEED if set, else
pytest's --hypothesis-seed=N, else derived from pytest-xdist's run id (the same in every worker),
else at random — and a failure names it ("schemathesis seed N: ..."). Replay one with

    SCHEMATHESIS_SEED=N .venv/bin/pytest tests/test_schemathesis.py   # or --hypothesis-seed=N

(with the run's SCHEMATHESIS_EXAMPLES: the same seed with more examples draws more, not the same).
Why not a fixed seed in `make test`: a fixed seed replays the same six calls per operation for ever,
so they stop finding anything after the first run. The price: a run may fail on a bug older than
the change it tests; with the seed printed, that failure is as reproducible as a fixed seed's.
"""

from __future__ import annotations

import datetime as dt
import os
import random

import hypothesis.core
import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.test_authz_matrix import matrix  # noqa: F401  (the module's world, built once)
from yiwang.wsgi import application

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))


def _run_seed() -> tuple[int | str, str]:
    """This run's seed and where it came from: the same in every xdist worker of one run, new each run."""
    if os.environ.get("SCHEMATHESIS_SEED"):
        return int(os.environ["SCHEMATHESIS_SEED"]), "SCHEMATHESIS_SEED"
    if hypothesis.core.global_force_seed is not None:  # pytest --hypothesis-seed=N
        return hypothesis.core.global_force_seed, "--hypothesis-seed"
    run_uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # set by pytest-xdist before its workers collect
    if run_uid:
        return int(run_uid.replace("-", "")[:8], 16), "the xdist run id"
    return random.SystemRandom().randrange(2**32), "chosen at random"


SEED, SEED_SOURCE = _run_seed()
# The widest views (a leader's region, the superuser's everything) get the coverage phase and EXAMPLES
# generated calls per operation. A resident and a window clerk add refusals and narrower scopes rather
# than new code paths: in `make test` they get a third of the generated calls and no coverage phase.
# That phase is most of their calls (some 30 per operation and role, against 2 generated ones), the
# same boundary values and malformed inputs every run: ninja validates every parameter and body before
# the operation runs, whoever calls, and past that a resident's or a clerk's call mostly stops at a
# permission or scope check, while the leader's and the superuser's coverage phases send the same
# values through the widest code paths. A long run (`make fuzz`, which gives them as many examples as
# the others) runs it for them too; SCHEMATHESIS_NARROW_COVERAGE=1 forces it.
ROLES = ("leader", "superuser")
NARROW_ROLES = ("resident", "clerk")
NARROW_EXAMPLES = int(os.environ.get("SCHEMATHESIS_NARROW_EXAMPLES", str(max(1, EXAMPLES // 3))))
NARROW_COVERAGE = os.environ.get("SCHEMATHESIS_NARROW_COVERAGE", "1" if NARROW_EXAMPLES >= EXAMPLES else "0") == "1"

# Dates and times at the calendar's ends and around now, besides Hypothesis's own: date arithmetic
# near 0001-01-01 or 9999-12-31 overflows, and uniform draws almost never land there.
EDGE_DATES = (dt.date.min, dt.date.max, dt.date.max - dt.timedelta(days=1), dt.date(1970, 1, 1), dt.date.today(),
              dt.date.today() + dt.timedelta(days=1))
EDGE_MOMENTS = ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00-12:00", "9999-12-31T23:59:59Z",
                "9999-12-31T23:59:59+14:00", "1970-01-01T00:00:00+08:00")
schemathesis.openapi.format("date", st.one_of(st.sampled_from(EDGE_DATES), st.dates()).map(dt.date.isoformat))
schemathesis.openapi.format("date-time", st.one_of(
    st.sampled_from(EDGE_MOMENTS), st.datetimes(timezones=st.just(dt.UTC)).map(dt.datetime.isoformat)))

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
# The same document for the resident and the clerk, with its own configuration (see NARROW_COVERAGE).
narrow_schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
narrow_schema.config.phases.coverage.enabled = NARROW_COVERAGE

# Path parameters that name objects of the world, by name, filled once it is built. Random ids and
# codes almost never exist, and a 404 exercises nothing behind it.
KNOWN: dict[str, object] = {}


def flatmap_path_parameters(context, path_parameters):
    """Three times in four, aim at objects that exist (in either region)."""
    if not isinstance(path_parameters, dict):  # an operation without any, or a negative case
        return st.just(path_parameters)
    known = {name: st.sampled_from(KNOWN[name]) for name in path_parameters if KNOWN.get(name)}
    if not known:
        return st.just(path_parameters)
    existing = st.fixed_dictionaries(known).map(lambda found: {**path_parameters, **found})
    return st.sampled_from((True, True, True, False)).flatmap(
        lambda aim: existing if aim else st.just(path_parameters))


schema.hook(flatmap_path_parameters)
narrow_schema.hook(flatmap_path_parameters)


@pytest.fixture
def known(matrix):  # noqa: F811
    if KNOWN.get("world") is matrix:
        return
    KNOWN.clear()
    KNOWN["world"] = matrix  # a world built again (another worker's order of tests) has other ids
    sides = matrix.sides.values()
    KNOWN["number"] = [getattr(o, key).number for o in sides for key in ("app", "app_closed", "app_rated", "inc")]
    KNOWN["action"] = ["accept", "reject", "claim", "register", "dispatch", "supervise", "close", "merge"]
    KNOWN["code"] = ["SENIOR_CARD", "INC_PARKING", "KG-DZ-XFL-G1", "QH-WC-SPD-G1"] + [
        code for o in sides for code in (o.camera.code, o.branch.code)]
    for name, key in (("team_id", "team"), ("log_id", "log"), ("topic_id", "topic"), ("visit_id", "visit"),
                      ("batch_id", "batch"), ("list_id", "plist"), ("item_id", "item"), ("pair_id", "pair"),
                      ("violation_id", "violation"), ("penalty_id", "penalty"), ("appeal_id", "appeal")):
        KNOWN[name] = [getattr(o, key).pk for o in sides]
    KNOWN["member_id"] = [m.pk for o in sides for m in o.members]


@pytest.fixture(autouse=True)
def _print_seed():
    """pytest shows a failed test's captured output, so a failure names the seed that replays it (an
    exception note would not do: schemathesis raises a new exception group of its own)."""
    print(f"schemathesis seed {SEED} ({SEED_SOURCE}); replay: SCHEMATHESIS_SEED={SEED} "
          f"SCHEMATHESIS_EXAMPLES={EXAMPLES} SCHEMATHESIS_NARROW_EXAMPLES={NARROW_EXAMPLES} "
          f"SCHEMATHESIS_NARROW_COVERAGE={int(NARROW_COVERAGE)}")


@pytest.fixture(autouse=True)
def _one_connection():
    """The WSGI handler closes the database connection after each request, as a server must; here
    the connection holds the test's transaction, so keep it open (django.test.Client does the same)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_every_schema_has_its_own_name():
    """The OpenAPI document names a component after its class: two apps' `CountsOut` would both be
    documented as whichever came last, and clients (and this fuzzing) would follow the wrong one."""
    from ninja import Schema

    from yiwang.urls import api

    owners: dict[str, set[str]] = {}
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                models = [*operation.models, *(m for m in operation.response_models.values() if m is not None)]
                for model in models:
                    for cls in _schemas_in(model, Schema):
                        owners.setdefault(cls.__name__, set()).add(f"{cls.__module__}.{cls.__qualname__}")
    assert not {name: found for name, found in owners.items() if len(found) > 1}


def _schemas_in(model, base, seen=None) -> set:
    """The ``base`` classes among ``model`` and the models its fields refer to, however deep (ninja
    wraps a body's schema in a model of its parameters)."""
    import typing

    from pydantic import BaseModel

    seen = set() if seen is None else seen
    if isinstance(model, type) and issubclass(model, BaseModel) and model not in seen:
        seen.add(model)
        for info in model.model_fields.values():
            _schemas_in(info.annotation, base, seen)
    for arg in typing.get_args(model):
        _schemas_in(arg, base, seen)
    return {cls for cls in seen if issubclass(cls, base)}


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@seed(SEED)  # on the function before schemathesis wraps it: schemathesis then leaves out its own seed
@settings(max_examples=EXAMPLES, derandomize=False, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error(case, role, matrix, known, db):  # noqa: F811
    call_and_check(case, matrix.tokens[role])


@pytest.mark.parametrize("role", NARROW_ROLES)
@narrow_schema.parametrize()
@seed(SEED)
@settings(max_examples=NARROW_EXAMPLES, derandomize=False, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_for_a_resident_or_a_clerk(case, role, matrix, known, db):  # noqa: F811
    call_and_check(case, matrix.tokens[role])


def call_and_check(case, token: str) -> None:
    savepoint = transaction.savepoint()
    try:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
    finally:
        transaction.savepoint_rollback(savepoint)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
