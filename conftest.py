import pytest

from yiwang.core import confcache


def pytest_configure(config):
    # The test database's commits need not reach the disk: a test never survives a crash of the
    # server it runs on, and every commit would otherwise wait ~4.5 ms for an fsync on this machine
    # (pg_test_fsync), thousands of times in a run (each browser test commits its world). Only this
    # process's connections (pytest-django's, the live server's thread) are affected: the tests that
    # kill servers to prove durability (crash safety, failover, replica) start `yiwang` processes
    # with their own YIWANG_DATABASE_URL, on the server's default synchronous_commit = on.
    from django.conf import settings

    for db in settings.DATABASES.values():
        if db["ENGINE"] == "django.db.backends.postgresql":
            options = db.setdefault("OPTIONS", {})
            options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()


@pytest.fixture
def world(db):
    from yiwang.testing import build_world

    return build_world()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The production hasher (PBKDF2, a million rounds) would spend most of the suite's time here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _staff_2fa_off(settings):
    # Tests log staff in with force_login and no second factor; tests/test_staff_2fa.py turns it on.
    settings.YIWANG_STAFF_2FA = "off"


@pytest.fixture(autouse=True)
def _site_language(settings):
    # A request answered in English activates "en" for the thread; the next test on the same worker
    # must start in the site's language again, as every real request does.
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_caches():
    # Each test's database is new; caches from an earlier test must not leak into it.
    confcache.clear_all()
    from yiwang.api import clear_token_cache

    clear_token_cache()
    yield
    confcache.clear_all()


@pytest.fixture
def api(client, world):
    """Call the REST API as a user: api("post", "/cases", "clerk_xfl", {...}, HTTP_X=...)."""
    import json

    from yiwang.org.services import token_create

    tokens = {}

    def call(method, path, username=None, body=None, **headers):
        if username and username not in tokens:
            tokens[username] = token_create(username=username)
        if username:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {tokens[username]}"
        data = json.dumps(body) if isinstance(body, dict | list) else body
        return getattr(client, method)(f"/api/v1{path}", data=data, content_type="application/json", **headers)

    return call


@pytest.fixture(autouse=True)
def _tallies_in_step(request):
    """After every test that wrote to the database, the indicator tallies must still equal a
    recomputation from the cases and ratings: any write path that bypasses them fails here."""
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db or request.node.get_closest_marker("tampers"):
        yield
        return
    transactional = "transactional_db" in request.fixturenames or bool(marker and marker.kwargs.get("transaction"))
    _calendar_seeded(request)
    # Set the database up before this fixture, so the check runs before the test's data is rolled back.
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    from yiwang.records.rollups import differences

    assert differences() == []


def _calendar_seeded(request) -> None:
    """A transactional test ends by emptying every table, the working-day calendar its migration
    seeded included; a deadline test that comes after it on the same worker would count without
    holidays. Seeded again, committed, before the test's own transaction starts (once per flush)."""
    request.getfixturevalue("django_db_setup")
    from importlib import import_module

    from django.apps import apps

    from yiwang.cases.models import Workday

    with request.getfixturevalue("django_db_blocker").unblock():
        if not Workday.objects.exists():
            import_module("yiwang.cases.migrations.0002_seed_calendar").seed(apps, None)
