"""Patrol teams (巡逻队), their randomised night shifts (班次), patrol logs and what patrols find.

The model follows the party members' night patrol of 瑞凝村: teams of three, every night after
midnight, at a time nobody outside can predict (不定时). A finding becomes an incident case; the
patrol records point at cases and never copy their life cycle (DESIGN §4).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.org.models import Region, Unit


class PatrolTeam(models.Model):
    name = models.CharField(_("名称"), max_length=100)
    # The body that answers for the team: a village party branch (党支部) or a patrol_team unit.
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="patrol_teams", verbose_name=_("所属单位"))
    region = models.ForeignKey(Region, models.PROTECT, related_name="patrol_teams", verbose_name=_("巡逻范围"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    team_size = models.PositiveSmallIntegerField(_("每班人数"), default=3)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("巡逻队")
        verbose_name_plural = _("巡逻队")
        ordering = ["region_path", "name"]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    team = models.ForeignKey(PatrolTeam, models.CASCADE, related_name="members", verbose_name=_("巡逻队"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="patrol_memberships",
                             verbose_name=_("队员"))
    # An inactive member (ill, away for work) stays on the roll and keeps their history, but is not drawn.
    active = models.BooleanField(_("在岗"), default=True)

    class Meta:
        verbose_name = _("巡逻队员")
        verbose_name_plural = _("巡逻队员")
        ordering = ["team", "id"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="patrol_member_unique")]

    def __str__(self) -> str:
        return f"{self.team} · {self.user}"


class PatrolWindow(models.Model):
    """When a shift of the team may start on a night, and how long it lasts.

    Times before noon belong to the morning after the night's date: a window 00:30–03:00 for the
    night of Monday starts early on Tuesday. A window may also cross midnight (23:30–01:00).
    """

    team = models.ForeignKey(PatrolTeam, models.CASCADE, related_name="windows", verbose_name=_("巡逻队"))
    # Weekdays of the evening a night begins (0 Monday … 6 Sunday); empty means every night.
    weekdays = models.JSONField(_("适用星期"), default=list, blank=True)
    earliest_start = models.TimeField(_("最早出发"), default=dt.time(0, 0))
    latest_start = models.TimeField(_("最晚出发"), default=dt.time(3, 0))
    duration_minutes = models.PositiveIntegerField(_("时长(分钟)"), default=120)

    class Meta:
        verbose_name = _("巡逻时段")
        verbose_name_plural = _("巡逻时段")
        ordering = ["team", "id"]

    def __str__(self) -> str:
        return f"{self.team} {self.earliest_start:%H:%M}–{self.latest_start:%H:%M}"


class ShiftState(models.TextChoices):
    PLANNED = "planned", _("待巡逻")
    STARTED = "started", _("巡逻中")
    DONE = "done", _("已完成")
    MISSED = "missed", _("未巡逻")


class Shift(models.Model):
    team = models.ForeignKey(PatrolTeam, models.CASCADE, related_name="shifts", verbose_name=_("巡逻队"))
    window = models.ForeignKey(PatrolWindow, models.SET_NULL, null=True, blank=True, related_name="+")
    night = models.DateField(_("夜间日期"), help_text=_("班次所属夜晚的日期(当晚)"))
    starts_at = models.DateTimeField(_("出发时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="ShiftMember", related_name="patrol_shifts",
                                     verbose_name=_("队员"))
    state = models.CharField(_("状态"), max_length=10, choices=ShiftState.choices, default=ShiftState.PLANNED)
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("排班人"))
    # The random seed the schedule was drawn with: the same seed over the same data gives the same plan.
    seed = models.BigIntegerField(_("随机种子"), null=True, blank=True)
    created_at = models.DateTimeField(_("排班时间"))
    region_path = models.CharField(max_length=255, editable=False)

    class Meta:
        verbose_name = _("巡逻班次")
        verbose_name_plural = _("巡逻班次")
        ordering = ["night", "starts_at", "id"]
        indexes = [models.Index(fields=["team", "night"], name="patrol_shift_team_night_idx"),
                   models.Index(fields=["region_path", "night"], name="patrol_shift_region_idx")]

    def __str__(self) -> str:
        return f"{self.team} {self.night}"


class ShiftMember(models.Model):
    shift = models.ForeignKey(Shift, models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    # Copied from the shift so the database itself refuses one person on two patrols in a night.
    night = models.DateField()
    region_path = models.CharField(max_length=255, editable=False)

    class Meta:
        verbose_name = _("班次队员")
        verbose_name_plural = _("班次队员")
        constraints = [models.UniqueConstraint(fields=["user", "night"], name="patrol_one_shift_a_night")]

    def __str__(self) -> str:
        return f"{self.shift} · {self.user}"


class PatrolLog(models.Model):
    """One patrol as walked: a team's shift, or a grid worker's own patrol (巡查签到) without a shift."""

    shift = models.ForeignKey(Shift, models.PROTECT, null=True, blank=True, related_name="logs",
                              verbose_name=_("班次"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="patrol_logs",
                             verbose_name=_("发起人"))
    started_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    # [{"lat": …, "lng": …, "at": ISO time}, …] in the order the points were checked in.
    track = models.JSONField(_("轨迹"), default=list, blank=True)
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("所在区域"))
    region_path = models.CharField(max_length=255, editable=False)

    class Meta:
        verbose_name = _("巡逻记录")
        verbose_name_plural = _("巡逻记录")
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["shift"], condition=models.Q(shift__isnull=False),
                                               name="patrol_one_log_per_shift")]
        indexes = [models.Index(fields=["region_path", "started_at"], name="patrol_log_region_idx"),
                   models.Index(fields=["user", "ended_at"], name="patrol_log_user_open_idx")]

    def __str__(self) -> str:
        return f"{self.user} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class Finding(models.Model):
    log = models.ForeignKey(PatrolLog, models.PROTECT, related_name="findings", verbose_name=_("巡逻记录"))
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                    verbose_name=_("发现人"))
    description = models.TextField(_("情况描述"))
    lat = models.FloatField()
    lng = models.FloatField()
    category = models.CharField(_("问题类别"), max_length=40, help_text=_("事件类事项编码，如 INC_THEFT"))
    # The stored photo's reference as cases/attachments.py returns it, or null.
    photo = models.JSONField(_("现场照片"), null=True, blank=True)
    case = models.ForeignKey("cases.Case", models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("转为事件"))
    created_at = models.DateTimeField(_("发现时间"))
    region_path = models.CharField(max_length=255, editable=False)

    class Meta:
        verbose_name = _("巡逻发现")
        verbose_name_plural = _("巡逻发现")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["region_path", "created_at"], name="patrol_finding_region_idx")]

    def __str__(self) -> str:
        return f"{self.category} {self.created_at:%Y-%m-%d %H:%M}"
