"""The maps' shared base when no tile server is configured: the grid outlines (yiwang.core.maps)."""

from __future__ import annotations

from django.core.cache import cache
from django.http import JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from yiwang.core.maps import outlines as grid_outlines

CACHE_SECONDS = 600


@require_safe
@cache_control(public=True, max_age=CACHE_SECONDS)
def outlines(request):
    """Public: grid boundaries are drawn on the public report page already, and hold no personal data."""
    data = cache.get("yiwang:maps:outlines")
    if data is None:
        data = grid_outlines()
        cache.set("yiwang:maps:outlines", data, CACHE_SECONDS)
    return JsonResponse(data)
