from django.utils.functional import SimpleLazyObject

from yiwang.org.selectors import request_viewer


def viewer(request):
    """`viewer` in every template, and a resident's unread in-app messages (the header's 消息 badge),
    each built lazily: a page that shows neither queries nothing."""
    from yiwang.web.inbox import unread_count

    who = SimpleLazyObject(lambda: request_viewer(request))
    return {"viewer": who, "unread_messages": SimpleLazyObject(lambda: unread_count(who))}


def display(request):
    """`map_base`: the tile layers under every map (yiwang.core.maps), read by web/map.js; `care`:
    whether the visitor chose 长辈版 (web.care); `district`: the name and logo pages show (org.district)."""
    from yiwang.core.maps import base_layers
    from yiwang.org.district import identity
    from yiwang.web.care import is_on

    return {"map_base": base_layers(), "care": is_on(request), "district": identity()}
