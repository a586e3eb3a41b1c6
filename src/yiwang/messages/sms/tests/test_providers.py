"""The SMS provider adapters against local servers that check each request as the provider documents
it (fake_providers.py) and answer as the provider does, failures included."""

from __future__ import annotations

import json
import re
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured

from yiwang.messages.sms import sms_backend_from_settings
from yiwang.messages.sms.aliyun import AliyunSms, AliyunSmsConfig
from yiwang.messages.sms.errors import PermanentSendError, RetryableSendError
from yiwang.messages.sms.tencent import TencentSms, TencentSmsConfig

from .fake_providers import BAD_NUMBER, SERVER_DOWN, THROTTLED, FakeAliyun, FakeTencent

TEXT = "您的办件 XX-2026-000123 已办结，请登录一网通办查看并评价。"
SIGN = "西咸新区"


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


# -- Alibaba Cloud -------------------------------------------------------------------------------

AK_ID, AK_SECRET = "LTAI5tTestKeyId0000000", "TestSecretForYiwang0000000000000"


@pytest.fixture
def aliyun():
    with FakeAliyun(AK_ID, AK_SECRET, sign_names={SIGN}, template_codes={"SMS_471234567"}) as server:
        yield server


def _aliyun(server: FakeAliyun, **overrides) -> AliyunSms:
    config = {"access_key_id": AK_ID, "access_key_secret": AK_SECRET, "sign_name": SIGN,
              "template_code": "SMS_471234567", "endpoint": server.url, "timeout": 5.0} | overrides
    return AliyunSms(AliyunSmsConfig(**config))


def test_aliyun_sends_and_returns_the_biz_id(aliyun):
    biz_id = _aliyun(aliyun).send("+86 138-1234-5678", TEXT, idempotency_id="msg-1")

    assert biz_id.endswith("^0")
    (request,) = aliyun.requests
    assert request["method"] == "POST"
    assert request["headers"]["x-acs-action"] == "SendSms"
    assert request["headers"]["x-acs-version"] == "2017-05-25"
    assert request["query"]["PhoneNumbers"] == "13812345678"
    assert request["query"]["SignName"] == SIGN
    assert request["query"]["TemplateCode"] == "SMS_471234567"
    assert json.loads(request["query"]["TemplateParam"]) == {"content": TEXT}
    assert request["query"]["OutId"] == "msg-1"


def test_aliyun_two_sends_are_two_signed_requests(aliyun):
    sms = _aliyun(aliyun)
    first = sms.send("13812345678", TEXT, idempotency_id="msg-1")
    second = sms.send("13812345678", TEXT + "（二）", idempotency_id="msg-2")

    assert first != second
    assert aliyun.requests[0]["headers"]["x-acs-signature-nonce"] != aliyun.requests[1]["headers"]["x-acs-signature-nonce"]


def test_aliyun_throttling_is_retryable(aliyun):
    with pytest.raises(RetryableSendError, match=re.escape("isv.BUSINESS_LIMIT_CONTROL")):
        _aliyun(aliyun).send(THROTTLED, TEXT, idempotency_id="msg-1")


def test_aliyun_a_bad_number_is_permanent(aliyun):
    with pytest.raises(PermanentSendError, match=re.escape("isv.MOBILE_NUMBER_ILLEGAL")):
        _aliyun(aliyun).send(BAD_NUMBER, TEXT, idempotency_id="msg-1")


def test_aliyun_an_unapproved_signature_or_template_is_permanent(aliyun):
    with pytest.raises(PermanentSendError, match=re.escape("isv.SMS_SIGNATURE_ILLEGAL")):
        _aliyun(aliyun, sign_name="未审核签名").send("13812345678", TEXT, idempotency_id="msg-1")
    with pytest.raises(PermanentSendError, match=re.escape("isv.SMS_TEMPLATE_ILLEGAL")):
        _aliyun(aliyun, template_code="SMS_000000000").send("13812345678", TEXT, idempotency_id="msg-2")


def test_aliyun_a_wrong_secret_is_a_signature_error_and_permanent(aliyun):
    with pytest.raises(PermanentSendError, match="SignatureDoesNotMatch"):
        _aliyun(aliyun, access_key_secret="NotTheSecret000000000000000000").send(
            "13812345678", TEXT, idempotency_id="msg-1")
    assert len(aliyun.requests) == 1  # the request reached the server, which refused its signature


def test_aliyun_an_unknown_access_key_is_permanent(aliyun):
    with pytest.raises(PermanentSendError, match=re.escape("InvalidAccessKeyId.NotFound")):
        _aliyun(aliyun, access_key_id="LTAI5tUnknown").send("13812345678", TEXT, idempotency_id="msg-1")


def test_aliyun_a_server_error_is_retryable(aliyun):
    with pytest.raises(RetryableSendError, match="ServiceUnavailable"):
        _aliyun(aliyun).send(SERVER_DOWN, TEXT, idempotency_id="msg-1")


def test_aliyun_no_answer_is_retryable():
    sms = AliyunSms(AliyunSmsConfig(access_key_id=AK_ID, access_key_secret=AK_SECRET, sign_name=SIGN,
                                    template_code="SMS_471234567", endpoint=_closed_port_url(), timeout=2.0))
    with pytest.raises(RetryableSendError):
        sms.send("13812345678", TEXT, idempotency_id="msg-1")


def test_the_fake_aliyun_refuses_a_replayed_request(aliyun):
    """The check is real: the same signed request sent twice is refused the second time."""
    _aliyun(aliyun).send("13812345678", TEXT, idempotency_id="msg-1")
    first = aliyun.requests[0]
    status, _type, answer = aliyun.handle("POST", f"/?{_query(first['query'])}",
                                          _Headers(first["headers"]), first["body"])
    assert (status, answer["Code"]) == (400, "SignatureNonceUsed")


def test_the_fake_aliyun_refuses_a_changed_parameter(aliyun):
    """The check is real: a parameter changed after signing breaks the signature."""
    _aliyun(aliyun).send("13812345678", TEXT, idempotency_id="msg-1")
    first = aliyun.requests[0]
    headers = dict(first["headers"], **{"x-acs-signature-nonce": "another-nonce"})
    status, _type, answer = aliyun.handle("POST", f"/?{_query(first['query'] | {'PhoneNumbers': '13900000000'})}",
                                          _Headers(headers), first["body"])
    assert (status, answer["Code"]) == (400, "SignatureDoesNotMatch")


def _query(params: dict[str, str]) -> str:
    from urllib.parse import quote

    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in params.items())


class _Headers(dict):
    """Case-insensitive enough for the fakes: http.server's headers are read by their usual names."""

    def __init__(self, lowered: dict[str, str]):
        super().__init__(lowered)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def get(self, name: str, default=None):
        return super().get(name.lower(), default)


# -- Tencent Cloud -------------------------------------------------------------------------------

SECRET_ID, SECRET_KEY = "AKIDTestSecretIdForYiwang00000000", "TestSecretKeyForYiwang0000000000"


@pytest.fixture
def tencent():
    with FakeTencent(SECRET_ID, SECRET_KEY, sdk_app_id="1400006666", sign_names={SIGN},
                     template_ids={"2034567"}) as server:
        yield server


def _tencent(server: FakeTencent, **overrides) -> TencentSms:
    config = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, "sdk_app_id": "1400006666", "sign_name": SIGN,
              "template_id": "2034567", "endpoint": server.url, "timeout": 5.0} | overrides
    return TencentSms(TencentSmsConfig(**config))


def test_tencent_sends_and_returns_the_serial_no(tencent):
    serial = _tencent(tencent).send("13812345678", TEXT, idempotency_id="msg-1")

    assert serial.startswith("5000:")
    (request,) = tencent.requests
    assert request["headers"]["x-tc-action"] == "SendSms"
    assert request["headers"]["x-tc-version"] == "2021-01-11"
    assert request["headers"]["x-tc-region"] == "ap-guangzhou"
    body = json.loads(request["body"])
    assert body["PhoneNumberSet"] == ["+8613812345678"]
    assert body["SmsSdkAppId"] == "1400006666"
    assert body["SignName"] == SIGN
    assert body["TemplateId"] == "2034567"
    assert body["TemplateParamSet"] == [TEXT]
    assert body["SessionContext"] == "msg-1"


def test_tencent_throttling_is_retryable(tencent):
    with pytest.raises(RetryableSendError, match=re.escape("LimitExceeded.PhoneNumberThirtySecondLimit")):
        _tencent(tencent).send(THROTTLED, TEXT, idempotency_id="msg-1")


def test_tencent_a_bad_number_is_permanent(tencent):
    with pytest.raises(PermanentSendError, match=re.escape("InvalidParameterValue.IncorrectPhoneNumber")):
        _tencent(tencent).send(BAD_NUMBER, TEXT, idempotency_id="msg-1")


def test_tencent_an_unapproved_signature_or_template_is_permanent(tencent):
    with pytest.raises(PermanentSendError, match=re.escape("FailedOperation.SignatureIncorrectOrUnapproved")):
        _tencent(tencent, sign_name="未审核签名").send("13812345678", TEXT, idempotency_id="msg-1")
    with pytest.raises(PermanentSendError, match=re.escape("FailedOperation.TemplateIncorrectOrUnapproved")):
        _tencent(tencent, template_id="999").send("13812345678", TEXT, idempotency_id="msg-2")


def test_tencent_a_wrong_secret_is_a_signature_error_and_permanent(tencent):
    with pytest.raises(PermanentSendError, match=re.escape("AuthFailure.SignatureFailure")):
        _tencent(tencent, secret_key="NotTheSecretKey0000000000000000").send("13812345678", TEXT, idempotency_id="msg-1")
    assert len(tencent.requests) == 1


def test_tencent_an_unknown_secret_id_is_permanent(tencent):
    with pytest.raises(PermanentSendError, match=re.escape("AuthFailure.SecretIdNotFound")):
        _tencent(tencent, secret_id="AKIDUnknown").send("13812345678", TEXT, idempotency_id="msg-1")


def test_tencent_an_unknown_app_is_permanent(tencent):
    with pytest.raises(PermanentSendError, match=re.escape("InvalidParameterValue.SdkAppIdNotExist")):
        _tencent(tencent, sdk_app_id="1400000000").send("13812345678", TEXT, idempotency_id="msg-1")


def test_tencent_a_gateway_error_is_retryable(tencent):
    tencent.http_status = 502
    with pytest.raises(RetryableSendError, match="ServerNetworkError"):
        _tencent(tencent).send("13812345678", TEXT, idempotency_id="msg-1")


def test_tencent_no_answer_is_retryable():
    sms = TencentSms(TencentSmsConfig(secret_id=SECRET_ID, secret_key=SECRET_KEY, sdk_app_id="1400006666",
                                      sign_name=SIGN, template_id="2034567", endpoint=_closed_port_url(), timeout=2.0))
    with pytest.raises(RetryableSendError, match="ClientNetworkError"):
        sms.send("13812345678", TEXT, idempotency_id="msg-1")


def test_the_fake_tencent_refuses_a_changed_body(tencent):
    """The check is real: a body changed after signing breaks the signature."""
    _tencent(tencent).send("13812345678", TEXT, idempotency_id="msg-1")
    first = tencent.requests[0]
    body = first["body"].replace(b"+8613812345678", b"+8613900000000")
    _status, _type, answer = tencent.handle("POST", "/", _Headers(first["headers"]), body)
    assert answer["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"


# -- Choosing the provider -----------------------------------------------------------------------

def test_no_provider_means_no_adapter(settings):
    settings.YIWANG_SMS_PROVIDER = ""
    assert sms_backend_from_settings() is None


def test_the_provider_and_its_settings_come_from_settings(settings, aliyun, tencent):
    settings.YIWANG_SMS_SIGN_NAME = SIGN
    settings.YIWANG_SMS_PROVIDER = "aliyun"
    settings.YIWANG_SMS_ALIYUN_ACCESS_KEY_ID = AK_ID
    settings.YIWANG_SMS_ALIYUN_ACCESS_KEY_SECRET = AK_SECRET
    settings.YIWANG_SMS_ALIYUN_TEMPLATE_CODE = "SMS_471234567"
    settings.YIWANG_SMS_ALIYUN_ENDPOINT = aliyun.url
    backend = sms_backend_from_settings()
    assert isinstance(backend, AliyunSms)
    assert backend.send("13812345678", TEXT, idempotency_id="msg-1")

    settings.YIWANG_SMS_PROVIDER = "tencent"
    settings.YIWANG_SMS_TENCENT_SECRET_ID = SECRET_ID
    settings.YIWANG_SMS_TENCENT_SECRET_KEY = SECRET_KEY
    settings.YIWANG_SMS_TENCENT_SDK_APP_ID = "1400006666"
    settings.YIWANG_SMS_TENCENT_TEMPLATE_ID = "2034567"
    settings.YIWANG_SMS_TENCENT_ENDPOINT = tencent.url
    backend = sms_backend_from_settings()
    assert isinstance(backend, TencentSms)
    assert backend.send("13812345678", TEXT, idempotency_id="msg-1")


def test_a_provider_without_its_settings_refuses_to_start(settings):
    settings.YIWANG_SMS_PROVIDER = "tencent"
    settings.YIWANG_SMS_TENCENT_SECRET_ID = ""
    with pytest.raises(ImproperlyConfigured, match="YIWANG_SMS_TENCENT_SECRET_ID"):
        sms_backend_from_settings()


def test_an_unknown_provider_refuses_to_start(settings):
    settings.YIWANG_SMS_PROVIDER = "twilio"
    with pytest.raises(ImproperlyConfigured, match="twilio"):
        sms_backend_from_settings()


def test_the_errors_are_the_channels_errors():
    """The delivery worker files them by the channels' own classes (errors.py says why)."""
    channels = pytest.importorskip("yiwang.messages.channels")
    assert issubclass(RetryableSendError, channels.RetryableError)
    assert issubclass(PermanentSendError, channels.PermanentError)
