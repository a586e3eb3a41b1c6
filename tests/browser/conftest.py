"""Browser tests: Debian's Chromium, driven by Playwright's sync API, against pytest-django's live server.

- ``live_server`` is a real HTTP server on 127.0.0.1 in a thread of this process, on the test database
  (transactional_db: the test thread and the server thread see each other's commits). It serves
  static files too, through django.contrib.staticfiles' handler, so htmx really loads.
- ``world`` is yiwang.testing.build_world() committed to that database.
- ``page`` is a fresh browser context and page per test; ``new_page()`` opens more (another user,
  another tab); ``shot("name")`` saves a PNG under test-results/browser/<test name>/.

Playwright's sync API keeps an asyncio loop marked as running in the main thread between its calls,
and Django refuses ORM calls there (SynchronousOnlyOperation). The test thread is still plain
synchronous code, so while a module's browser is open DJANGO_ALLOW_ASYNC_UNSAFE is set; the browser
is per module so that the loop is gone, and the variable restored, before any other test runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RESULTS = Path(__file__).resolve().parents[2] / "test-results" / "browser"
TIMEOUT_MS = 10_000


def pytest_configure(config):
    # pytest-django's live_server listens on "localhost" unless told otherwise.
    if not config.getoption("liveserver", default=None) and not os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS"):
        config.option.liveserver = "127.0.0.1"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()
_WEIGHTS = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = config.stash.get(_WEIGHTS, [])
    if rows:
        terminalreporter.section("page weight (JS + CSS, gzip bytes on the wire, first load)")
        for line in rows:
            terminalreporter.write_line(line)


@pytest.fixture
def record_weight(request):
    """Lines for the terminal summary (printed even with -q)."""
    rows = request.config.stash.setdefault(_WEIGHTS, [])
    return rows.append


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        pw.stop()
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def world(transactional_db, live_server, settings, tmp_path):
    """The small Xixian, committed, so the live server's thread sees it; uploads go to tmp_path."""
    from yiwang.testing import build_world

    settings.MEDIA_ROOT = tmp_path / "media"
    _reseed_calendar()
    return build_world()


def _reseed_calendar() -> None:
    """transactional_db empties every table after a test, the seeded working-day calendar included."""
    from importlib import import_module

    from django.apps import apps

    from yiwang.cases.models import Workday

    if not Workday.objects.exists():
        import_module("yiwang.cases.migrations.0002_seed_calendar").seed(apps, None)


@pytest.fixture
def results_dir(request) -> Path:
    folder = RESULTS / re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def new_page(browser, live_server, request, results_dir):
    """new_page(**context_options): a page in a fresh context (its own cookies: another user)."""
    contexts = []

    def open_page(**options):
        options = {"base_url": live_server.url, "locale": "zh-CN", "viewport": {"width": 1280, "height": 900},
                   **options}
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    if request.node.stash.get(_FAILED, False):
        for i, context in enumerate(contexts):
            for j, p in enumerate(context.pages):
                with contextlib.suppress(Exception):  # the page may be gone; the failure is what matters
                    p.screenshot(path=results_dir / f"failure-{i}-{j}.png", full_page=True)
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def shot(request, results_dir):
    """shot("step", [other_page]): a full-page PNG, numbered in the order taken."""
    taken = []

    def take(name: str, of=None) -> Path:
        taken.append(name)
        slug = re.sub(r"[^\w.-]+", "_", name)
        path = results_dir / f"{len(taken):02d}-{slug}.png"
        target = of or request.getfixturevalue("page")
        if len(target.context.pages) > 1:
            target.bring_to_front()  # a background tab paints no frames: its screenshot would wait
        target.screenshot(path=path, full_page=True)
        return path

    return take


@pytest.fixture
def login():
    """login(page, username[, next_url]): through the login form; the password is the world's."""

    def sign_in(p, username: str, next_url: str = "") -> None:
        password = "pw-" + username.removeprefix("resident_")
        p.goto("/login/" + (f"?next={next_url}" if next_url else ""))
        p.get_by_label("用户名").fill(username)
        p.get_by_label("密码").fill(password)
        with p.expect_navigation():
            p.get_by_role("button", name="登录").click()
        assert "/login/" not in p.url, f"login as {username} failed"

    return sign_in
