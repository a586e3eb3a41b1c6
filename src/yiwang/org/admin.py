from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from yiwang.core import clock, confcache
from yiwang.core.errors import DomainError
from yiwang.org import oidc
from yiwang.org.district import DISTRICT, check_row, logo_data_uri
from yiwang.org.models import ApiToken, District, OidcLink, Region, Resident, Staff, Unit
from yiwang.org.services import HIERARCHY


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "level", "path")
    list_filter = ("level",)
    search_fields = ("name", "code")

    def get_readonly_fields(self, request, obj=None):
        # The code is part of every descendant's path and of every case's region_path.
        return ("code", "level", "parent") if obj else ()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.path = (obj.parent.path if obj.parent else "/") + obj.code + "/"
        super().save_model(request, obj, form, change)
        confcache.bump(HIERARCHY)


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "region", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "code")

    def get_readonly_fields(self, request, obj=None):
        return ("region",) if obj else ()

    def save_model(self, request, obj, form, change):
        obj.region_path = obj.region.path
        super().save_model(request, obj, form, change)
        confcache.bump(HIERARCHY)


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin):
    """Django's user admin with who has enrolled a second factor: superusers and Django is_staff accounts
    too, which the Staff list (memberships only) does not show."""

    list_display = (*auth_admin.UserAdmin.list_display, "is_superuser", "second_factor")

    def get_queryset(self, request):
        enrolled = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return super().get_queryset(request).annotate(enrolled=Exists(enrolled))

    @admin.display(boolean=True, description=_("已启用二次验证"), ordering="enrolled")
    def second_factor(self, obj) -> bool:
        return obj.enrolled


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ("user", "unit", "role", "second_factor")
    list_filter = ("role",)
    search_fields = ("user__username", "unit__name")

    def get_queryset(self, request):
        # One subquery for the whole list rather than one query per row.
        enrolled = TOTPDevice.objects.filter(user=OuterRef("user"), confirmed=True)
        return super().get_queryset(request).annotate(enrolled=Exists(enrolled))

    @admin.display(boolean=True, description=_("已启用二次验证"), ordering="enrolled")
    def second_factor(self, obj) -> bool:
        return obj.enrolled


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    list_display = ("__str__", "phone", "id_number_masked", "region", "elderly_alone", "low_income", "poverty")
    list_filter = ("elderly_alone", "low_income", "poverty")
    search_fields = ("name", "phone")
    exclude = ("id_number",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash", "created_at")


class OidcLinkForm(forms.ModelForm):
    """A new link, checked as ``yiwang oidc link`` checks it (org.oidc.link_check)."""

    class Meta:
        model = OidcLink
        fields = ("user", "issuer", "subject")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "issuer" in self.fields:
            self.fields["issuer"].initial = settings.YIWANG_OIDC_ISSUER

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and data.get("user") is not None:
            try:
                data["subject"], data["issuer"] = oidc.link_check(
                    user=data["user"], subject=data.get("subject", ""), issuer_url=data.get("issuer"))
            except DomainError as exc:
                field = exc.field if exc.field in self.fields else None
                self.add_error(field, exc.message)
        return data


@admin.register(OidcLink)
class OidcLinkAdmin(admin.ModelAdmin):
    """统一身份认证 links: which account a provider's subject logs in as. A staff account is linked here
    or with ``yiwang oidc link``; a link is made or deleted, never edited into someone else's."""

    form = OidcLinkForm
    list_display = ("user", "subject", "issuer", "created_at", "last_login_at")
    search_fields = ("user__username", "subject")
    autocomplete_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        return ("user", "issuer", "subject", "created_at", "last_login_at") if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            return
        link = oidc.link_create(user=obj.user, subject=obj.subject, issuer_url=obj.issuer)
        obj.pk, obj.created_at, obj.issuer, obj.subject = link.pk, link.created_at, link.issuer, link.subject
        obj._state.adding = False


class DistrictForm(forms.ModelForm):
    logo_file = forms.FileField(label=_("上传标志"), required=False, help_text=_("PNG、JPEG 或 SVG，不超过 64 KB"))
    logo_clear = forms.BooleanField(label=_("去掉标志"), required=False)

    class Meta:
        model = District
        fields = ("name", "short_name", "centre_lat", "centre_lng", "bounds", "sms_signature", "open311_contact")

    def _post_clean(self):
        # After the form has copied its fields onto the row: checked as district_set checks it.
        super()._post_clean()
        upload = self.cleaned_data.get("logo_file")
        try:
            if upload:
                self.instance.logo = logo_data_uri(upload.read(), upload.name)
            elif self.cleaned_data.get("logo_clear"):
                self.instance.logo = ""
            check_row(self.instance)
        except DomainError as exc:
            field = "logo_file" if exc.field == "logo" else exc.field if exc.field in self.fields else None
            self.add_error(field, exc.message)


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    """本地区: one row, whose fields override the district's settings (org/district.py)."""

    form = DistrictForm
    list_display = ("name", "short_name", "sms_signature", "updated_at")

    def has_add_permission(self, request):
        return not District.objects.exists()

    def save_model(self, request, obj, form, change):
        # The form checked the row as district_set does (check_row); clearing a centre or the bounds is allowed here.
        obj.updated_at = clock.now()
        super().save_model(request, obj, form, change)
        confcache.bump(DISTRICT)
