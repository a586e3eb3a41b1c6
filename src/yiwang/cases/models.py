"""Case (件), its append-only hash-chained timeline, and the working-day calendar."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiwang.catalog.models import Matter, MatterFAQ, MatterVersion
from yiwang.core.idnumber import mask_text
from yiwang.org.models import Region, Resident, Unit


class Kind(models.TextChoices):
    APPLICATION = "application", _("办件")
    CONSULTATION = "consultation", _("咨询")
    INCIDENT = "incident", _("事件")
    FOLLOW_UP = "follow_up", _("差评整改")
    RECTIFICATION = "rectification", _("整改事项")
    ASSISTANCE = "assistance", _("一对一帮扶")


class Channel(models.TextChoices):
    ONLINE = "online", _("网上")
    HALL = "hall", _("窗口")
    PHONE = "phone", _("电话")
    GRID = "grid", _("网格员")
    PATROL = "patrol", _("巡逻")
    CAMERA = "camera", _("摄像头")
    OPEN311 = "open311", _("Open311")
    SYSTEM = "system", _("系统")


NUMBER_RE = re.compile(r"^YW(\d{8})(\d{8,})$")


class Case(models.Model):
    # Foreign keys that no query filters on carry no index of their own (db_index=False): each
    # index is written by every case creation, and the composite indexes in Meta cover the rest.
    kind = models.CharField(_("类别"), max_length=20, choices=Kind.choices)
    matter = models.ForeignKey(Matter, models.PROTECT, related_name="cases", verbose_name=_("事项"))
    matter_version = models.ForeignKey(MatterVersion, models.PROTECT, related_name="+", db_index=False)
    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("描述"), blank=True)
    form_data = models.JSONField(_("表单"), default=dict, blank=True)
    materials = models.JSONField(_("材料"), default=list, blank=True)
    applicant = models.ForeignKey(Resident, models.PROTECT, null=True, blank=True, related_name="cases", db_index=False)
    applicant_name = models.CharField(_("申请人"), max_length=50, blank=True)
    applicant_phone = models.CharField(_("联系电话"), max_length=20, blank=True, db_index=True)
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("所属区域"), db_index=False)
    # Copied from the region so scoping is one prefix scan and a national deployment can shard by
    # the top-level region without a join (docs/SCALING.md).
    region_path = models.CharField(max_length=255)
    state = models.CharField(_("状态"), max_length=20)
    holder_unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", verbose_name=_("当前办理单位"), db_index=False)
    handling_unit = models.ForeignKey(Unit, models.PROTECT, null=True, blank=True, related_name="+")
    supervisor_unit = models.ForeignKey(Unit, models.PROTECT, null=True, blank=True, related_name="+")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", db_index=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", db_index=False)
    priority = models.PositiveSmallIntegerField(_("优先级"), default=2)
    home_visit = models.BooleanField(_("上门服务"), default=False)
    # Reported at a point outside every grid: placed in the nearest community's queue, flagged.
    off_grid = models.BooleanField(_("网格外"), default=False)
    created_at = models.DateTimeField(_("提交时间"))
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("办理期限"), null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    # 0 none, 1 yellow (due soon), 2 red (overdue), 3 red and escalated by a rule: set by the sweep as
    # cases.deadlines defines due soon and overdue. A stored mark: surfaces that ask "overdue now?" use
    # cases.deadlines, not this.
    warning_level = models.PositiveSmallIntegerField(default=0)
    decision = models.CharField(_("决定"), max_length=20, blank=True)
    result = models.TextField(_("办理结果"), blank=True)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children", db_index=False)
    # Flagged at intake: an open case of the same category reported close by, shortly before.
    likely_duplicate_of = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, related_name="+",
                                            db_index=False)
    version = models.PositiveIntegerField(default=1)
    event_count = models.PositiveIntegerField(default=0)
    last_hash = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=80, null=True, blank=True, unique=True)
    # Title, description and address as search tokens (cases.search): indexed by migration 0012.
    search_text = models.TextField(blank=True, default="", db_default="")

    class Meta:
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        # The workbench queue reads open cases by holder, deadline first, and counts its tabs over
        # the same rows; partial indexes keep that cost proportional to the open cases, not to the
        # millions closed (bench/pages.py: 1.2 s → 26 ms at 1,000,000 cases).
        indexes = [
            models.Index(fields=["holder_unit", "due_at", "id", "suspended_at", "assignee"],
                         condition=models.Q(closed_at__isnull=True), name="case_open_queue_idx"),
            models.Index(fields=["due_at", "id", "suspended_at", "assignee"],
                         condition=models.Q(closed_at__isnull=True), name="case_open_due_idx"),
            models.Index(fields=["holder_unit", "closed_at"], condition=models.Q(closed_at__isnull=False),
                         name="case_closed_queue_idx"),
            models.Index(fields=["closed_at"], condition=models.Q(closed_at__isnull=False), name="case_closed_idx"),
            # Scoping is a prefix match on region_path (LIKE '/XX/KG/%'). PostgreSQL uses a btree for
            # that only with the pattern operator class (the database collation is not "C"); SQLite
            # ignores opclasses. Without them a community's figures scanned every case (bench/scale.py:
            # 300 ms → 4 ms at 1,000,000 cases).
            models.Index(fields=["region_path", "state"], opclasses=["varchar_pattern_ops", "varchar_pattern_ops"],
                         name="case_region_idx"),
            # Open cases of a region by deadline: overdue counts per region (dashboard, indicators).
            models.Index(fields=["region_path", "due_at", "suspended_at"],
                         opclasses=["varchar_pattern_ops", "timestamptz_ops", "timestamptz_ops"],
                         condition=models.Q(closed_at__isnull=True), name="case_open_region_idx"),
            # The newest open incidents for the dashboard's map, without reading the closed millions.
            models.Index(fields=["kind", "created_at"], condition=models.Q(closed_at__isnull=True),
                         name="case_open_created_idx"),
            models.Index(fields=["applicant", "created_at"], name="case_applicant_idx"),
            models.Index(fields=["created_at"], name="case_created_idx"),
            models.Index(fields=["parent"], condition=models.Q(parent__isnull=False), name="case_parent_idx"),
        ]

    def __str__(self) -> str:
        # str(case) lands in the admin, logs and error pages: a number typed into the title stays masked.
        return f"{self.number} {mask_text(self.title, phones=False)}"

    @property
    def number(self) -> str:
        """办件编号: "YW" + local submission date + the id; derived, so intake writes nothing extra."""
        return self.format_number(self.created_at, self.id)

    @property
    def reporter_reachable(self) -> bool:
        """Someone can be asked "已解决吗？" about this incident: a resident account or a phone given.
        A grid worker's or a camera's report has neither (workflows: close vs ask_confirmation)."""
        return bool(self.applicant_id or self.applicant_phone)

    @property
    def reporter_may_reopen(self) -> bool:
        """A closed incident (not a dismissed or merged one) within REOPEN_DAYS of its closing."""
        from yiwang.cases.workflows import REOPEN_DAYS
        from yiwang.core import clock

        return (self.state == "closed" and self.closed_at is not None and self.reporter_reachable
                and clock.now() - self.closed_at <= dt.timedelta(days=REOPEN_DAYS))

    @property
    def faq_draftable(self) -> bool:
        """A consultation not yet turned into an FAQ entry (draft or published): it gives one only."""
        return self.kind == "consultation" and not MatterFAQ.objects.filter(source_case_id=self.pk).exists()

    @staticmethod
    def format_number(created_at: dt.datetime, pk: int, zone: dt.tzinfo | None = None) -> str:
        """The number of the case ``pk`` submitted at ``created_at``, for rows read without a model
        instance; ``zone``: the current time zone, looked up once by a caller numbering many rows."""
        return f"YW{created_at.astimezone(zone or timezone.get_current_timezone()):%Y%m%d}{pk:08d}"

    @staticmethod
    def parse_number(number: str) -> tuple[dt.date, int] | None:
        m = NUMBER_RE.match(number.strip().upper())
        if not m:
            return None
        try:
            return dt.datetime.strptime(m.group(1), "%Y%m%d").date(), int(m.group(2))
        except ValueError:
            return None


# Work sent back: by the command centre's check (返工), by the reporter's "未解决" to "已解决吗？", or by
# the reporter reopening a closed incident (the rework rate, cases.rollups).
REWORK_ACTIONS = ("rework", "not_resolved", "reopen")


class CaseEvent(models.Model):
    """One step of a case's timeline. Append-only: only cases.services writes it, never updates."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="events", db_index=False)
    seq = models.PositiveIntegerField()
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", db_index=False)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    from_unit = models.ForeignKey(Unit, models.PROTECT, null=True, blank=True, related_name="+", db_index=False)
    to_unit = models.ForeignKey(Unit, models.PROTECT, null=True, blank=True, related_name="+", db_index=False)
    payload = models.JSONField(default=dict, blank=True)
    hash = models.CharField(max_length=64)
    region_path = models.CharField(max_length=255)

    class Meta:
        verbose_name = _("案件事件")
        verbose_name_plural = _("案件事件")
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="case_event_seq_unique")]
        indexes = [
            models.Index(fields=["at"], name="case_event_at_idx"),
            # The few events that send work back: `yiwang verify` and the rebuild read "reworked" from
            # these alone, not from every event of every closed case (3x less CPU at 109,000 cases).
            models.Index(fields=["case"], condition=models.Q(action__in=REWORK_ACTIONS), name="case_event_rework_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("case events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("case events are append-only")


class Workday(models.Model):
    """One calendar day known to the working-day calendar. Years without rows are guessed Mon–Fri."""

    class Source(models.TextChoices):
        SEED = "seed", _("chinese-calendar")
        LOADED = "loaded", _("国务院通知导入")
        ADMIN = "admin", _("管理员修改")

    date = models.DateField(_("日期"), primary_key=True)
    is_workday = models.BooleanField(_("工作日"))
    name = models.CharField(_("说明"), max_length=50, blank=True)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices, default=Source.SEED)

    class Meta:
        verbose_name = _("工作日历")
        verbose_name_plural = _("工作日历")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'班' if self.is_workday else '休'}"


class Notification(models.Model):
    """A message to a unit (and optionally one of its staff) about a case: 预警, 超期, 督办, 上报.

    Written in the same transaction as the timeline event that caused it, so a sweep that loses a
    race writes neither, and running it twice never notifies twice.
    """

    class Kind(models.TextChoices):
        WARN = "warn", _("临期预警")
        OVERDUE = "overdue", _("超期")
        SUPERVISE = "supervise", _("督办")
        ESCALATED = "escalated", _("超期上报")
        DISPATCHED = "dispatched", _("新派遣")
        REWORK = "rework", _("返工")
        AUTO_ISSUED = "auto_issued", _("免申即享")
        MERGED = "merged", _("已合并处理")

    # To a unit (its staff see it in the workbench) or to a resident (in 我的办件).
    unit = models.ForeignKey(Unit, models.CASCADE, null=True, blank=True, related_name="notifications",
                             db_index=False)
    resident = models.ForeignKey(Resident, models.CASCADE, null=True, blank=True, related_name="notifications",
                                 db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, null=True, blank=True, related_name="+",
                             db_index=False)
    case = models.ForeignKey(Case, models.CASCADE, related_name="notifications", db_index=False)
    event_seq = models.PositiveIntegerField()
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    message = models.CharField(_("内容"), max_length=300)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    region_path = models.CharField(max_length=255)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        indexes = [
            models.Index(fields=["unit", "-created_at"], name="notification_unit_idx"),
            models.Index(fields=["unit"], condition=models.Q(read_at__isnull=True), name="notification_unread_idx"),
            models.Index(fields=["resident", "-created_at"], condition=models.Q(resident__isnull=False),
                         name="notification_resident_idx"),
        ]
        constraints = [models.CheckConstraint(
            condition=models.Q(unit__isnull=False) | models.Q(resident__isnull=False), name="notification_has_recipient")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.message}"


class EscalationRule(models.Model):
    """升级规则: an overdue case still open this long after its deadline moves up one level.

    The most specific active rule wins (matter, then case kind, then any); without a rule an
    overdue case only turns red.
    """

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("案件类别"), max_length=20, choices=Kind.choices, blank=True)
    matter = models.ForeignKey(Matter, models.CASCADE, null=True, blank=True, verbose_name=_("事项"))
    after_hours = models.PositiveIntegerField(_("超期多少小时后上报"), default=24)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("超期升级规则")
        verbose_name_plural = _("超期升级规则")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.matter_id and self.kind and self.matter.kind != self.kind:
            raise ValidationError({"kind": _("事项的类别与所选案件类别不一致。")})


class CaseTally(models.Model):
    """How many cases share a region, kind, state, holder and handler, with the sums the indicators
    need: a GROUP BY of the case table, kept in step by every timeline write (cases.rollups).

    Leaders' indicators read these rows instead of scanning cases, so their cost follows the number
    of regions and units, not of cases. `yiwang verify` recomputes them from the case table.
    """

    region_path = models.CharField(max_length=255)
    kind = models.CharField(max_length=20)
    state = models.CharField(max_length=20)
    closed = models.BooleanField()
    # Plain ids, not foreign keys: 0 means "none", because a NULL would never conflict in the upsert.
    holder_unit_id = models.BigIntegerField()
    handling_unit_id = models.BigIntegerField()
    n = models.BigIntegerField(default=0)
    with_due = models.BigIntegerField(default=0)  # closed with a deadline
    on_time = models.BigIntegerField(default=0)  # closed by the deadline
    seconds = models.BigIntegerField(default=0)  # closed: sum of whole seconds from submission to closing

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["region_path", "kind", "state", "closed", "holder_unit_id", "handling_unit_id"],
            name="case_tally_key")]

    def __str__(self) -> str:
        return f"{self.region_path} {self.kind}/{self.state}: {self.n}"


class CaseDayTally(models.Model):
    """Cases submitted and closed per region, local day and kind, kept in step like CaseTally: the
    weekly trend reads a few thousand of these instead of every case of the last twelve weeks. The
    kind lets the public figures leave out the kinds that are not published (stats.public)."""

    region_path = models.CharField(max_length=255)
    day = models.DateField()
    kind = models.CharField(max_length=20, default="")
    submitted = models.BigIntegerField(default=0)
    closed = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region_path", "day", "kind"], name="case_day_tally_kind_key")]
        indexes = [models.Index(fields=["day"], name="case_day_tally_day_idx")]

    def __str__(self) -> str:
        return f"{self.region_path} {self.day} {self.kind}: +{self.submitted} -{self.closed}"


class CaseMonthTally(models.Model):
    """Closed cases per region, kind, closed state, responsible unit and local month of closing, kept in
    step like CaseTally (cases.rollups): the figures of one month, readable from a checkpoint's file.

    Only a closing or a reopening moves a case here, so an open case costs nothing.
    """

    region_path = models.CharField(max_length=255)
    kind = models.CharField(max_length=20)
    state = models.CharField(max_length=20)
    # The handling unit, else the holder (stats.selectors.responsible_unit_id), as a plain id.
    unit_id = models.BigIntegerField()
    month = models.DateField()  # the first day of the local month the case closed in
    closed = models.BigIntegerField(default=0)
    with_due = models.BigIntegerField(default=0)
    on_time = models.BigIntegerField(default=0)
    seconds = models.BigIntegerField(default=0)
    # Sent back at least once before this closing (返工, 未解决, 重新打开: rollups.REWORK_ACTIONS).
    reworked = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region_path", "kind", "state", "unit_id", "month"],
                                               name="case_month_tally_key")]
        indexes = [models.Index(fields=["month"], name="case_month_tally_month_idx")]

    def __str__(self) -> str:
        return f"{self.region_path} {self.kind}/{self.state} {self.month:%Y-%m}: {self.closed}"


class CaseReceivedTally(models.Model):
    """Cases received per region, kind, receiving unit and local month of submission, kept in step
    like CaseTally (cases.rollups): a unit's "received" in a month (stats, the public figures).

    The receiving unit is the one that first held the case: the holder at submission, which is the
    first event's ``to_unit``. Later transfers do not move a case here, so a case counts once, in the
    month it was submitted, for the unit it reached first; written once, on submission.
    """

    region_path = models.CharField(max_length=255)
    kind = models.CharField(max_length=20)
    unit_id = models.BigIntegerField()
    month = models.DateField()  # the first day of the local month the case was submitted in
    received = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region_path", "kind", "unit_id", "month"],
                                               name="case_received_tally_key")]
        indexes = [models.Index(fields=["month"], name="case_received_tally_month_idx")]

    def __str__(self) -> str:
        return f"{self.region_path} {self.kind} {self.unit_id} {self.month:%Y-%m}: {self.received}"


class Upload(models.Model):
    """A file someone uploaded to cite as a material: the only way a case comes to hold a file.

    The handle (``token``) is random and bound to the uploader; a case may cite it once, and only the
    uploader may. A storage path is never accepted from a client: paths are content hashes, so anyone
    holding a copy of a document could otherwise cite another person's stored file and read it through
    their own case.
    """

    token = models.CharField(max_length=32, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    path = models.CharField(max_length=200, editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    size = models.PositiveIntegerField(editable=False)
    content_type = models.CharField(max_length=60, editable=False)
    filename = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(editable=False)
    # The case that cites it; null until then (an unclaimed upload is the uploader's alone).
    case = models.ForeignKey(Case, models.CASCADE, null=True, blank=True, related_name="uploads")

    class Meta:
        verbose_name = _("上传文件")
        verbose_name_plural = _("上传文件")
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.filename or self.token} ({self.user})"

    def as_material(self) -> dict:
        """What a case keeps of the file in its material entry (cases.attachments' shape)."""
        return {"upload": self.token, "reference": self.path, "sha256": self.sha256, "size": self.size,
                "content_type": self.content_type, "filename": self.filename}


class CannedReply(models.Model):
    """A reply staff may start from (常用回复) when taking an action: per action, and per matter or,
    without one, for every matter. Offered in the workbench's action form; the reply sent is whatever
    the staff member leaves in the box."""

    matter = models.ForeignKey(Matter, models.CASCADE, null=True, blank=True, related_name="+",
                               verbose_name=_("事项"), help_text=_("留空：适用于所有事项。"))
    action = models.CharField(_("操作"), max_length=30, help_text=_("如 request_supplement、reject、close。"))
    title = models.CharField(_("名称"), max_length=60)
    text = models.TextField(_("回复内容"), max_length=1000)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("常用回复")
        verbose_name_plural = _("常用回复")
        ordering = ["action", "title"]
        indexes = [models.Index(fields=["action", "matter"], name="canned_reply_action_idx")]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from yiwang.cases.workflows import WORKFLOWS

        kinds = [self.matter.kind] if self.matter_id else list(WORKFLOWS)
        if not any(self.action in WORKFLOWS[k].actions for k in kinds if k in WORKFLOWS):
            raise ValidationError({"action": _("没有名为“%(action)s”的操作。") % {"action": self.action}})


class RetentionRun(models.Model):
    """One pass of the retention sweep (cases.retention): when, how much of each kind it erased, and
    what it could not do; `yiwang stats` reports the latest runs."""

    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    cases = models.PositiveIntegerField(_("匿名化案件数"), default=0)
    # kind (reporter_contact, id_number, documents, account) → how many were erased
    counts = models.JSONField(_("各类数量"), default=dict, blank=True)
    files_deleted = models.PositiveIntegerField(_("删除文件数"), default=0)
    errors = models.JSONField(_("错误"), default=list, blank=True)

    class Meta:
        verbose_name = _("个人信息保留期清理")
        verbose_name_plural = _("个人信息保留期清理")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.cases}"
