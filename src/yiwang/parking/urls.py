from django.urls import path

from yiwang.parking import views

app_name = "parking"

urlpatterns = [
    path("", views.zones, name="zones"),
    path("gate/", views.gate, name="gate"),
    path("violations/", views.violations, name="violations"),
    path("violations/<int:violation_id>/", views.violation, name="violation"),
    path("violations/<int:violation_id>/penalty/", views.decide, name="decide"),
    path("violations/<int:violation_id>/payment/", views.pay, name="pay"),
    path("violations/<int:violation_id>/appeal/", views.appeal, name="appeal"),
    path("violations/<int:violation_id>/appeal/decision/", views.judge, name="judge"),
    path("hotspots/", views.hotspots, name="hotspots"),
]
