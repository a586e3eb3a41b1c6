"""JS + CSS a first visit downloads, per page: at most 400 KB on the wire, so pages stay usable on a phone.

The live test server hands static files out uncompressed; `yiwang serve` sends them gzip-compressed
(WhiteNoise, precompressed at collectstatic — tests/test_static_files.py checks that). So a file
weighs what gzip makes of it, and the decoded size is printed beside it.
"""

import gzip

import pytest

from yiwang.cases.services import case_create
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.browser

BUDGET = 400 * 1024


def weigh(new_page, path: str, storage_state=None) -> tuple[int, list[str]]:
    """Bytes on the wire (gzip) of every script and stylesheet a fresh context (empty cache) loads."""
    page = new_page(storage_state=storage_state)
    seen = []
    page.on("response", lambda r: seen.append(r))
    response = page.goto(path, wait_until="load")
    assert response is not None and response.ok, (path, response and response.status)
    assert "/login/" not in page.url, path
    total, parts = 0, []
    for r in seen:
        if r.request.resource_type in ("script", "stylesheet"):
            assert r.ok, (r.url, r.status)
            body = r.body()
            size = len(gzip.compress(body, compresslevel=9))
            total += size
            parts.append(f"{r.url.split('/', 3)[-1]} {size / 1024:.1f} KB ({len(body) / 1024:.0f} KB raw)")
    return total, parts


def signed_in(new_page, login, username: str) -> dict:
    page = new_page()
    login(page, username)
    return page.context.storage_state()


def test_js_and_css_per_page_stay_under_400_kb(new_page, world, login, record_weight):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    resident = signed_in(new_page, login, "resident_wang")
    clerk = signed_in(new_page, login, "clerk_xfl")
    leader = signed_in(new_page, login, "leader_kg")
    pages = [
        ("home", "/", None),
        ("apply", "/matters/SENIOR_CARD/apply/", resident),
        ("case (resident)", f"/cases/{case.number}/", resident),
        ("queue", "/work/", clerk),
        ("case (workbench)", f"/work/cases/{case.number}/", clerk),
        ("dashboard", "/dashboard/", leader),
    ]
    results = {}
    for label, path, state in pages:
        total, parts = weigh(new_page, path, state)
        results[label] = total
        line = f"{label:<17} {path:<34} {total / 1024:7.1f} KB  ({'; '.join(parts) or 'none'})"
        record_weight(line)
        print(line)
    assert results["home"] > 0, "the stylesheet did not load"
    assert results["case (workbench)"] > 10 * 1024, "htmx did not load on the workbench"
    assert results["dashboard"] > 150 * 1024, "ECharts did not load on the dashboard"
    over = {k: v for k, v in results.items() if v > BUDGET}
    assert not over, f"over {BUDGET // 1024} KB of JS + CSS: {over}"
