"""The matter catalogue (事项目录): what can be applied for or reported, by whom, where, how fast."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.org.models import Region, Unit, UnitKind


class MatterKind(models.TextChoices):
    APPLICATION = "application", _("政务服务事项")
    INCIDENT = "incident", _("事件类别")
    CONSULTATION = "consultation", _("咨询")
    RECTIFICATION = "rectification", _("整改事项类别")
    ASSISTANCE = "assistance", _("帮扶类别")


class Delivery(models.TextChoices):
    """How a decided application's result reaches the applicant (结果送达方式)."""

    PICKUP = "pickup", _("窗口自取")
    POST = "post", _("免费邮寄")
    ELECTRONIC = "electronic", _("电子证照")


# Kinds a unit opens for itself and nobody applies for: a rectification item comes from a ledger, an
# assistance pair from a party branch. Their matters can never be offered to residents.
INTERNAL_KINDS = frozenset({"rectification", "assistance"})


class TimeUnit(models.TextChoices):
    WORKDAYS = "workdays", _("工作日")
    HOURS = "hours", _("小时")


class Matter(models.Model):
    """The live, editable definition. Cases point at an immutable MatterVersion instead."""

    code = models.CharField(_("事项编码"), max_length=40, unique=True)
    name = models.CharField(_("事项名称"), max_length=100)
    kind = models.CharField(_("类别"), max_length=20, choices=MatterKind.choices)
    life_event = models.CharField(_("人生事件"), max_length=50, blank=True)
    # Levels at which a unit may handle the matter, e.g. ["community", "town"]; routing picks the
    # lowest one in the applicant's region chain (能在村(社区)办，不到街镇跑).
    handling_levels = models.JSONField(_("办理层级"), default=list)
    responsible_unit_kind = models.CharField(_("承办单位类型"), max_length=30, choices=UnitKind.choices)
    # Incident categories only: the kind of unit the command centre dispatches the case to
    # (乱停车 → 综合执法, 盗窃 → 派出所); the dispatch board suggests the nearest such unit.
    dispatch_unit_kind = models.CharField(_("处置单位类型"), max_length=30, choices=UnitKind.choices, blank=True)
    # Incident categories: a new report this close to an open one of the category, this soon after
    # it, is flagged as a likely duplicate (a blocked road is reported by many; a theft is not).
    duplicate_metres = models.PositiveIntegerField(_("疑似重复距离(米)"), default=300)
    duplicate_hours = models.PositiveIntegerField(_("疑似重复时间窗(小时)"), default=72)
    time_limit = models.PositiveIntegerField(_("承诺时限"), default=5)
    time_unit = models.CharField(_("时限单位"), max_length=10, choices=TimeUnit.choices, default=TimeUnit.WORKDAYS)
    statutory_limit = models.PositiveIntegerField(_("法定时限(工作日)"), default=20)
    is_instant = models.BooleanField(_("即办件"), default=False)
    materials = models.JSONField(_("申请材料"), default=list, blank=True)
    form_schema = models.JSONField(_("表单"), default=dict, blank=True)
    guide = models.TextField(_("办事指南"), blank=True)
    where = models.CharField(_("办理地点"), max_length=200, blank=True)
    fees = models.CharField(_("收费标准"), max_length=200, blank=True, default="不收费")
    legal_basis = models.TextField(_("设定依据"), blank=True)
    keywords = models.CharField(_("关键词"), max_length=200, blank=True)
    # 免申即享: conditions on resident data that settle the matter without an application
    # (catalog/autorules.py); {} for none.
    auto_rule = models.JSONField(_("自动办理规则"), default=dict, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    # Whether a resident may open a case in it (apply, ask, report) on the portal, the API or Open311.
    # Staff open the others for a unit; case intake refuses a resident the rest (cases.services.intake).
    resident_can_apply = models.BooleanField(
        _("面向群众"), default=True, help_text=_("群众可在网上申请、咨询或上报；整改事项、帮扶类别只能由工作人员立项。")
    )
    # The 办事指南 a resident reads before going: how often they must come, how the result reaches them,
    # whom to ask and whom to complain to (国务院办公厅《政务服务事项办事指南》要素).
    visits = models.PositiveSmallIntegerField(_("到现场次数"), default=1, help_text=_("0 即最多跑零次，全程网办"))
    delivery = models.JSONField(_("结果送达方式"), default=list, blank=True)
    consult_phone = models.CharField(_("咨询电话"), max_length=60, blank=True)
    complaint_phone = models.CharField(_("监督投诉电话"), max_length=60, blank=True)
    current_version = models.ForeignKey(
        "MatterVersion", models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        verbose_name = _("事项")
        verbose_name_plural = _("事项")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class MatterVersion(models.Model):
    """A frozen copy of a matter as published; a case keeps the one it was opened under."""

    matter = models.ForeignKey(Matter, models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    published_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["matter", "number"], name="matter_version_unique")]

    def __str__(self) -> str:
        return f"{self.matter.code} v{self.number}"


class RoutingRule(models.Model):
    """An administrator's override of lowest-level routing: matter (or any) within a region subtree."""

    name = models.CharField(_("规则名称"), max_length=100)
    matter = models.ForeignKey(Matter, models.CASCADE, null=True, blank=True, verbose_name=_("事项(空为全部)"))
    region = models.ForeignKey(
        Region, models.CASCADE, null=True, blank=True, verbose_name=_("适用区域(空为全部)")
    )
    target_unit = models.ForeignKey(Unit, models.CASCADE, verbose_name=_("分派到"))
    priority = models.IntegerField(_("优先级"), default=100, help_text=_("小者优先"))
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("分拨规则")
        verbose_name_plural = _("分拨规则")
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name


class MatterFAQ(models.Model):
    """An answer to a question residents asked about a matter (常见问题). A consultation's answer
    becomes a draft; staff edit out what is personal and publish it (published_at set)."""

    matter = models.ForeignKey(Matter, models.CASCADE, related_name="faqs")
    question = models.TextField(_("问题"))
    answer = models.TextField(_("答复"))
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.CharField(_("发布人"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("创建时间"), null=True, blank=True)
    # One entry per consultation: the constraint, not a check before the insert, is what stops a
    # double click from drafting (and so publishing) the same answer twice.
    source_case_id = models.BigIntegerField(null=True, blank=True, help_text=_("据以发布的咨询件"))

    class Meta:
        verbose_name = _("常见问题")
        verbose_name_plural = _("常见问题")
        ordering = ["-published_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source_case_id"], name="faq_one_per_case")]

    def __str__(self) -> str:
        return self.question[:40]


class MatterDocument(models.Model):
    """A blank form or a filled-in sample (空白表格/填写样表) residents download from the guide.
    Stored under the media storage by a random name; the name the resident sees is ``filename``."""

    class Kind(models.TextChoices):
        BLANK = "blank", _("空白表格")
        SAMPLE = "sample", _("填写样表")

    matter = models.ForeignKey(Matter, models.CASCADE, related_name="documents", verbose_name=_("事项"))
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.BLANK)
    title = models.CharField(_("名称"), max_length=100)
    file = models.FileField(_("文件"), upload_to="catalog/documents/", max_length=200)
    filename = models.CharField(_("下载文件名"), max_length=150, editable=False)
    content_type = models.CharField(max_length=100, editable=False)
    size = models.PositiveIntegerField(default=0, editable=False)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)
    uploaded_at = models.DateTimeField(null=True, editable=False)

    class Meta:
        verbose_name = _("表格下载")
        verbose_name_plural = _("表格下载")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class SearchSynonym(models.Model):
    """A resident's word for catalogue words (合疗 → 城乡居民医保), kept by staff (catalog/search.py)."""

    # Folded like a query (Simplified, lower-case, no spaces); words separated by spaces must all
    # occur in the query, in any order ("公积金 取" matches 公积金怎么取).
    phrase = models.CharField(_("群众说法"), max_length=100, unique=True)
    means = models.CharField(_("对应目录用语"), max_length=200, blank=True,
                             help_text=_("空格分隔的词，按较低权重加入检索"))
    matter = models.ForeignKey(Matter, models.CASCADE, null=True, blank=True, related_name="search_synonyms",
                               verbose_name=_("直接指向事项"))
    active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("搜索同义词")
        verbose_name_plural = _("搜索同义词")
        ordering = ["phrase"]

    def __str__(self) -> str:
        return self.phrase


class SearchMiss(models.Model):
    """A query that found no matter, counted, so staff can add the synonym it lacked. No personal data."""

    query = models.CharField(_("搜索词"), max_length=100, unique=True)
    count = models.PositiveIntegerField(_("次数"), default=1)
    first_seen = models.DateTimeField(_("首次"), auto_now_add=True)
    last_seen = models.DateTimeField(_("最近"), db_index=True)
    # Set when staff dealt with it (a synonym added, or nothing to add); searched again after that and
    # still finding nothing, it is open again (catalog.selectors.search_misses).
    handled_at = models.DateTimeField(_("处理时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("无结果搜索")
        verbose_name_plural = _("无结果搜索")
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return self.query
