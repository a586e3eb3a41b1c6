from django.urls import path

from yiwang.party import views

app_name = "party"

urlpatterns = [
    path("", views.index, name="index"),
    path("pairs/<int:pair_id>/", views.pair, name="pair"),
    path("pairs/<int:pair_id>/<str:step>/", views.pair_step, name="pair_step"),
    path("<str:code>/", views.branch, name="branch"),
    path("<str:code>/grouping/", views.grouping, name="grouping"),
]
