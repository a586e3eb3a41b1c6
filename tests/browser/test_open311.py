"""Open311 in a real browser: a web app on another origin reads the public endpoint (CORS), and a
report filed through the API shows on the command centre's board for the operator to register."""

import re

import pytest
import requests
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_another_origin_reads_requests_and_the_operator_sees_a_posted_report(page, new_page, world, live_server, login,
                                                                           shot):
    from yiwang.open311.services import api_key_create

    key = api_key_create(name="browser-test")[1]
    answer = requests.post(f"{live_server.url}/open311/v2/requests.json", timeout=10, data={
        "api_key": key, "service_code": "INC_PARKING", "lat": "34.405", "long": "108.705",
        "description": "小区门口车辆双排停放，联系我 13800001234", "first_name": "三", "last_name": "张"})
    assert answer.status_code == 201
    number = answer.json()[0]["service_request_id"]

    # A page served from 127.0.0.1 fetches from localhost: a different origin, so Chromium enforces CORS.
    # It stands for another web app, which yiwang's Content-Security-Policy (connect-src 'self') does
    # not govern: only CORS does.
    app = new_page(bypass_csp=True)
    app.goto("/open311/v2/discovery.json")
    other_origin = live_server.url.replace("127.0.0.1", "localhost")
    rows = app.evaluate("async url => (await fetch(url)).json()", f"{other_origin}/open311/v2/requests.json")
    assert [r["service_request_id"] for r in rows] == [number]
    assert rows[0]["description"] == "小区门口车辆双排停放，联系我 138****1234"
    page.goto(f"/open311/v2/requests/{number}.xml")
    expect(page.locator("body")).to_contain_text(number)
    shot("request as XML in the browser")

    login(page, "operator_kg", next_url="/command/")
    expect(page).to_have_url(re.compile(r"/command/"))
    expect(page.get_by_text(number).first).to_be_visible()
    shot("the open311 report on the dispatch board")
