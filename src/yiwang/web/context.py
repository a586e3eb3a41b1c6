from django.utils.functional import SimpleLazyObject

from yiwang.org.selectors import request_viewer


def viewer(request):
    """`viewer` in every template, built lazily."""
    return {"viewer": SimpleLazyObject(lambda: request_viewer(request))}
