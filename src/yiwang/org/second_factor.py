"""The staff second factor's one rule (员工二次验证): who must pass a TOTP code or a recovery code before
acting as staff, and checking such a code. The staff pages (web.two_factor's middleware) and the API's
session auth (yiwang.api) both ask ``missing``, so a session the pages would stop is stopped by the API
too, with the same answer for the same person.

``settings.YIWANG_STAFF_2FA``:

- ``required``: every staff member (a Staff membership, a superuser, or Django's is_staff) whose session
  is not verified must verify, or enrol first if they have no device;
- ``optional``: only staff who have enrolled must verify;
- ``off``: nobody.

Residents are never asked.
"""

from __future__ import annotations

import django_otp
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from yiwang.core.errors import PermissionDenied

REQUIRED, OPTIONAL, OFF = "required", "optional", "off"
VERIFY, ENROL = "verify", "enrol"
RECOVERY_CODES = 10


class SecondFactorRequired(PermissionDenied):
    """A staff session that has not passed its second factor: the API's 403, so a client can tell it
    from a missing permission and send the person to the page that asks for the code."""

    code = "second_factor_required"


def mode() -> str:
    return getattr(settings, "YIWANG_STAFF_2FA", REQUIRED)


def has_device(user) -> bool:
    return django_otp.user_has_device(user, confirmed=True)


def is_staff(user, viewer) -> bool:
    # Django's is_staff too: anyone the admin lets in. Residents (and volunteers without a staff role) are
    # never asked.
    return bool(user.is_staff or user.is_superuser or viewer.is_staff_member)


def missing(user, viewer) -> str | None:
    """What ``user``'s session still needs before it may act as staff: VERIFY (a code from the device they
    enrolled), ENROL (a device first), or None. ``user`` is request.user after django-otp's middleware."""
    current = mode()
    if current == OFF or user is None or not user.is_authenticated:
        return None
    verified = getattr(user, "is_verified", None)
    if verified is not None and verified():
        return None
    if not is_staff(user, viewer):
        return None
    if has_device(user):
        return VERIFY
    return ENROL if current == REQUIRED else None


def refusal(step: str) -> SecondFactorRequired:
    """The API's answer to a session that still needs ``step``."""
    if step == VERIFY:
        return SecondFactorRequired(_("工作人员须先完成二次验证：请在网页 /two-factor/verify/ 输入验证器上的验证码，"
                                      "或登录时提交 otp_token。"))
    return SecondFactorRequired(_("工作人员须先启用二次验证：请在网页 /two-factor/ 绑定身份验证器。"))


def check(user, token: str):
    """The device that accepts ``token`` (a 6-digit code is the authenticator's, anything else a recovery
    code, spaces and case ignored), and whether django-otp's throttling refused the attempt. Each device
    counts its own failures and makes the next attempt wait longer each time (OTP_TOTP_THROTTLE_FACTOR,
    OTP_STATIC_THROTTLE_FACTOR). A recovery code is used up by being accepted."""
    token = (token or "").strip().lower().replace(" ", "")
    if not token:
        return None, False
    model = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    throttled = False
    for device in model.objects.devices_for_user(user, confirmed=True):
        allowed, _data = device.verify_is_allowed()
        if not allowed:
            throttled = True
            continue
        accepted = django_otp.verify_token(user, device.persistent_id, token)
        if accepted is not None:
            return accepted, False
    return None, throttled


@transaction.atomic
def enrol(*, user, device: TOTPDevice) -> list[str]:
    """Save ``device`` (confirmed by a first code) as ``user``'s one authenticator, with a new set of
    recovery codes: enrolling again replaces both. The codes, to show this once."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    device.save()
    return _new_codes(user)


@transaction.atomic
def recovery_codes_replace(*, user) -> list[str]:
    """A new set of recovery codes for ``user``; every earlier code, used or not, stops working."""
    StaticDevice.objects.select_for_update().filter(user=user).delete()
    return _new_codes(user)


def _new_codes(user) -> list[str]:
    recovery = StaticDevice.objects.create(user=user, name=_("恢复码"), confirmed=True)
    codes = [StaticToken.random_token() for _i in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=c) for c in codes)
    return codes


def recovery_codes(user) -> list[str]:
    """``user``'s recovery codes not used yet (django-otp deletes a code when it is accepted)."""
    return list(StaticToken.objects.filter(device__user=user, device__confirmed=True)
                .order_by("id").values_list("token", flat=True))
