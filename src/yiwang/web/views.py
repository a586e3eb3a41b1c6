from django.shortcuts import render

from yiwang.catalog.selectors import matter_list


def home(request):
    """A plain landing page until the resident portal arrives (issue [2/6])."""
    return render(request, "web/home.html", {"matters": matter_list()})
