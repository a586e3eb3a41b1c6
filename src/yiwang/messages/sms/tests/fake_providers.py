"""Local stand-ins for the Alibaba Cloud and Tencent Cloud SMS APIs, for the adapters' tests.

Each one checks a request the way the provider documents it - the action and version, the required
parameters, and the signature, recomputed here from the request with the test's secret (not with the
SDK's code) - and answers as the provider does: the same status codes, JSON shapes and error codes.
What a number answers is chosen by the number, so one server covers success and each failure.

Alibaba Cloud: the V3 signature (ACS3-HMAC-SHA256) of its OpenAPI, which the SDK uses for SendSms
(RPC style, parameters in the query string, action and version in x-acs-* headers).
Tencent Cloud: API 3.0 with the TC3-HMAC-SHA256 signature (JSON body, X-TC-* headers).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote_plus, urlsplit

# Numbers that make the servers answer a given failure.
THROTTLED = "13800000001"
SERVER_DOWN = "13800000002"
BAD_NUMBER = "1380000"  # too short: a malformed mobile number


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


class _Server:
    """A provider on 127.0.0.1 in a thread; `requests` keeps what each request carried."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, content_type, payload = owner.handle(self.command, self.path, self.headers, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.requests: list[dict] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, str, object]:
        raise NotImplementedError


class FakeAliyun(_Server):
    """Dysmsapi 2017-05-25 SendSms, as https://help.aliyun.com documents it (V3 request signature,
    the SendSms parameters, the API error codes)."""

    JSON = "application/json;charset=utf-8"

    def __init__(self, access_key_id: str, access_key_secret: str, *, sign_names: set[str],
                 template_codes: set[str]) -> None:
        super().__init__()
        self.keys = {access_key_id: access_key_secret}
        self.sign_names = sign_names
        self.template_codes = template_codes
        self.nonces: set[str] = set()

    def _error(self, status: int, code: str, message: str) -> tuple[int, str, dict]:
        return status, self.JSON, {"RequestId": str(uuid.uuid4()).upper(), "HostId": "dysmsapi.aliyuncs.com",
                                   "Code": code, "Message": message,
                                   "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi"}

    def _answer(self, code: str, message: str, biz_id: str | None = None) -> tuple[int, str, dict]:
        # SendSms answers its own refusals with HTTP 200 and the code in the body.
        body = {"Code": code, "Message": message, "RequestId": str(uuid.uuid4()).upper()}
        if biz_id:
            body["BizId"] = biz_id
        return 200, self.JSON, body

    def handle(self, method, path, headers, body):
        url = urlsplit(path)
        # Every parameter as the query string carries it, decoded as a form ('+' is a space: the SDK's
        # HTTP client writes a space so, while it signs the RFC 3986 form, %20).
        query: dict[str, str] = {}
        for pair in filter(None, url.query.split("&")):
            key, _, value = pair.partition("=")
            query[unquote_plus(key)] = unquote_plus(value)
        self.requests.append({"method": method, "path": url.path, "query": query,
                              "headers": {k.lower(): v for k, v in headers.items()}, "body": body})

        auth = headers.get("Authorization", "")
        match = re.fullmatch(r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})",
                             auth)
        if not match:
            return self._error(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        key_id, signed, signature = match.groups()
        if key_id not in self.keys:
            return self._error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        signed_headers = signed.split(";")
        must_sign = {"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce",
                     "x-acs-content-sha256"}
        present = {k.lower() for k in headers}
        if signed_headers != sorted(signed_headers) or not must_sign <= set(signed_headers) \
                or not set(signed_headers) <= present \
                or any(k.startswith("x-acs-") and k not in signed_headers for k in present) \
                or ("content-type" in present and "content-type" not in signed_headers):
            return self._error(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        if headers["Host"] != urlsplit(self.url).netloc:
            return self._error(400, "InvalidParameter", "Host does not match the endpoint.")
        if headers["x-acs-content-sha256"] != _sha256(body):
            return self._error(400, "SignatureDoesNotMatch", "Specified signature does not match our calculation.")
        try:
            sent = datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self._error(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        if abs(time.time() - sent.timestamp()) > 15 * 60:
            return self._error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        nonce = headers["x-acs-signature-nonce"]
        if nonce in self.nonces:
            return self._error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

        # The canonical request: method, URI, sorted encoded query, signed headers, payload hash.
        def enc(s: str) -> str:
            return quote(s, safe="~")

        canonical_query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))
        canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
        canonical_request = "\n".join([method, url.path or "/", canonical_query, canonical_headers, signed,
                                       _sha256(body)])
        string_to_sign = f"ACS3-HMAC-SHA256\n{_sha256(canonical_request.encode())}"
        expected = hmac.new(self.keys[key_id].encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return self._error(400, "SignatureDoesNotMatch", "Specified signature does not match our calculation.")
        self.nonces.add(nonce)

        if headers["x-acs-action"] != "SendSms":
            return self._error(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
        if headers["x-acs-version"] != "2017-05-25":
            return self._error(400, "InvalidVersion", "Specified parameter Version is not valid.")
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not query.get(name):
                return self._error(400, f"Missing{name}", f"{name} is mandatory for this action.")

        numbers = query["PhoneNumbers"].split(",")
        if query["SignName"] not in self.sign_names:
            return self._answer("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        if query["TemplateCode"] not in self.template_codes:
            return self._answer("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            param = json.loads(query.get("TemplateParam", "{}"))
        except ValueError:
            param = None
        if not isinstance(param, dict) or not all(isinstance(v, str) for v in param.values()):
            return self._answer("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if any(not re.fullmatch(r"1\d{10}", n) for n in numbers):
            return self._answer("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if THROTTLED in numbers:
            return self._answer("isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控Permits:10")
        if SERVER_DOWN in numbers:
            return self._error(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
        return self._answer("OK", "OK", biz_id=f"{900619746936498 + len(self.requests)}^0")


class FakeTencent(_Server):
    """SMS API 3.0 SendSms 2021-01-11, as https://cloud.tencent.com/document/api/382 documents it
    (signature v3 TC3-HMAC-SHA256, the SendSms parameters and SendStatus, the error codes)."""

    def __init__(self, secret_id: str, secret_key: str, *, sdk_app_id: str, sign_names: set[str],
                 template_ids: set[str]) -> None:
        super().__init__()
        self.keys = {secret_id: secret_key}
        self.sdk_app_id = sdk_app_id
        self.sign_names = sign_names
        self.template_ids = template_ids
        self.http_status = 200  # a test sets 502 for a gateway that is down

    @staticmethod
    def _error(code: str, message: str) -> tuple[int, str, dict]:
        # API 3.0 answers every refusal of the whole request with HTTP 200 and Response.Error.
        return 200, "application/json", {"Response": {"Error": {"Code": code, "Message": message},
                                                      "RequestId": str(uuid.uuid4())}}

    def handle(self, method, path, headers, body):
        self.requests.append({"method": method, "path": path,
                              "headers": {k.lower(): v for k, v in headers.items()}, "body": body})
        if self.http_status != 200:
            return self.http_status, "text/html", b"<html><body>502 Bad Gateway</body></html>"

        auth = headers.get("Authorization", "")
        match = re.fullmatch(r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
                             r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", auth)
        if not match:
            return self._error("AuthFailure.InvalidAuthorization", "Authorization header is invalid.")
        secret_id, date, service, signed, signature = match.groups()
        signed_headers = signed.split(";")
        if service != "sms" or not {"content-type", "host"} <= set(signed_headers) \
                or signed_headers != sorted(signed_headers):
            return self._error("AuthFailure.InvalidAuthorization", "Authorization header is invalid.")
        if secret_id not in self.keys:
            return self._error("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct.")
        try:
            timestamp = int(headers.get("X-TC-Timestamp", ""))
        except ValueError:
            return self._error("MissingParameter", "The request is missing a required parameter `Timestamp`.")
        if abs(time.time() - timestamp) > 300:
            return self._error("AuthFailure.SignatureExpire", "Signature expired. Timestamp and server time cannot differ by more than five minutes.")
        if datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d") != date:
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.")
        if headers["Host"] != urlsplit(self.url).netloc:
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.")

        url = urlsplit(path)
        canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed_headers)
        canonical_request = "\n".join([method, url.path or "/", url.query if method == "GET" else "",
                                       canonical_headers, signed, _sha256(body)])
        scope = f"{date}/{service}/tc3_request"
        string_to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{_sha256(canonical_request.encode())}"
        key = _hmac(_hmac(_hmac(("TC3" + self.keys[secret_id]).encode(), date), service), "tc3_request")
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.")

        if headers.get("X-TC-Action") != "SendSms":
            return self._error("InvalidAction", f"The action `{headers.get('X-TC-Action')}` is not found.")
        if headers.get("X-TC-Version") != "2021-01-11":
            return self._error("NoSuchVersion", "The requested version is not supported.")
        if headers.get("X-TC-Region") not in {"ap-guangzhou", "ap-beijing", "ap-nanjing"}:
            return self._error("UnsupportedRegion", "The action does not support this region.")
        if not headers.get("Content-Type", "").startswith("application/json"):
            return self._error("InvalidParameter", "The request body is not JSON.")
        params = json.loads(body)
        for name in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId"):
            if not params.get(name):
                return self._error("MissingParameter", f"The request is missing a required parameter `{name}`.")
        if params["SmsSdkAppId"] != self.sdk_app_id:
            return self._error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId 不存在。")
        if len(params.get("SessionContext", "").encode()) >= 512:
            return self._error("InvalidParameterValue.ContentLengthLimit", "SessionContext 过长。")
        if not isinstance(params.get("TemplateParamSet", []), list):
            return self._error("InvalidParameter", "TemplateParamSet 必须为字符串数组。")

        statuses = []
        for number in params["PhoneNumberSet"]:
            status = {"SerialNo": "", "PhoneNumber": number, "Fee": 0,
                      "SessionContext": params.get("SessionContext", ""), "IsoCode": "CN"}
            if params.get("SignName") not in self.sign_names:
                status.update(Code="FailedOperation.SignatureIncorrectOrUnapproved", Message="签名未审批或格式错误。")
            elif params["TemplateId"] not in self.template_ids:
                status.update(Code="FailedOperation.TemplateIncorrectOrUnapproved", Message="模板未审批或内容不匹配。")
            elif not re.fullmatch(r"\+861\d{10}", number):
                status.update(Code="InvalidParameterValue.IncorrectPhoneNumber", Message="手机号格式错误。",
                              IsoCode="")
            elif number == f"+86{THROTTLED}":
                status.update(Code="LimitExceeded.PhoneNumberThirtySecondLimit",
                              Message="单个手机号30秒内下发短信条数超过设定的上限。")
            else:
                status.update(SerialNo=f"5000:10457106691570536578494{len(self.requests):05d}", Fee=1,
                              Code="Ok", Message="send success")
            statuses.append(status)
        return 200, "application/json", {"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}}
