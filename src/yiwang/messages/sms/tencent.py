"""Tencent Cloud SMS (腾讯云短信) through its official SDK, tencentcloud-sdk-python-sms.

SendSms (API version 2021-01-11) with one number, the SDK app id, the approved sign name, the generic
template and the message text as its one parameter. The SDK signs the request (TC3-HMAC-SHA256).
docs/sms.md says how to configure it and how yiwang's text maps to the template.
"""

from __future__ import annotations

from dataclasses import dataclass

from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as sms_models
from tencentcloud.sms.v20210111.sms_client import SmsClient

from ._common import mainland_number, required, setting, sign_name, split_endpoint, timeout_seconds
from .errors import PermanentSendError, RetryableSendError

DEFAULT_ENDPOINT = "sms.tencentcloudapi.com"

# Prefixes of error codes (of the whole request, or of one number's SendStatus) that may succeed
# later: the SDK's own network errors, frequency and quota limits, the provider's internal faults, an
# empty SMS package an operator can top up. Everything else - AuthFailure.*, InvalidParameter*,
# FailedOperation.* on the signature, template or number, UnauthorizedOperation.* - never will.
RETRYABLE_PREFIXES = ("ClientNetworkError", "ServerNetworkError", "LimitExceeded", "RequestLimitExceeded",
                      "InternalError", "FailedOperation.InsufficientBalanceInSmsPackage")


def classify(code: str) -> type[RetryableSendError] | type[PermanentSendError]:
    """Which error a code other than "Ok" is."""
    return RetryableSendError if code.startswith(RETRYABLE_PREFIXES) else PermanentSendError


@dataclass(frozen=True)
class TencentSmsConfig:
    secret_id: str
    secret_key: str
    sdk_app_id: str
    sign_name: str
    template_id: str
    region: str = "ap-guangzhou"
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = 10.0

    @classmethod
    def from_settings(cls) -> TencentSmsConfig:
        return cls(
            secret_id=required("YIWANG_SMS_TENCENT_SECRET_ID"),
            secret_key=required("YIWANG_SMS_TENCENT_SECRET_KEY"),
            sdk_app_id=required("YIWANG_SMS_TENCENT_SDK_APP_ID"),
            sign_name=sign_name(),
            template_id=required("YIWANG_SMS_TENCENT_TEMPLATE_ID"),
            region=setting("YIWANG_SMS_TENCENT_REGION", "ap-guangzhou"),
            endpoint=setting("YIWANG_SMS_TENCENT_ENDPOINT", DEFAULT_ENDPOINT),
            timeout=timeout_seconds(),
        )


class TencentSms:
    """The SMS backend for Tencent Cloud. Built with no arguments it reads its settings."""

    # SessionContext is echoed back but Tencent Cloud does not drop a repeat that carries the same
    # one, so a send whose answer was lost must not be repeated blindly.
    idempotent = False

    def __init__(self, config: TencentSmsConfig | None = None):
        self.config = config or TencentSmsConfig.from_settings()
        protocol, host = split_endpoint(self.config.endpoint)
        http = HttpProfile(protocol=protocol, endpoint=host, reqMethod="POST",
                           reqTimeout=max(1, round(self.config.timeout)))
        profile = ClientProfile(signMethod="TC3-HMAC-SHA256", httpProfile=http)
        try:
            credential = Credential(self.config.secret_id, self.config.secret_key)
        except TencentCloudSDKException as exc:  # empty or padded with spaces
            raise PermanentSendError(f"tencent {exc.code}: {exc.message}") from exc
        self.client = SmsClient(credential, self.config.region, profile)

    def send(self, to: str, text: str, *, idempotency_id: str) -> str:
        """Send `text` to `to`; the provider's SerialNo."""
        number = mainland_number(to)
        request = sms_models.SendSmsRequest()
        # E.164, as SendSms documents it: +86 and the 11 digits for a mainland number.
        request.PhoneNumberSet = [f"+86{number}" if number else to]
        request.SmsSdkAppId = self.config.sdk_app_id
        request.SignName = self.config.sign_name
        request.TemplateId = self.config.template_id
        request.TemplateParamSet = [text]
        request.SessionContext = idempotency_id
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            raise classify(exc.code or "")(f"tencent {exc.code}: {exc.message} (RequestId {exc.requestId})") from exc
        except Exception as exc:
            raise RetryableSendError(f"tencent: {type(exc).__name__}: {exc}") from exc
        statuses = response.SendStatusSet or []
        if len(statuses) != 1:
            raise RetryableSendError(f"tencent: {len(statuses)} send statuses for one number "
                                     f"(RequestId {response.RequestId})")
        status = statuses[0]
        if status.Code != "Ok":
            raise classify(status.Code or "")(
                f"tencent {status.Code}: {status.Message} (RequestId {response.RequestId})")
        return status.SerialNo or ""
