from django.urls import path
from django.views.decorators.http import require_safe

from yiwang.party import views

app_name = "party"

urlpatterns = [
    path("", views.index, name="index"),
    # Restricted here, not on the view: pair_step renders views.pair for a refused POST's errors.
    path("pairs/<int:pair_id>/", require_safe(views.pair), name="pair"),
    path("pairs/<int:pair_id>/<str:step>/", views.pair_step, name="pair_step"),
    path("<str:code>/", views.branch, name="branch"),
    path("<str:code>/grouping/", views.grouping, name="grouping"),
]
