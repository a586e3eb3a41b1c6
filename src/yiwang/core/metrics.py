"""Prometheus metrics (/metrics) with prometheus-client: what each process measures, and who may read them.

Two kinds of figure, kept apart on purpose:

- **Request latency** is measured in the process that served the request. granian runs several worker
  processes, and a scrape reaches one of them, so `yiwang serve` sets PROMETHEUS_MULTIPROC_DIR (a
  directory under var/, emptied at each start): every process writes its histograms there, and the
  answering process sums them all (prometheus_client's multiprocess mode). Without it (`runserver`,
  tests) the histograms are this process's own.
- **Everything the database knows** (cases, the outbox, the worker's heartbeat) is read at scrape time
  by a collector (cases/observability.py): counted once, from the tallies and indexed queries, and the
  same whichever process answers. A counter kept in each process would lose its count at every restart
  and would count nothing that the importer or the worker did.

A public /metrics would publish the district's volumes minute by minute, so it is refused unless the
scraper presents YIWANG_METRICS_TOKEN as a bearer token; with no token configured, only a direct
loopback caller (no proxy header) may read it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

# Seconds; a page is expected well under 100 ms and a report or an export may take seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_LATENCY = Histogram(
    "yiwang_http_request_duration_seconds",
    "Time to answer a request, by the URL pattern's name (never the raw path), method and status class.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)


# (route, method, status class) → its histogram child: labels() validates and looks the labels up under
# a lock on every call. Routes are URL pattern names, so the map stays as small as the URL conf.
_children: dict[tuple[str, str, int], Histogram] = {}


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status // 100)
    child = _children.get(key)
    if child is None:
        child = _children[key] = REQUEST_LATENCY.labels(route=route, method=method, status=f"{status // 100}xx")
    child.observe(seconds)


def may_read_metrics(request: HttpRequest) -> bool:
    token = settings.YIWANG_METRICS_TOKEN
    if token:
        presented = request.META.get("HTTP_AUTHORIZATION", "")
        return hmac.compare_digest(presented.encode(), f"Bearer {token}".encode())
    if request.META.get("HTTP_X_FORWARDED_FOR") or request.META.get("HTTP_X_REAL_IP"):
        return False  # came through a proxy: the loopback address is the proxy's, not the caller's
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def exposition(*registries: CollectorRegistry) -> bytes:
    """This process's (or every process's) own metrics, then those of ``registries``."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own = CollectorRegistry()
        MultiProcessCollector(own)
    else:
        own = REGISTRY
    return b"".join(generate_latest(registry) for registry in (own, *registries))


def metrics_response(request: HttpRequest, *registries: CollectorRegistry) -> HttpResponse:
    if not may_read_metrics(request):
        return JsonResponse({"detail": "metrics need the scraper's bearer token (YIWANG_METRICS_TOKEN)"},
                            status=403)
    response = HttpResponse(exposition(*registries), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
