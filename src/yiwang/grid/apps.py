from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GridConfig(AppConfig):
    name = "yiwang.grid"
    label = "grid"
    verbose_name = _("网格管理")

    def ready(self):
        # The grid's household data joins the retention sweep as its own kind (docs/retention.md); cases
        # sits below grid and cannot import it.
        from yiwang.cases import retention
        from yiwang.grid.retention import sweep_households

        retention.register("grid_household", sweep_households, default_days=3 * 365)
