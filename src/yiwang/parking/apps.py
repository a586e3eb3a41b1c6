from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParkingConfig(AppConfig):
    name = "yiwang.parking"
    label = "parking"
    verbose_name = _("停车管理")
