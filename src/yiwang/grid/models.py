"""A grid's basic data (人/地/事/物/组织): households and their members, buildings, organisations,
cameras, and which grid worker keeps which grid.

The grids themselves are org.Region rows of level "grid"; events (事) are cases. Every row copies its
grid's path into ``region_path`` so that scoping is the one prefix filter (org.selectors.scope_q)
used everywhere else; a grid's code and parent never change (see org.admin), so the copy stays true.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.org.models import Region, Resident, Unit

GRID_ONLY = {"level": "grid"}


class BuildingKind(models.TextChoices):
    RESIDENTIAL = "residential", _("住宅")
    COMMERCIAL = "commercial", _("商业")
    OFFICE = "office", _("办公")
    PUBLIC = "public", _("公共设施")
    INDUSTRIAL = "industrial", _("厂房")
    OTHER = "other", _("其他")


class Building(models.Model):
    grid = models.ForeignKey(Region, models.PROTECT, related_name="buildings", limit_choices_to=GRID_ONLY,
                             verbose_name=_("网格"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    name = models.CharField(_("名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    kind = models.CharField(_("类型"), max_length=20, choices=BuildingKind.choices, default=BuildingKind.RESIDENTIAL)
    floors = models.PositiveSmallIntegerField(_("层数"), null=True, blank=True)
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    lng = models.FloatField(_("经度"), null=True, blank=True)

    class Meta:
        verbose_name = _("楼栋")
        verbose_name_plural = _("楼栋")
        ordering = ["region_path", "name"]
        constraints = [models.UniqueConstraint(fields=["grid", "name"], name="building_unique_name_in_grid")]

    def __str__(self) -> str:
        return self.name


class OrganisationKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("企业")
    SHOP = "shop", _("个体商户")
    SCHOOL = "school", _("学校")
    SOCIAL = "social", _("社会组织")
    OTHER = "other", _("其他")


class Organisation(models.Model):
    grid = models.ForeignKey(Region, models.PROTECT, related_name="organisations", limit_choices_to=GRID_ONLY,
                             verbose_name=_("网格"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=OrganisationKind.choices, default=OrganisationKind.OTHER)
    contact = models.CharField(_("联系人"), max_length=50, blank=True)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("组织")
        verbose_name_plural = _("组织")
        ordering = ["region_path", "name"]
        constraints = [models.UniqueConstraint(fields=["grid", "name"], name="organisation_unique_name_in_grid")]

    def __str__(self) -> str:
        return self.name


class Household(models.Model):
    """户: the people living at one address of a grid, whatever their 户籍."""

    grid = models.ForeignKey(Region, models.PROTECT, related_name="households", limit_choices_to=GRID_ONLY,
                             verbose_name=_("网格"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    building = models.ForeignKey(Building, models.SET_NULL, null=True, blank=True, related_name="households",
                                 verbose_name=_("楼栋"))
    number = models.CharField(_("户号"), max_length=40, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    head_name = models.CharField(_("户主"), max_length=50, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("户")
        verbose_name_plural = _("户")
        ordering = ["region_path", "number", "address"]
        indexes = [models.Index(fields=["grid", "number"]), models.Index(fields=["grid", "address"])]

    def __str__(self) -> str:
        return self.number or self.address


class Relation(models.TextChoices):
    HEAD = "head", _("户主")
    SPOUSE = "spouse", _("配偶")
    CHILD = "child", _("子女")
    PARENT = "parent", _("父母")
    GRANDCHILD = "grandchild", _("孙子女")
    SIBLING = "sibling", _("兄弟姐妹")
    OTHER = "other", _("其他")


class HouseholdMember(models.Model):
    """A resident living in a household. One household per resident: moving house moves the row."""

    household = models.ForeignKey(Household, models.CASCADE, related_name="members", verbose_name=_("户"))
    resident = models.OneToOneField(Resident, models.CASCADE, related_name="household_member",
                                    verbose_name=_("居民"))
    relation = models.CharField(_("与户主关系"), max_length=20, choices=Relation.choices, default=Relation.OTHER)

    class Meta:
        verbose_name = _("户成员")
        verbose_name_plural = _("户成员")

    def __str__(self) -> str:
        return f"{self.household} · {self.resident}"


class GridAssignment(models.Model):
    """Which grids a grid worker keeps. Without any, a worker keeps every grid of their unit's region."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="grid_assignments",
                             verbose_name=_("网格员"))
    grid = models.ForeignKey(Region, models.CASCADE, related_name="assignments", limit_choices_to=GRID_ONLY,
                             verbose_name=_("网格"))

    class Meta:
        verbose_name = _("网格分配")
        verbose_name_plural = _("网格分配")
        constraints = [models.UniqueConstraint(fields=["user", "grid"], name="grid_assignment_unique")]

    def __str__(self) -> str:
        return f"{self.user} · {self.grid}"


class Camera(models.Model):
    code = models.CharField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    lat = models.FloatField(_("纬度"))
    lng = models.FloatField(_("经度"))
    # Placed by org.geo.locate when saved (grid.services.camera_save): the grid it looks at, or none
    # when it stands outside every grid; region_path is then the nearest community's.
    grid = models.ForeignKey(Region, models.PROTECT, null=True, blank=True, related_name="cameras",
                             editable=False, verbose_name=_("网格"))
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    owner_unit = models.ForeignKey(Unit, models.PROTECT, related_name="cameras", verbose_name=_("管理单位"))
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("摄像头")
        verbose_name_plural = _("摄像头")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
