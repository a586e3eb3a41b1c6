"""Parking (停车管理): zones and spaces with their tariffs, parking sessions, tagged places, and
violations (违法停车) with their penalties (处罚) and appeals.

A violation is an incident case (matter INC_PARKING); the parking rows point at the case and never
copy its life cycle (DESIGN §4). Every row that grows with use carries its region's path.
Money is Decimal yuan with two places (元, 2 位小数) everywhere.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.org.models import Region

MONEY = {"max_digits": 10, "decimal_places": 2}


class ZoneKind(models.TextChoices):
    ON_STREET = "on_street", _("路内泊位")
    LOT = "lot", _("停车场")


class Zone(models.Model):
    """A stretch of on-street spaces or a car park, run by one operator under one tariff."""

    code = models.CharField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=ZoneKind.choices)
    region = models.ForeignKey(Region, models.PROTECT, related_name="parking_zones", verbose_name=_("所在区域"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    lng = models.FloatField(_("经度"), null=True, blank=True)
    capacity = models.PositiveIntegerField(_("泊位数"), validators=[MinValueValidator(1)])
    operator = models.CharField(_("运营单位"), max_length=100, blank=True)
    # 免费时长: a stay this short costs nothing; a longer one is charged from the entry.
    free_minutes = models.PositiveIntegerField(_("免费时长(分钟)"), default=0)
    # 每24小时最高收费: counted in blocks of 24 hours from the entry, not per calendar day.
    daily_cap = models.DecimalField(_("24小时最高收费(元)"), **MONEY, null=True, blank=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("停车区域")
        verbose_name_plural = _("停车区域")
        ordering = ["region_path", "code"]

    def __str__(self) -> str:
        return self.name


class TariffPeriod(models.Model):
    """One time-of-day band of a zone's tariff (e.g. 白天 08:00–20:00, 夜间 20:00–次日08:00).

    A band whose end is not after its start runs past midnight; start == end is the whole day.
    Time not covered by any band is free.
    """

    zone = models.ForeignKey(Zone, models.CASCADE, related_name="periods", verbose_name=_("停车区域"))
    name = models.CharField(_("名称"), max_length=40, blank=True)
    start = models.TimeField(_("开始"))
    end = models.TimeField(_("结束"))
    unit_minutes = models.PositiveIntegerField(_("计费单位(分钟)"), validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(_("单价(元)"), **MONEY)
    # The most one uninterrupted stretch of this band costs (e.g. 夜间每次最高 5 元).
    cap = models.DecimalField(_("本时段最高(元)"), **MONEY, null=True, blank=True)

    class Meta:
        verbose_name = _("收费时段")
        verbose_name_plural = _("收费时段")
        ordering = ["zone", "start"]

    def __str__(self) -> str:
        return f"{self.zone} {self.start:%H:%M}–{self.end:%H:%M}"


class Space(models.Model):
    zone = models.ForeignKey(Zone, models.CASCADE, related_name="spaces", verbose_name=_("停车区域"))
    code = models.CharField(_("泊位编号"), max_length=20)
    region_path = models.CharField(max_length=255, editable=False)

    class Meta:
        verbose_name = _("泊位")
        verbose_name_plural = _("泊位")
        ordering = ["zone", "code"]
        constraints = [models.UniqueConstraint(fields=["zone", "code"], name="parking_space_unique_code")]

    def __str__(self) -> str:
        return f"{self.zone.code}-{self.code}"


class ParkingSession(models.Model):
    """One stay of one vehicle in a zone: entry, exit and the fee its zone's tariff gives."""

    zone = models.ForeignKey(Zone, models.PROTECT, related_name="sessions", verbose_name=_("停车区域"))
    space = models.ForeignKey(Space, models.PROTECT, null=True, blank=True, related_name="sessions",
                              verbose_name=_("泊位"))
    plate = models.CharField(_("车牌号"), max_length=10)
    entered_at = models.DateTimeField(_("入场时间"))
    exited_at = models.DateTimeField(_("出场时间"), null=True, blank=True)
    fee = models.DecimalField(_("停车费(元)"), **MONEY, null=True, blank=True)
    # The fee's pieces as computed at exit (band, times, units, amount), so a receipt can be explained.
    charges = models.JSONField(default=list, blank=True)
    region_path = models.CharField(max_length=255, editable=False)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")

    class Meta:
        verbose_name = _("停车记录")
        verbose_name_plural = _("停车记录")
        indexes = [
            models.Index(fields=["zone"], condition=models.Q(exited_at__isnull=True), name="parking_open_idx"),
            models.Index(fields=["region_path", "entered_at"], name="parking_session_region_idx"),
        ]
        constraints = [
            # A vehicle is in one place at a time: a second entry before its exit is refused.
            models.UniqueConstraint(fields=["plate"], condition=models.Q(exited_at__isnull=True),
                                    name="parking_one_open_session_per_plate"),
            models.UniqueConstraint(fields=["space"], condition=models.Q(exited_at__isnull=True, space__isnull=False),
                                    name="parking_one_open_session_per_space"),
        ]

    def __str__(self) -> str:
        return f"{self.plate} @ {self.zone.code}"


class PlaceKind(models.TextChoices):
    SCHOOL = "school", _("学校")
    MALL = "mall", _("商场")
    HOSPITAL = "hospital", _("医院")
    STATION = "station", _("车站")
    MARKET = "market", _("集市")
    OTHER = "other", _("其他")


class TaggedPlace(models.Model):
    """A place where parking trouble gathers (学校、商场、医院): hotspots are counted around it."""

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=PlaceKind.choices)
    lat = models.FloatField(_("纬度"))
    lng = models.FloatField(_("经度"))
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("所在区域"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)

    class Meta:
        verbose_name = _("重点场所")
        verbose_name_plural = _("重点场所")
        ordering = ["region_path", "name"]

    def __str__(self) -> str:
        return self.name


class Source(models.TextChoices):
    PATROL = "patrol", _("巡查")
    CAMERA = "camera", _("抓拍")
    REPORT = "report", _("群众举报")


class Violation(models.Model):
    """违法停车: a vehicle seen parked against the rules, with its evidence; opens an incident case."""

    plate = models.CharField(_("车牌号"), max_length=10)
    observed_at = models.DateTimeField(_("发现时间"))
    # Local hour (0–23) and weekday (0 Monday … 6 Sunday) of observed_at, written once: hotspot
    # figures group by them, and a stored column groups the same way on SQLite and PostgreSQL.
    hour = models.PositiveSmallIntegerField(editable=False)
    weekday = models.PositiveSmallIntegerField(editable=False)
    lat = models.FloatField(_("纬度"))
    lng = models.FloatField(_("经度"))
    address = models.CharField(_("地点"), max_length=200, blank=True)
    description = models.TextField(_("描述"), blank=True)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices)
    photos = models.JSONField(_("照片"), default=list, blank=True)
    zone = models.ForeignKey(Zone, models.PROTECT, null=True, blank=True, related_name="violations",
                             verbose_name=_("停车区域"))
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("所在网格"))
    region_path = models.CharField(max_length=255, editable=False)
    case = models.OneToOneField("cases.Case", models.PROTECT, related_name="parking_violation",
                                verbose_name=_("案件"))
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("登记时间"))

    class Meta:
        verbose_name = _("违法停车")
        verbose_name_plural = _("违法停车")
        indexes = [
            models.Index(fields=["region_path", "observed_at"], name="parking_violation_region_idx"),
            models.Index(fields=["plate", "observed_at"], name="parking_violation_plate_idx"),
            models.Index(fields=["observed_at"], name="parking_violation_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plate} {self.observed_at:%Y-%m-%d %H:%M}"


class Decision(models.TextChoices):
    WARNING = "warning", _("警告")
    FINE = "fine", _("罚款")


class PenaltyRule(models.Model):
    """Which penalty a violation earns, by where it happened and how often the vehicle did it before.

    Blank zone kind or place kind matches any. Among the matching rules the one for the most earlier
    penalties wins, then the more specific (a place kind before a zone kind before neither).
    """

    name = models.CharField(_("名称"), max_length=100)
    zone_kind = models.CharField(_("区域类型"), max_length=20, choices=ZoneKind.choices, blank=True)
    place_kind = models.CharField(_("附近场所"), max_length=20, choices=PlaceKind.choices, blank=True)
    min_repeat = models.PositiveSmallIntegerField(_("此前处罚次数不少于"), default=0)
    decision = models.CharField(_("处罚"), max_length=10, choices=Decision.choices)
    amount = models.DecimalField(_("罚款金额(元)"), **MONEY, default=Decimal("0.00"))
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("处罚规则")
        verbose_name_plural = _("处罚规则")
        ordering = ["min_repeat", "id"]

    def __str__(self) -> str:
        return self.name


class PaymentState(models.TextChoices):
    NONE = "none", _("无需缴款")  # a warning
    UNPAID = "unpaid", _("未缴款")
    PAID = "paid", _("已缴款")
    WAIVED = "waived", _("已撤销")  # overturned on appeal


class Penalty(models.Model):
    violation = models.OneToOneField(Violation, models.PROTECT, related_name="penalty", verbose_name=_("违法停车"))
    decision = models.CharField(_("处罚"), max_length=10, choices=Decision.choices)
    amount = models.DecimalField(_("罚款金额(元)"), **MONEY)
    rule = models.ForeignKey(PenaltyRule, models.SET_NULL, null=True, blank=True, related_name="+")
    # Earlier penalties of the same vehicle the rule was chosen on: the decision stays explainable
    # after later appeals change the count.
    repeat_count = models.PositiveSmallIntegerField(_("此前处罚次数"), default=0)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("决定时间"))
    unit = models.ForeignKey("org.Unit", models.PROTECT, related_name="+", verbose_name=_("处罚单位"))
    state = models.CharField(_("缴款状态"), max_length=10, choices=PaymentState.choices)
    paid_at = models.DateTimeField(_("缴款时间"), null=True, blank=True)
    payment_reference = models.CharField(_("缴款凭证号"), max_length=64, blank=True)
    plate = models.CharField(_("车牌号"), max_length=10, db_index=True, editable=False)
    region_path = models.CharField(max_length=255, db_index=True, editable=False)

    class Meta:
        verbose_name = _("处罚决定")
        verbose_name_plural = _("处罚决定")

    def __str__(self) -> str:
        return f"{self.plate} {self.get_decision_display()} {self.amount}"


class AppealState(models.TextChoices):
    PENDING = "pending", _("待处理")
    UPHELD = "upheld", _("维持原处罚")
    OVERTURNED = "overturned", _("撤销处罚")


class Appeal(models.Model):
    """申诉 against a penalty: one per penalty, decided by someone other than who imposed it."""

    penalty = models.OneToOneField(Penalty, models.PROTECT, related_name="appeal", verbose_name=_("处罚决定"))
    reason = models.TextField(_("申诉理由"))
    state = models.CharField(_("状态"), max_length=12, choices=AppealState.choices, default=AppealState.PENDING)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(_("申诉时间"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    note = models.TextField(_("处理意见"), blank=True)
    region_path = models.CharField(max_length=255, db_index=True, editable=False)

    class Meta:
        verbose_name = _("申诉")
        verbose_name_plural = _("申诉")

    def __str__(self) -> str:
        return f"{self.penalty} · {self.get_state_display()}"
