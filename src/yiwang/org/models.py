"""The administrative hierarchy (area › city › town › community › grid), units, staff, residents."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.core import idnumber


class Level(models.TextChoices):
    AREA = "area", _("新区")
    CITY = "city", _("新城")
    TOWN = "town", _("街镇")
    COMMUNITY = "community", _("村/社区")
    GRID = "grid", _("网格")


LEVEL_RANK = {Level.AREA: 0, Level.CITY: 1, Level.TOWN: 2, Level.COMMUNITY: 3, Level.GRID: 4}


class Region(models.Model):
    code = models.CharField(_("区划代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children")
    # Materialized path of codes, "/610400/61040001/…/", so a subtree is one indexed prefix scan.
    path = models.CharField(max_length=255, unique=True, editable=False)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    # The outline as a GeoJSON Polygon ([lng, lat] pairs), for grids above all: maps draw it even
    # with no tile server reachable.
    boundary = models.JSONField(_("边界"), null=True, blank=True)

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    @property
    def rank(self) -> int:
        return LEVEL_RANK[self.level]


class UnitKind(models.TextChoices):
    SERVICE_HALL = "service_hall", _("便民服务中心/站")
    CIVIL_AFFAIRS = "civil_affairs", _("民政")
    MEDICAL_INSURANCE = "medical_insurance", _("医疗保障")
    HOUSING_FUND = "housing_fund", _("住房公积金")
    ENFORCEMENT = "enforcement", _("综合执法")
    COMMAND_CENTRE = "command_centre", _("综合执法指挥中心")
    PUBLIC_SECURITY = "public_security", _("公安派出所")
    SANITATION = "sanitation", _("环境卫生")
    PARTY_BRANCH = "party_branch", _("党支部")
    PATROL_TEAM = "patrol_team", _("巡逻队")
    OFFICE = "office", _("办公室/领导班子")


class Unit(models.Model):
    code = models.CharField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=30, choices=UnitKind.choices)
    region = models.ForeignKey(Region, models.PROTECT, related_name="units", verbose_name=_("所在区域"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    phone = models.CharField(_("电话"), max_length=40, blank=True)
    hours = models.CharField(_("办公时间"), max_length=100, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        indexes = [models.Index(fields=["region", "kind"])]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CLERK = "clerk", _("窗口人员")
    HANDLER = "handler", _("承办人")
    OPERATOR = "operator", _("指挥员")
    LEADER = "leader", _("领导")
    SECRETARY = "secretary", _("党支部书记")
    GRID_WORKER = "grid_worker", _("网格员")


class Staff(models.Model):
    """A user's role in one unit; one user may hold several."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="staff_roles")
    unit = models.ForeignKey(Unit, models.CASCADE, related_name="staff")
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("工作人员")
        verbose_name_plural = _("工作人员")
        constraints = [models.UniqueConstraint(fields=["user", "unit", "role"], name="staff_unique_role")]

    def __str__(self) -> str:
        return f"{self.user} · {self.unit} · {self.get_role_display()}"


class Resident(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="resident"
    )
    name = models.CharField(_("姓名"), max_length=50)
    phone = models.CharField(_("手机号"), max_length=20, db_index=True)
    id_number = models.CharField(_("身份证号"), max_length=18, blank=True, db_index=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    region = models.ForeignKey(Region, models.PROTECT, related_name="residents", verbose_name=_("户籍所在地"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    address = models.CharField(_("住址"), max_length=200, blank=True)
    # Who needs a grid worker's regular visit (网格走访): kept by the grid's basic-data upkeep.
    elderly_alone = models.BooleanField(_("独居老人"), default=False)
    low_income = models.BooleanField(_("低保"), default=False)
    poverty = models.BooleanField(_("贫困户"), default=False)
    # 注销: the account was closed at the resident's request (cases.retention.resident_close_account); the
    # login is disabled, and the record is erased once no retention applies (docs/retention.md).
    closed_at = models.DateTimeField(_("注销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("居民")
        verbose_name_plural = _("居民")

    def __str__(self) -> str:
        # A name typed with an ID number in it (a clerk's slip) shows masked wherever a resident is listed.
        return idnumber.mask_text(self.name, phones=False)

    @property
    def id_number_masked(self) -> str:
        return idnumber.mask(self.id_number)


class ApiToken(models.Model):
    """A bearer token for staff and integrations. Only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class OidcLink(models.Model):
    """An account at an OpenID Connect provider (统一身份认证) that logs in as this user: the provider's
    issuer and its stable subject (`sub`), never an e-mail address or a name (org/oidc.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="oidc_links")
    issuer = models.CharField(_("身份提供方"), max_length=255)
    subject = models.CharField(_("身份标识"), max_length=255)
    created_at = models.DateTimeField()
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("统一身份认证账号")
        verbose_name_plural = _("统一身份认证账号")
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="oidclink_unique_subject")]

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject} → {self.user}"


class CodePurpose(models.TextChoices):
    SIGNUP = "signup", _("注册")
    LOGIN = "login", _("登录")
    REPORT = "report", _("无账号反映问题")


class PhoneCode(models.Model):
    """A one-time SMS code proving a resident holds a mobile number (org.services.code_send/code_check).

    Only an HMAC of the code under SECRET_KEY is kept: a copy of the database does not hand out
    codes still valid, and six digits hashed without a secret would be read back by trying them all.
    """

    phone = models.CharField(max_length=11, db_index=True)
    purpose = models.CharField(max_length=10, choices=CodePurpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)  # wrong codes typed against this one
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("短信验证码")
        verbose_name_plural = _("短信验证码")
        indexes = [models.Index(fields=["phone", "purpose", "created_at"], name="phonecode_latest")]

    def __str__(self) -> str:
        return f"{idnumber.mask_text(self.phone)} · {self.get_purpose_display()}"


class District(models.Model):
    """The district this installation serves, as an operator sets it without code (org/district.py):
    one row at most. A blank field falls back to its setting (YIWANG_DISTRICT_NAME, …), so an installation
    configured from the environment alone needs no row; `yiwang district load` and `yiwang demo` write it."""

    name = models.CharField(_("名称"), max_length=50, blank=True, help_text=_("如：某某新区；留空则页面只称“一网通办”"))
    short_name = models.CharField(_("简称"), max_length=20, blank=True)
    # Where a map with nothing of its own to show opens, and the box the district lies in.
    centre_lat = models.FloatField(_("地图中心纬度"), null=True, blank=True)
    centre_lng = models.FloatField(_("地图中心经度"), null=True, blank=True)
    bounds = models.JSONField(_("地图范围"), null=True, blank=True,
                              help_text=_("[[南纬度, 西经度], [北纬度, 东经度]]"))
    # A data: URI (PNG, JPEG or SVG, at most 64 KB): it needs no public media directory and the CSP allows it.
    logo = models.TextField(_("标志"), blank=True)
    sms_signature = models.CharField(_("短信签名"), max_length=30, blank=True, help_text=_("如：【某某新区政务服务】"))
    open311_contact = models.CharField(_("Open311 联系方式"), max_length=200, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("本地区")
        verbose_name_plural = _("本地区")

    def __str__(self) -> str:
        return self.name or str(_("一网通办"))
