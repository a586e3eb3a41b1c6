from django.urls import path

from yiwang.grid import views

app_name = "grid"

urlpatterns = [
    path("", views.index, name="index"),
    path("<str:code>/", views.detail, name="detail"),
    path("<str:code>/residents/<int:resident_id>/reveal-id/", views.resident_reveal_id, name="reveal_id"),
]
