"""Research topics (调研课题) and their visits (调研); problem lists (问题清单) and the rectification
ledger (整改台账) of batches.

A rectification item's life cycle is its case's (kind ``rectification``, cases/workflows.py): the
item holds only what the ledger adds — which list and batch it belongs to, the problem, the measures,
立行立改 or long-term, the visit it came from. Every table copies its region's path into
``region_path`` so that scoping is the one prefix filter (org.selectors.scope_q) and a national
deployment can shard by top-level region; a region's code never changes, so the copy stays true.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.cases.models import Case
from yiwang.catalog.models import Matter
from yiwang.org.models import Level, Region, Unit


class Field(models.TextChoices):
    """The directions the 2019 主题教育 told leaders to research."""

    URBAN = "urban", _("城市发展")
    ECONOMY = "economy", _("经济增长")
    INDUSTRY = "industry", _("产业结构")
    REFORM = "reform", _("改革创新")
    PARTY = "party", _("党的建设")
    LIVELIHOOD = "livelihood", _("民生难题")


class ResearchTopic(models.Model):
    """调研课题, set out as 问题是什么、症结在哪、今后怎么办."""

    title = models.CharField(_("课题名称"), max_length=200)
    field = models.CharField(_("领域"), max_length=20, choices=Field.choices)
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", verbose_name=_("牵头单位"))
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("区域"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    # The level of the leading body (新区/新城/街镇), counted as the source reports topics.
    level = models.CharField(_("层级"), max_length=10, choices=Level.choices)
    leader = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("牵头领导"))
    leader_name = models.CharField(_("牵头领导"), max_length=50)
    problem = models.TextField(_("问题是什么"))
    crux = models.TextField(_("症结在哪"))
    plan = models.TextField(_("今后怎么办"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("登记时间"))

    class Meta:
        verbose_name = _("调研课题")
        verbose_name_plural = _("调研课题")
        indexes = [models.Index(fields=["region_path", "created_at"], name="ledger_topic_region_idx")]

    def __str__(self) -> str:
        return self.title


class ResearchVisit(models.Model):
    """One 调研 of a topic: when, where, whom the leader met and what they found."""

    topic = models.ForeignKey(ResearchTopic, models.PROTECT, related_name="visits")
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    visited_on = models.DateField(_("调研日期"))
    place = models.CharField(_("调研地点"), max_length=200)
    people_met = models.CharField(_("座谈/走访对象"), max_length=500, blank=True)
    findings = models.TextField(_("发现的问题"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        verbose_name = _("调研记录")
        verbose_name_plural = _("调研记录")
        ordering = ["visited_on", "id"]

    def __str__(self) -> str:
        return f"{self.visited_on} {self.place}"


class Batch(models.Model):
    """整改批次, e.g. the first of two batches of weak grassroots party organisations (软弱涣散基层党组织).

    A batch passes acceptance (验收) when every item of it has; the supervising unit's leader then
    records the batch's acceptance with its conclusion.
    """

    title = models.CharField(_("批次名称"), max_length=200)
    matter = models.ForeignKey(Matter, models.PROTECT, related_name="+", verbose_name=_("整改事项类别"))
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("区域"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    supervisor_unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", verbose_name=_("验收单位"))
    due_on = models.DateField(_("整改时限"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField()
    accepted_at = models.DateTimeField(_("验收时间"), null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    acceptance_note = models.TextField(_("验收结论"), blank=True)

    class Meta:
        verbose_name = _("整改批次")
        verbose_name_plural = _("整改批次")

    def __str__(self) -> str:
        return self.title


class ProblemList(models.Model):
    """问题清单 of one object of rectification (a party branch, a village), within a batch, or the
    problems a research topic's visits found."""

    title = models.CharField(_("清单名称"), max_length=200)
    batch = models.ForeignKey(Batch, models.PROTECT, null=True, blank=True, related_name="lists")
    topic = models.OneToOneField(ResearchTopic, models.PROTECT, null=True, blank=True, related_name="problem_list")
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("区域"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("问题清单")
        verbose_name_plural = _("问题清单")

    def __str__(self) -> str:
        return self.title


class RectificationItem(models.Model):
    """整改事项: one row of the ledger. State, holder, deadline and timeline are the case's."""

    case = models.OneToOneField(Case, models.PROTECT, related_name="ledger_item")
    problem_list = models.ForeignKey(ProblemList, models.PROTECT, related_name="items")
    batch = models.ForeignKey(Batch, models.PROTECT, null=True, blank=True, related_name="items")
    visit = models.ForeignKey(ResearchVisit, models.PROTECT, null=True, blank=True, related_name="items")
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    number = models.PositiveIntegerField(_("序号"))  # within its problem list, from 1
    problem = models.TextField(_("问题"))
    measures = models.TextField(_("整改措施"))
    # 立行立改: fixed at once, on a short deadline; otherwise a long-term (长效机制) item.
    immediate = models.BooleanField(_("立行立改"), default=False)
    responsible_person = models.CharField(_("责任人"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("整改事项")
        verbose_name_plural = _("整改事项")
        ordering = ["problem_list_id", "number"]
        constraints = [models.UniqueConstraint(fields=["problem_list", "number"], name="ledger_item_number_unique")]

    def __str__(self) -> str:
        return self.problem[:40]
