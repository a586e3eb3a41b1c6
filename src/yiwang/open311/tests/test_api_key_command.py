"""`yiwang open311-key NAME` prints a key once; only its hash is kept; it can be revoked and listed."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from yiwang.open311.models import ApiKey
from yiwang.open311.selectors import api_key_for, key_hash
from yiwang.org.models import Staff


def run(*args) -> str:
    out = StringIO()
    call_command("open311-key", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_it_prints_a_key_and_keeps_only_its_hash(world):
    key = run("wechat-app")
    stored = ApiKey.objects.get()
    assert key.startswith("o311_") and len(key) > 40 and stored.key_hash == key_hash(key)
    assert key not in str(list(ApiKey.objects.values()))
    assert api_key_for(key) == stored and api_key_for(key + "x") is None


def test_the_account_made_for_a_key_may_only_report(world):
    run("wechat-app")
    user = ApiKey.objects.get().user
    assert user.username == "open311-wechat-app" and not user.has_usable_password()
    assert list(Staff.objects.filter(user=user).values_list("unit__code", "role")) == [("XX-CC", "grid_worker")]
    run("kg-app", "--unit", "KG-CC")
    assert Staff.objects.get(user__username="open311-kg-app").unit.code == "KG-CC"


def test_a_key_may_report_as_an_existing_resident_or_staff_member(world):
    run("wang-phone", "--user", "resident_wang")
    assert ApiKey.objects.get().user == world.users["resident_wang"]
    with pytest.raises(CommandError, match="没有名为 nobody"):
        run("x", "--user", "nobody")


def test_a_name_has_one_live_key_and_can_be_revoked_and_reissued(world):
    first = run("wechat-app")
    with pytest.raises(CommandError, match="已有名为 wechat-app"):
        run("wechat-app")
    assert run("wechat-app", "--revoke") == "revoked wechat-app"
    assert api_key_for(first) is None
    second = run("wechat-app")
    assert api_key_for(second).user == ApiKey.objects.filter(revoked_at__isnull=False).get().user
    listing = run("--list")
    assert "revoked" in listing and "active" in listing
    with pytest.raises(CommandError):
        run("nothing-here", "--revoke")
