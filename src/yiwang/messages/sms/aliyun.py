"""Alibaba Cloud SMS (阿里云短信服务) through its official SDK, alibabacloud_dysmsapi20170525.

SendSms (API version 2017-05-25, RPC style) with one number, the approved sign name, the generic
template and the message text as its one variable. The SDK signs the request (ACS3-HMAC-SHA256).
docs/sms.md says how to configure it and how yiwang's text maps to the template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from alibabacloud_dysmsapi20170525 import models as sms_models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import utils_models as openapi_models
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from darabonba.runtime import RuntimeOptions

from ._common import mainland_number, required, setting, sign_name, split_endpoint, timeout_seconds
from .errors import PermanentSendError, RetryableSendError

DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"

# Codes of a SendSms answer (HTTP 200, Code other than "OK") that may succeed later: flow control
# per number, minute/hour/day/month quotas, an empty balance an operator can top up, the provider's
# own faults (isp.*). Every other isv.* code is the caller's request and never succeeds as it is.
RETRYABLE_CODES = frozenset({
    "isv.BUSINESS_LIMIT_CONTROL",
    "isv.DAY_LIMIT_CONTROL",
    "isv.MONTH_LIMIT_CONTROL",
    "isv.AMOUNT_NOT_ENOUGH",
    "isv.OUT_OF_SERVICE",
    "isv.DATA_NOT_EXIST",  # documented as "please try again later"
    "isv.BILLING_DEDUCTION_ERROR",
})

# Codes of a refused request (HTTP 4xx) from the API gateway that are throttling, not a refusal.
RETRYABLE_GATEWAY_CODES = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "Throttling.Resource",
                                     "ServiceUnavailable", "InternalError"})


@dataclass(frozen=True)
class AliyunSmsConfig:
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_code: str
    template_param: str = "content"
    region: str = "cn-hangzhou"
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = 10.0

    @classmethod
    def from_settings(cls) -> AliyunSmsConfig:
        return cls(
            access_key_id=required("YIWANG_SMS_ALIYUN_ACCESS_KEY_ID"),
            access_key_secret=required("YIWANG_SMS_ALIYUN_ACCESS_KEY_SECRET"),
            sign_name=sign_name(),
            template_code=required("YIWANG_SMS_ALIYUN_TEMPLATE_CODE"),
            template_param=setting("YIWANG_SMS_ALIYUN_TEMPLATE_PARAM", "content"),
            region=setting("YIWANG_SMS_ALIYUN_REGION", "cn-hangzhou"),
            endpoint=setting("YIWANG_SMS_ALIYUN_ENDPOINT", DEFAULT_ENDPOINT),
            timeout=timeout_seconds(),
        )


def classify(code: str) -> type[RetryableSendError] | type[PermanentSendError]:
    """Which error a SendSms answer's Code other than "OK" is."""
    if code in RETRYABLE_CODES or code.startswith("isp."):
        return RetryableSendError
    return PermanentSendError


class AliyunSms:
    """The SMS backend for Alibaba Cloud. Built with no arguments it reads its settings."""

    # OutId is echoed in delivery receipts but Alibaba Cloud does not drop a repeat that carries the
    # same one, so a send whose answer was lost must not be repeated blindly.
    idempotent = False

    def __init__(self, config: AliyunSmsConfig | None = None):
        self.config = config or AliyunSmsConfig.from_settings()
        protocol, host = split_endpoint(self.config.endpoint)
        millis = int(self.config.timeout * 1000)
        self.client = Client(openapi_models.Config(
            access_key_id=self.config.access_key_id,
            access_key_secret=self.config.access_key_secret,
            region_id=self.config.region,
            endpoint=host,
            protocol=protocol,
            connect_timeout=millis,
            read_timeout=millis,
        ))

    def send(self, to: str, text: str, *, idempotency_id: str) -> str:
        """Send `text` to `to`; the provider's BizId."""
        request = sms_models.SendSmsRequest(
            # Mainland numbers as 11 digits, as SendSms documents them; anything else as given, with
            # its country code, for the provider to accept or refuse.
            phone_numbers=mainland_number(to) or to.lstrip("+"),
            sign_name=self.config.sign_name,
            template_code=self.config.template_code,
            template_param=json.dumps({self.config.template_param: text}, ensure_ascii=False),
            out_id=idempotency_id,
        )
        try:
            # No retries inside the SDK (its default): the delivery worker decides when to try again.
            response = self.client.send_sms_with_options(request, RuntimeOptions())
        except ThrottlingException as exc:
            raise RetryableSendError(f"aliyun {exc.code}: {exc.message}") from exc
        except ServerException as exc:
            raise RetryableSendError(f"aliyun {exc.code}: {exc.message}") from exc
        except ClientException as exc:
            # 4xx: a bad signature, an unknown or disabled AccessKey, a missing permission, a bad
            # parameter - except the gateway's own throttling.
            error = RetryableSendError if exc.code in RETRYABLE_GATEWAY_CODES else PermanentSendError
            raise error(f"aliyun {exc.code}: {exc.message}") from exc
        except Exception as exc:
            # The SDK wraps connection refused, timeouts and unreadable answers alike.
            raise RetryableSendError(f"aliyun: {type(exc).__name__}: {exc}") from exc
        body = response.body
        if body is None or body.code is None:
            raise RetryableSendError(f"aliyun: an answer with no Code (HTTP {response.status_code})")
        if body.code != "OK":
            raise classify(body.code)(f"aliyun {body.code}: {body.message} (RequestId {body.request_id})")
        return body.biz_id or ""
