"""The GeoReport v2 endpoint at /open311/v2/. Thin: arguments in, one selector or service, a body out.

Plain Django views rather than django-ninja: the formats and the error shape are the spec's, not
yiwang's OpenAPI. Reads are public (GeoReport v2); POST requests needs an api_key.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from yiwang.core.errors import Conflict, DomainError, IllegalTransition, NotFound, PermissionDenied
from yiwang.open311 import selectors, services
from yiwang.open311.formats import FORMATS, error, render
from yiwang.org import district
from yiwang.org.selectors import hierarchy

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS_MIME = ("application/json", "text/xml")

# Our field names as a client knows them from the spec (case_create says lng, form.X, region_code).
_SPEC_FIELD = {"lng": "long", "region_code": "address_id", "matter_code": "service_code", "photo": "media"}


def _status(exc: DomainError) -> int:
    """GeoReport v2 statuses: 400 bad arguments, 403 bad api_key, 404 unknown service or request."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, Conflict | IllegalTransition):
        return 409
    return 400


def _descriptions(exc: DomainError) -> list[str]:
    out = []
    for name, messages in exc.errors.items():
        name = f"attribute[{name[5:]}]" if name.startswith("form.") else _SPEC_FIELD.get(name, name)
        out.extend(f"{name}: {message}" for message in messages)
    return out or [exc.message]


def endpoint(*methods: str):
    """Check the format and method, and answer any domain error in the spec's error format."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, fmt: str, **kwargs):
            if fmt not in FORMATS:
                return error("json", 404, _("不支持的格式 .%(f)s：请用 .json 或 .xml。") % {"f": fmt})
            if request.method not in methods:
                response = error(fmt, 405, _("此处只接受 %(m)s 请求。") % {"m": "、".join(methods)})
                response["Allow"] = ", ".join(methods)
                return response
            try:
                response = view(request, *args, fmt=fmt, **kwargs)
            except DomainError as exc:
                return error(fmt, _status(exc), *_descriptions(exc))
            if request.method == "GET":
                response["Access-Control-Allow-Origin"] = "*"  # public data, read by browser apps too
            return response

        return csrf_exempt(wrapper)

    return decorate


def _regions(request):
    return selectors.jurisdiction(request.GET.get("jurisdiction_id") or request.POST.get("jurisdiction_id") or None)


@endpoint("GET")
def discovery(request, fmt: str):
    selectors.jurisdiction(request.GET.get("jurisdiction_id") or None)
    base = request.build_absolute_uri(reverse("open311:discovery", kwargs={"fmt": fmt})).rsplit("/", 1)[0]
    changeset = selectors.w3c(selectors.services_changed_at())
    return render(fmt, "discovery", {
        "changeset": changeset,
        "contact": district.identity().open311_contact(),
        "key_service": _("POST 上报需要 api_key，由平台管理员用 yiwang open311-key 名称 签发。"),
        "endpoints": [{"specification": SPECIFICATION, "url": base, "changeset": changeset,
                       "type": "test" if settings.DEBUG else "production", "formats": list(FORMATS_MIME)}],
    })


@endpoint("GET")
def services_list(request, fmt: str):
    _regions(request)
    return render(fmt, "services", selectors.service_list())


@endpoint("GET")
def service_definition(request, code: str, fmt: str):
    _regions(request)
    return render(fmt, "service_definition", selectors.service_definition(code))


@endpoint("GET", "POST")
def service_requests(request, fmt: str):
    if request.method == "POST":
        return _submit(request, fmt)
    filters = selectors.RequestFilters.from_query(request.GET)
    return render(fmt, "service_requests", selectors.request_search(regions=_regions(request), filters=filters))


def _submit(request, fmt: str):
    # Some clients put api_key and jurisdiction_id in the query string of the POST.
    data = request.GET.copy()
    for key in request.POST:
        data.setlist(key, request.POST.getlist(key))
    reporter = services.reporter_for(data.get("api_key", ""))
    if reporter is None:
        return error(fmt, 403, _("api_key 缺失、无效或已吊销。"))
    api_key, viewer = reporter
    received = services.request_submit(api_key=api_key, report=services.Report.from_form(data),
                                       media=request.FILES.get("media"), viewer=viewer)
    case = received.submission.case
    body = [{
        "service_request_id": case.number, "token": received.submission.token,
        "service_notice": _("已交由%(unit)s处理，请凭编号 %(number)s 查询进展。")
        % {"unit": hierarchy().units[case.holder_unit_id].name, "number": case.number},
        "account_id": received.submission.account_id or None,
    }]
    return render(fmt, "service_requests", body, status=200 if received.replayed else 201)


@endpoint("GET")
def service_request(request, number: str, fmt: str):
    return render(fmt, "service_requests", [selectors.request_get(regions=_regions(request), number=number)])


@endpoint("GET")
def token(request, token: str, fmt: str):
    return render(fmt, "service_requests", [selectors.token_get(regions=_regions(request), token=token)])
