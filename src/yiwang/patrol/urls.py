from django.urls import path

from yiwang.patrol import views

app_name = "patrol"

urlpatterns = [
    path("", views.index, name="index"),
    path("teams/<int:team_id>/", views.team_page, name="team"),
    path("teams/<int:team_id>/generate/", views.team_generate, name="team_generate"),
    path("me/", views.my_shifts, name="me"),
    path("shifts/<int:shift_id>/start/", views.shift_start, name="shift_start"),
    path("logs/<int:log_id>/", views.log_page, name="log"),
    path("logs/<int:log_id>/check-in/", views.log_check_in, name="log_check_in"),
    path("logs/<int:log_id>/finish/", views.log_finish, name="log_finish"),
    path("logs/<int:log_id>/findings/", views.finding_create, name="finding_create"),
    path("check-in/", views.check_in, name="check_in"),
    path("check-in/finish/", views.check_in_finish, name="check_in_finish"),
]
