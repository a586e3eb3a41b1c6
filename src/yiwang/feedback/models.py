"""好差评: one rating per finished case (一事一评), never editable (GB/T 39735)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.cases.models import Case
from yiwang.org.models import Unit


class Rating(models.IntegerChoices):
    VERY_DISSATISFIED = 1, _("非常不满意")
    DISSATISFIED = 2, _("不满意")
    BASICALLY_SATISFIED = 3, _("基本满意")
    SATISFIED = 4, _("满意")
    VERY_SATISFIED = 5, _("非常满意")


BAD_REVIEW_MAX = 2  # 不满意 and 非常不满意 are 差评


class RatingChannel(models.TextChoices):
    ONLINE = "online", _("网上(网站/App/小程序)")
    QR = "qr", _("窗口二维码")
    PAD = "pad", _("窗口评价器")
    KIOSK = "kiosk", _("自助终端")
    HOTLINE = "hotline", _("12345热线")
    SMS = "sms", _("短信")


OFFLINE_CHANNELS = {RatingChannel.PAD, RatingChannel.KIOSK, RatingChannel.HOTLINE}

# The national tag set (version 1): online and offline ratings tick different content tags.
TAGS_VERSION = 1
TAGS = {
    "online": {"overall": _("总体满意度"), "efficiency": _("办事效率"), "guide": _("指南准确"),
               "convenience": _("便捷程度"), "platform": _("平台好用")},
    "offline": {"overall": _("总体满意度"), "speed": _("办事速度"), "competence": _("业务能力"),
                "attitude": _("服务态度")},
}


class Evaluation(models.Model):
    case = models.OneToOneField(Case, models.PROTECT, related_name="evaluation")
    rating = models.PositiveSmallIntegerField(_("评价等级"), choices=Rating.choices)
    channel = models.CharField(_("评价渠道"), max_length=10, choices=RatingChannel.choices)
    tags = models.JSONField(_("评价内容"), default=list, blank=True)
    tags_version = models.PositiveSmallIntegerField(default=TAGS_VERSION)
    comment = models.TextField(_("评价意见"), blank=True)
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    # The unit and region that handled the case: ratings count in their indicators.
    handling_unit = models.ForeignKey(Unit, models.PROTECT, related_name="evaluations")
    region_path = models.CharField(max_length=255, db_index=True)
    created_at = models.DateTimeField()
    follow_up_case = models.OneToOneField(
        Case, models.PROTECT, null=True, blank=True, related_name="follow_up_of"
    )

    class Meta:
        verbose_name = _("好差评")
        verbose_name_plural = _("好差评")
        indexes = [models.Index(fields=["handling_unit", "rating"], name="evaluation_unit_idx")]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.rating}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("evaluations are never edited")
        super().save(*args, **kwargs)

    @property
    def is_bad(self) -> bool:
        return self.rating <= BAD_REVIEW_MAX


class RatingTally(models.Model):
    """Ratings by region, handling unit and level: a GROUP BY of evaluations kept in step by
    evaluation_create (evaluations are never edited), read by the indicators instead of a scan."""

    region_path = models.CharField(max_length=255)
    handling_unit_id = models.BigIntegerField()
    rating = models.PositiveSmallIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region_path", "handling_unit_id", "rating"],
                                               name="rating_tally_key")]

    def __str__(self) -> str:
        return f"{self.region_path} {self.handling_unit_id} {self.rating}: {self.n}"


class RatingMonthTally(models.Model):
    """Ratings by region, handling unit, level and local month of rating, kept in step like
    RatingTally (feedback.rollups): one month's satisfaction rate, readable from a checkpoint's file."""

    region_path = models.CharField(max_length=255)
    handling_unit_id = models.BigIntegerField()
    rating = models.PositiveSmallIntegerField()
    month = models.DateField()  # the first day of the local month of the rating
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region_path", "handling_unit_id", "rating", "month"],
                                               name="rating_month_tally_key")]
        indexes = [models.Index(fields=["month"], name="rating_month_tally_month_idx")]

    def __str__(self) -> str:
        return f"{self.region_path} {self.handling_unit_id} {self.rating} {self.month:%Y-%m}: {self.n}"
