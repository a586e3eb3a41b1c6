"""The cases API end to end: submit, list, read, act, rate — and every refusal as a clear 4xx."""



from yiwang.cases.models import Case, CaseEvent
from yiwang.testing import SENIOR_OK


def submit(api, username="clerk_xfl", headers=None, **overrides):
    body = {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "applicant_name": "王大爷",
            "applicant_phone": "13800000001", "channel": "hall", **SENIOR_OK, **overrides}
    return api("post", "/cases", username, body, **(headers or {}))


def test_a_clerk_submits_an_application_that_lands_at_the_community_hall(api):
    response = submit(api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["holder_unit"]["code"] == "KG-DZ-XFL-SH"
    assert body["state"] == "submitted"
    assert body["number"].startswith("YW")
    assert body["applicant_phone"] == "138****0001"


def test_the_same_idempotency_key_returns_the_first_case(api):
    first = submit(api, headers={"HTTP_IDEMPOTENCY_KEY": "abc-1"})
    again = submit(api, headers={"HTTP_IDEMPOTENCY_KEY": "abc-1"})
    # The first answer replayed (core/idempotency.py): the same 201 and body, marked as a replay.
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1


def test_after_the_stored_answer_expires_the_case_itself_still_answers_a_replay(api):
    from yiwang.core.models import IdempotencyRecord

    first = submit(api, headers={"HTTP_IDEMPOTENCY_KEY": "abc-1"})
    IdempotencyRecord.objects.all().delete()
    again = submit(api, headers={"HTTP_IDEMPOTENCY_KEY": "abc-1"})
    assert again.status_code == 200 and again.json()["number"] == first.json()["number"]
    assert Case.objects.count() == 1


def test_an_unknown_matter_is_a_404_with_the_field(api):
    response = submit(api, matter_code="NOPE")
    assert response.status_code == 404
    assert "matter_code" in response.json()["errors"]
    assert Case.objects.count() == 0


def test_a_missing_required_material_and_form_field_are_named(api):
    response = submit(api, form={}, materials=[{"code": "id_card"}])
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert "form.birth_date" in errors
    assert any("一寸照片" in m for m in errors["materials"])  # by its name, not its code
    assert Case.objects.count() == 0


def test_malformed_json_is_a_400(api):
    response = api("post", "/cases", "clerk_xfl", body="{not json")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_a_wrongly_typed_field_is_a_422_naming_it(api):
    response = submit(api, lat="north")
    assert response.status_code == 422
    assert "lat" in response.json()["errors"]


def test_an_oversized_body_is_a_413(api, settings):
    response = submit(api, description="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10))
    assert response.status_code == 413
    assert Case.objects.count() == 0


def test_without_a_token_the_api_answers_401(api):
    response = submit(api, username=None)  # a complete application: only the caller is missing
    assert response.status_code == 401
    assert response.json() == {"code": "unauthenticated", "detail": "请先登录，或在 Authorization 头中提供有效的令牌。"}
    assert Case.objects.count() == 0
    assert api("get", "/cases", None).json()["code"] == "unauthenticated"


def test_the_bearer_scheme_is_case_insensitive_and_any_other_is_refused(client, world):
    from yiwang.org.services import token_create

    token = token_create(username="clerk_xfl")
    accepted = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"bearer {token}")
    assert accepted.status_code == 200 and accepted.json()["username"] == "clerk_xfl"
    for refused in (f"Token {token}", "Bearer", "Bearer ", f"Basic {token}", token):
        response = client.get("/api/v1/me", HTTP_AUTHORIZATION=refused)
        assert response.status_code == 401, refused
        assert response.json()["code"] == "unauthenticated" and "clerk_xfl" not in response.content.decode(), refused


def test_a_handler_runs_the_case_to_close_and_the_applicant_rates_it(api, world):
    number = submit(api, applicant_id=world.residents["wang"].pk).json()["number"]
    detail = api("get", f"/cases/{number}", "clerk_xfl").json()
    assert {a["name"] for a in detail["actions"]} >= {"accept", "reject"}
    v = detail["version"]
    r = api("post", f"/cases/{number}/actions/accept", "clerk_xfl", {"version": v})
    assert r.status_code == 200, r.content
    assert r.json()["due_at"] is not None
    r = api("post", f"/cases/{number}/actions/decide", "handler_xfl", {"version": r.json()["version"], "decision": "approved"})
    r = api("post", f"/cases/{number}/actions/close", "handler_xfl",
            {"version": r.json()["version"], "delivery": {"method": "post", "tracking": "SF1234567890"}})
    assert r.json()["state"] == "closed"
    assert [e["action"] for e in r.json()["timeline"]] == ["submit", "accept", "decide", "close"]
    rated = api("post", f"/cases/{number}/evaluation", "resident_wang", {"rating": 5, "comment": "很方便"})
    assert rated.status_code == 201, rated.content
    assert rated.json()["follow_up"] is None


def test_a_wrong_state_action_is_a_409_and_writes_nothing(api):
    number = submit(api).json()["number"]
    before = CaseEvent.objects.count()
    r = api("post", f"/cases/{number}/actions/close", "handler_xfl", {"version": 1})
    assert r.status_code == 409
    assert r.json()["code"] == "illegal_transition"
    assert CaseEvent.objects.count() == before


def test_a_stale_version_is_a_409_conflict(api):
    number = submit(api).json()["number"]
    api("post", f"/cases/{number}/actions/accept", "clerk_xfl", {"version": 1})
    r = api("post", f"/cases/{number}/actions/request_supplement", "clerk_xfl", {"version": 1, "comment": "缺照片"})
    assert r.status_code == 409
    assert r.json()["code"] == "conflict"


def test_the_list_is_keyset_paged(api):
    for _ in range(5):
        submit(api)
    first = api("get", "/cases?limit=2", "clerk_xfl").json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api("get", f"/cases?limit=2&cursor={first['next_cursor']}", "clerk_xfl").json()
    numbers = {c["number"] for c in first["items"]} | {c["number"] for c in second["items"]}
    assert len(numbers) == 4


def test_a_bad_cursor_is_a_422(api):
    r = api("get", "/cases?cursor=%%%garbage", "clerk_xfl")
    assert r.status_code == 422
    assert "cursor" in r.json()["errors"]


def test_indicators_report_rates_to_three_decimals(api, world):
    r = api("get", "/indicators", "leader_kg")
    assert r.status_code == 200
    assert r.json()["satisfaction_rate"] is None
