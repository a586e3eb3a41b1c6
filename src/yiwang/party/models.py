"""Party branches' members, characteristic party groups (特色党小组) and one-to-one assistance pairs
(一对一帮扶).

A branch is an org.Unit of kind party_branch. Members are people, most without an account. An
assistance pair's life cycle (visits, measures, income, 脱贫, monitoring) is its case of kind
``assistance``: the rows here only point at that case and keep what a ledger must sum or list
(income records, measures with the application they opened). Every table copies its region's path
into ``region_path`` so scoping is the one prefix filter (org.selectors.scope_q) and a national
deployment can shard by it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.cases.models import Case
from yiwang.org.models import Resident, Unit

BRANCH_ONLY = {"kind": "party_branch"}


class Gender(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class PartyMember(models.Model):
    branch = models.ForeignKey(Unit, models.PROTECT, related_name="party_members", limit_choices_to=BRANCH_ONLY,
                               verbose_name=_("党支部"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    name = models.CharField(_("姓名"), max_length=50)
    gender = models.CharField(_("性别"), max_length=10, choices=Gender.choices)
    birth_date = models.DateField(_("出生日期"))
    joined_on = models.DateField(_("入党日期"), null=True, blank=True)
    occupation = models.CharField(_("职业"), max_length=100, blank=True)
    # 从业经历 as short tags (养殖, 种植, 务工 …): the grouping proposal spreads them over the groups.
    experience = models.JSONField(_("从业经历"), default=list, blank=True)
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                             related_name="party_memberships", verbose_name=_("账号"))
    resident = models.ForeignKey(Resident, models.SET_NULL, null=True, blank=True, related_name="party_memberships",
                                 verbose_name=_("居民档案"))
    active = models.BooleanField(_("在册"), default=True)

    class Meta:
        verbose_name = _("党员")
        verbose_name_plural = _("党员")
        ordering = ["region_path", "birth_date", "id"]
        indexes = [models.Index(fields=["branch", "active"])]

    def __str__(self) -> str:
        return self.name


class GroupKind(models.TextChoices):
    """The characteristic groups the 2019 report names; any other is a custom group."""

    WEALTH = "wealth", _("致富之星")
    SERVICE = "service", _("服务之星")
    YOUTH = "youth", _("青春之星")
    CUSTOM = "custom", _("其他")


class PartyGroup(models.Model):
    branch = models.ForeignKey(Unit, models.CASCADE, related_name="party_groups", limit_choices_to=BRANCH_ONLY,
                               verbose_name=_("党支部"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    name = models.CharField(_("名称"), max_length=50)
    kind = models.CharField(_("类型"), max_length=20, choices=GroupKind.choices, default=GroupKind.CUSTOM)
    leader = models.ForeignKey(PartyMember, models.SET_NULL, null=True, blank=True, related_name="+",
                               verbose_name=_("党小组组长"))
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("党小组")
        verbose_name_plural = _("党小组")
        ordering = ["branch", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["branch", "name"], name="party_group_unique_name")]

    def __str__(self) -> str:
        return self.name


class GroupMembership(models.Model):
    """A member's place in one group of their branch: at most one group per member."""

    group = models.ForeignKey(PartyGroup, models.CASCADE, related_name="memberships")
    member = models.OneToOneField(PartyMember, models.CASCADE, related_name="group_membership")
    region_path = models.CharField(max_length=255, db_index=True, editable=False)

    class Meta:
        verbose_name = _("党小组成员")
        verbose_name_plural = _("党小组成员")

    def __str__(self) -> str:
        return f"{self.group} · {self.member}"


class AssistancePair(models.Model):
    """一对一帮扶: a party member paired with a poor household, whose life cycle is ``case``."""

    branch = models.ForeignKey(Unit, models.PROTECT, related_name="assistance_pairs", limit_choices_to=BRANCH_ONLY,
                               verbose_name=_("党支部"))
    member = models.ForeignKey(PartyMember, models.PROTECT, related_name="pairs", verbose_name=_("帮扶党员"))
    resident = models.ForeignKey(Resident, models.PROTECT, related_name="assistance_pairs",
                                 verbose_name=_("贫困户"))
    household = models.ForeignKey("grid.Household", models.SET_NULL, null=True, blank=True, related_name="+",
                                  verbose_name=_("户"))
    case = models.OneToOneField(Case, models.PROTECT, related_name="assistance_pair", verbose_name=_("帮扶案件"))
    needs = models.TextField(_("帮扶需求"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("一对一帮扶")
        verbose_name_plural = _("一对一帮扶")
        ordering = ["region_path", "id"]

    def __str__(self) -> str:
        return f"{self.member} → {self.resident}"


class MeasureKind(models.TextChoices):
    LAND_TRANSFER = "land_transfer", _("土地流转")
    SUBSISTENCE = "subsistence", _("申办低保")
    JOB_INFO = "job_info", _("务工信息")
    INDUSTRY = "industry", _("产业帮扶")
    MEDICAL = "medical", _("医疗救助")
    EDUCATION = "education", _("教育资助")
    OTHER = "other", _("其他")


class Measure(models.Model):
    """A measure taken for a pair (the case's add_measure event), with the application it opened."""

    pair = models.ForeignKey(AssistancePair, models.CASCADE, related_name="measures")
    kind = models.CharField(_("措施"), max_length=20, choices=MeasureKind.choices)
    description = models.TextField(_("内容"))
    # 申办低保: the application case opened on the household's behalf.
    application = models.OneToOneField(Case, models.PROTECT, null=True, blank=True, related_name="+",
                                       verbose_name=_("申请办件"))
    event_seq = models.PositiveIntegerField()
    taken_at = models.DateTimeField()
    region_path = models.CharField(max_length=255, db_index=True, editable=False)

    class Meta:
        verbose_name = _("帮扶措施")
        verbose_name_plural = _("帮扶措施")
        ordering = ["pair", "taken_at", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()


class IncomeSource(models.TextChoices):
    WAGES = "wages", _("务工收入")
    FARMING = "farming", _("种养殖收入")
    LAND_TRANSFER = "land_transfer", _("土地流转收入")
    BUSINESS = "business", _("经营收入")
    TRANSFER = "transfer", _("转移性收入(低保、补贴)")
    OTHER = "other", _("其他")


class IncomeRecord(models.Model):
    """A household's income of one month from one source, written with its record_income event."""

    pair = models.ForeignKey(AssistancePair, models.CASCADE, related_name="incomes")
    year = models.PositiveSmallIntegerField(_("年"))
    month = models.PositiveSmallIntegerField(_("月"))
    amount = models.DecimalField(_("金额(元)"), max_digits=12, decimal_places=2)
    source = models.CharField(_("来源"), max_length=20, choices=IncomeSource.choices)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    event_seq = models.PositiveIntegerField()
    recorded_at = models.DateTimeField()
    region_path = models.CharField(max_length=255, db_index=True, editable=False)

    class Meta:
        verbose_name = _("收入记录")
        verbose_name_plural = _("收入记录")
        ordering = ["pair", "year", "month", "source"]
        constraints = [
            models.UniqueConstraint(fields=["pair", "year", "month", "source"], name="income_unique_month_source"),
            models.CheckConstraint(condition=models.Q(month__gte=1, month__lte=12), name="income_month_1_12"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="income_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d} {self.amount}"
