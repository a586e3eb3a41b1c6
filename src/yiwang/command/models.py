"""智能派单's stored state: trained model versions and the administrators' settings."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.org.models import Region


class DispatchModel(models.Model):
    """One trained version of the dispatch classifier for a district (its region subtree).

    The model itself is its numbers in ``blob`` (numpy's .npz: arrays and a JSON header, never a
    pickle; command/classifier.py), kept in the database so that every app server loads the same
    version; ``signature`` (an HMAC under the installation's secret key) is checked before it is
    read. One version per region is active; older ones stay for rollback.
    """

    created_at = models.DateTimeField(_("训练时间"))
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("适用区域"), db_index=False)
    # Copied from the region, as on every table that grows with use: scoping and sharding by prefix.
    region_path = models.CharField(max_length=255)
    trained_on = models.PositiveIntegerField(_("训练案件数"))
    labels = models.JSONField(_("类别与单位"), default=dict)  # {"categories": [...], "units": [...]}
    # Accuracy on a held-out split (the newest 20 % of the cases, by time), and the split's sizes.
    metrics = models.JSONField(_("评估指标"), default=dict)
    library = models.JSONField(_("依赖版本"), default=dict)
    blob = models.BinaryField(editable=False)
    signature = models.CharField(max_length=64, editable=False)
    active = models.BooleanField(_("启用"), default=False)
    trained_by = models.CharField(_("训练人"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("智能派单模型")
        verbose_name_plural = _("智能派单模型")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["region_path"], condition=models.Q(active=True),
                                    name="dispatch_model_one_active_per_region"),
        ]

    def __str__(self) -> str:
        return f"v{self.pk} {self.region_path} ({self.trained_on})"


class DispatchSettings(models.Model):
    """The one row of settings administrators edit: whether confident suggestions dispatch by
    themselves, from which confidence, and how many closed cases a training needs at least."""

    auto_enabled = models.BooleanField(_("自动派遣"), default=False)
    auto_threshold = models.FloatField(
        _("自动派遣置信度阈值"), default=0.9, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("0 到 1 之间；智能建议的单位置信度不低于此值时自动立案并派遣。"))
    min_training_cases = models.PositiveIntegerField(
        _("训练所需最少结案数"), default=200, validators=[MinValueValidator(10), MaxValueValidator(1_000_000)])
    updated_at = models.DateTimeField(_("修改时间"), null=True, blank=True)
    updated_by = models.CharField(_("修改人"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("智能派单设置")
        verbose_name_plural = _("智能派单设置")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
