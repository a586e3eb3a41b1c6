from django.utils.functional import SimpleLazyObject

from yiwang.org.selectors import request_viewer


def viewer(request):
    """`viewer` in every template, built lazily."""
    return {"viewer": SimpleLazyObject(lambda: request_viewer(request))}


def display(request):
    """`map_base`: the tile layers under every map (yiwang.core.maps), read by web/map.js; `care`:
    whether the visitor chose 长辈版 (web.care)."""
    from yiwang.core.maps import base_layers
    from yiwang.web.care import is_on

    return {"map_base": base_layers(), "care": is_on(request)}
