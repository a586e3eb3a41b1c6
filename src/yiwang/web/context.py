from django.utils.functional import SimpleLazyObject

from yiwang.org.selectors import Viewer, viewer_for


def request_viewer(request) -> Viewer:
    """Who is asking, built at most once per request (pages and templates share it)."""
    if not hasattr(request, "_yiwang_viewer"):
        request._yiwang_viewer = viewer_for(getattr(request, "user", None))
    return request._yiwang_viewer


def viewer(request):
    return {"viewer": SimpleLazyObject(lambda: request_viewer(request))}
