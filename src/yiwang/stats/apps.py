from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatisticsConfig(AppConfig):
    name = "yiwang.stats"
    label = "stats"
    verbose_name = _("统计")
