from django.urls import path

from yiwang.stats import views

app_name = "stats"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export.xlsx", views.breakdown_export, name="export"),
    path("cases/", views.cases, name="cases"),
    path("incidents/", views.incidents, name="incidents"),
    path("cases/export.xlsx", views.cases_export, name="cases_export"),
]
