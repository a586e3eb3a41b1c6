from django.urls import path

from yiwang.grid import views

app_name = "grid"

urlpatterns = [
    path("", views.index, name="index"),
    path("<str:code>/", views.detail, name="detail"),
]
