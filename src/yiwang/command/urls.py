from django.urls import path

from yiwang.command import views

app_name = "command"

urlpatterns = [
    path("", views.board, name="board"),
    path("cases/<int:case_id>/dispatch/", views.dispatch, name="dispatch"),
    path("dispatch/", views.dispatch_bulk, name="dispatch_bulk"),
    path("cases/<int:case_id>/merge/", views.merge, name="merge"),
]
