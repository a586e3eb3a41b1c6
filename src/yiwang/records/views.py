"""Public pages: the signed checkpoints and the receipt check (docs/checkpoints.md). No login."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from yiwang.core import forms
from yiwang.core.errors import DomainError
from yiwang.records import checkpoints, selectors, signing

PAGE = 30


@require_safe
def checkpoint_list(request: HttpRequest) -> HttpResponse:
    before = forms.optional_integer(request.GET.get("before"), "before", minimum=1)
    rows = selectors.checkpoint_list(limit=PAGE + 1, before=before)
    key = signing.public_key()
    return render(request, "records/checkpoints.html", {
        "checkpoints": rows[:PAGE], "older": rows[PAGE - 1].number if len(rows) > PAGE else None,
        "key_id": signing.key_id(key), "public_key": signing.public_b64(key), "keys": selectors.signing_keys()})


@require_safe
def checkpoint_file(request: HttpRequest, number: int) -> HttpResponse:
    cp = selectors.checkpoint_get(number)
    response = HttpResponse(checkpoints.canonical(selectors.checkpoint_document(cp)),
                            content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="yiwang-checkpoint-{cp.number}.json"'
    return response


@require_safe
def receipt_check(request: HttpRequest) -> HttpResponse:
    number = request.GET.get("number", "")
    hash_ = request.GET.get("hash", "")
    context: dict = {"number": number.strip()[:40], "hash": hash_.strip()[:80], "errors": {}}
    status = 200
    if "number" in request.GET or "hash" in request.GET:
        try:
            context["result"] = selectors.receipt_check(number=number, hash_=hash_)
        except DomainError as exc:
            context["errors"] = exc.errors or {"general": [exc.message]}
            status = exc.status
    return render(request, "records/receipt_check.html", context, status=status)
