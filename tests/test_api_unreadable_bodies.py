"""A body the API cannot read is the client's mistake: 400 in the API's error format, with or without an
Idempotency-Key (whose fingerprint reads the body before the handler does), never a 500.

Two ways a body is unreadable: it is not what its Content-Type says (multipart/form-data over JSON,
or over nothing a multipart parser can read), or it is JSON nested deeper than core.jsonbody reads.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from yiwang.cases.models import Case
from yiwang.core import jsonbody
from yiwang.org.services import token_create
from yiwang.testing import SENIOR_OK
from yiwang.urls import urlpatterns  # noqa: F401 (mounts every router on the API)

CASE = {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "applicant_name": "王大爷",
        "applicant_phone": "13800000001", "channel": "hall", **SENIOR_OK}
WITH_AND_WITHOUT_KEY = pytest.mark.parametrize("key", [None, "k-1"], ids=["without key", "with key"])


@pytest.fixture
def send(world):
    # No exception re-raised by the test client: a 500 must show as the 500 a client would get.
    client = Client(raise_request_exception=False)
    tokens: dict[str, str] = {}

    def call(path: str, body: bytes | str, content_type: str, *, user: str = "clerk_xfl", key: str | None = None):
        tokens.setdefault(user, token_create(username=user))
        headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}
        if key:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return client.generic("POST", f"/api/v1{path}", body, content_type=content_type, **headers)

    return call


def assert_bad_request(response, *words: str):
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "bad_request"
    for word in words:
        assert word in body["detail"]


@WITH_AND_WITHOUT_KEY
@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=xyz",
                                          "multipart/form-data; boundary="])
def test_a_json_body_under_a_form_content_type_is_read_as_json_not_a_500(send, key, content_type):
    """A JSON operation (case intake) sent a form Content-Type over a JSON body: the handler reads the
    body as JSON, as it does whatever the header says (nothing read the stream as a form first)."""
    response = send("/cases", json.dumps(CASE), content_type, key=key)
    assert response.status_code == 201, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert Case.objects.get().number == response.json()["number"]


@WITH_AND_WITHOUT_KEY
@pytest.mark.parametrize("body", [b'{"kind": "residents"}', b"--xyz\r\nnot a part"], ids=["json", "torn"])
def test_a_form_operation_sent_a_body_that_is_not_multipart_is_a_400(send, key, body):
    """The grid import reads a multipart form: without a boundary there is nothing it can read."""
    response = send("/grids/imports", body, "multipart/form-data", user="gridder_xfl", key=key)
    assert_bad_request(response, "Content-Type")


@WITH_AND_WITHOUT_KEY
@pytest.mark.parametrize(("body", "content_type"), [(json.dumps({"kind": "residents"}), "application/json"),
                                                    (b"", "multipart/form-data")], ids=["json", "empty"])
def test_a_form_operation_sent_no_form_is_a_422_naming_the_missing_fields(send, key, body, content_type):
    response = send("/grids/imports", body, content_type, user="gridder_xfl", key=key)
    assert response.status_code == 422 and "kind" in response.json()["errors"]


def test_a_json_body_under_a_form_content_type_and_a_key_is_replayed_like_any_other(send):
    """The fingerprint reads such a body as the handler does, as bytes: the retry is the same request."""
    first = send("/cases", json.dumps(CASE), "multipart/form-data; boundary=xyz", key="k-2")
    again = send("/cases", json.dumps(CASE), "multipart/form-data; boundary=xyz", key="k-2")
    assert first.status_code == again.status_code
    assert first.content == again.content
    assert Case.objects.count() == (1 if first.status_code == 201 else 0)


def nested(depth: int) -> str:
    """A JSON value ``depth`` arrays deep, inside the field the intake schema ignores no more than any."""
    return "[" * depth + "]" * depth


@WITH_AND_WITHOUT_KEY
@pytest.mark.parametrize("depth", [jsonbody.MAX_DEPTH + 1, 1_000, 5_000, 100_000])
def test_json_nested_too_deep_is_refused(send, key, depth):
    response = send("/cases", nested(depth), "application/json", key=key)
    assert_bad_request(response, "嵌套过深", str(jsonbody.MAX_DEPTH))
    assert not Case.objects.exists()


@WITH_AND_WITHOUT_KEY
def test_json_nested_too_deep_inside_a_field_is_refused_too(send, key):
    """Deep inside ``form`` (a free dict in the schema) rather than at the top: refused by the parser before
    any validation, the control-character walk or the JSONField could recurse through it."""
    body = json.dumps({**CASE, "form": {**CASE["form"], "note": "@"}}).replace('"@"', nested(950))
    response = send("/cases", body, "application/json", key=key)
    assert_bad_request(response, "嵌套过深")


@WITH_AND_WITHOUT_KEY
def test_json_nested_to_the_limit_is_read(send, key):
    """At MAX_DEPTH the body is JSON like any other: the schema, not the parser, refuses a list for a case."""
    response = send("/cases", nested(jsonbody.MAX_DEPTH), "application/json", key=key)
    assert response.status_code == 422 and response.json()["code"] == "validation_failed"


def test_json_that_is_not_json_is_still_a_400_saying_so(send):
    assert_bad_request(send("/cases", "{not json", "application/json"), "JSON")
    assert_bad_request(send("/cases", '{"title": "\\ud800"}', "application/json"), "JSON")  # a lone surrogate
