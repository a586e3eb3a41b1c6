"""Leaders' dashboard (being built; see issue [2/6])."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from yiwang.org.selectors import request_viewer
from yiwang.stats.selectors import indicators


@login_required(login_url="web:login")
def dashboard(request):
    data = indicators(viewer=request_viewer(request), region_code=request.GET.get("region") or None)
    return render(request, "stats/dashboard.html", {"data": data})
