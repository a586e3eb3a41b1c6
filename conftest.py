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


# Seconds a test file takes on one pytest-xdist worker beyond its count of tests × a typical test's,
# from `--durations` (SQLite, 2026-12-06, session 9; the failover test on PostgreSQL): the files whose
# time is out of proportion to their count. An estimate, used only to order the work.
SLOW_FILES = {
    "tests/test_failover.py": 50, "src/yiwang/demo/tests/test_demo.py": 40, "tests/test_crash_safety.py": 25,
    "tests/test_backup.py": 25, "src/yiwang/demo/tests/test_parking.py": 15, "src/yiwang/demo/tests/test_ledger.py": 11,
    "tests/test_cli.py": 10, "src/yiwang/cases/tests/test_state_machine.py": 10,
}
TYPICAL_TEST_S = 0.15
BROWSER_TEST_S = 5.0


def pytest_collection_modifyitems(session, config, items):
    # Longest files first (scripts/run-tests passes --dist loadfile --no-loadscope-reorder): xdist then
    # hands out the long files while the other worker is busy too, and the run ends on short ones
    # instead of one worker finishing a 50-second file alone. pytest-xdist's own reordering goes by the
    # count of tests, which puts a file of three slow tests last. Tests within a file keep their order.
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def estimate(path: str) -> float:
        tests = files[path]
        each = sum(BROWSER_TEST_S if item.get_closest_marker("browser") else TYPICAL_TEST_S for item in tests)
        return each + SLOW_FILES.get(path, 0)

    order = sorted(files, key=lambda path: -estimate(path))  # stable: equal estimates keep pytest's order
    items[:] = [item for path in order for item in files[path]]

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
