"""POST /api/v1/cases renders its answer without ninja re-validating it: the bytes must be exactly what
rendering through the CaseOut schema gives, for a new case (201) and for a replay by the case's key (200)."""

import pytest
from django.test import RequestFactory

from yiwang.api import api as ninja_api
from yiwang.cases import api as cases_api
from yiwang.cases.api import CaseOut
from yiwang.testing import SENIOR_OK


@pytest.fixture
def answers(monkeypatch):
    """Every case_summary() the endpoint renders, as the dict it rendered."""
    seen = []
    real = cases_api.case_summary

    def spy(case):
        seen.append(real(case))
        return seen[-1]

    monkeypatch.setattr(cases_api, "case_summary", spy)
    return seen


def _through_schema(summary: dict, status: int) -> bytes:
    validated = CaseOut.model_validate(summary).model_dump()
    return ninja_api.create_response(RequestFactory().get("/"), validated, status=status).content


def _submit(api, **headers):
    body = {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "applicant_name": "王大爷",
            "applicant_phone": "13800000001", "channel": "hall", **SENIOR_OK}
    return api("post", "/cases", "clerk_xfl", body, **headers)


def test_a_new_cases_answer_is_what_the_caseout_schema_renders(api, answers):
    response = _submit(api)
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.content == _through_schema(answers[-1], 201)
    assert set(response.json()) == set(CaseOut.model_fields)


def test_a_replay_by_the_cases_own_key_answers_200_in_the_same_shape(api, answers):
    from yiwang.core.models import IdempotencyRecord

    first = _submit(api, HTTP_IDEMPOTENCY_KEY="k-1")
    IdempotencyRecord.objects.all().delete()  # the stored answer expired: the case's own key answers
    again = _submit(api, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 200 and again.json()["number"] == first.json()["number"]
    assert again.content == _through_schema(answers[-1], 200)
