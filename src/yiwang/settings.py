"""Settings for yiwang, read from the environment in this one place.

YIWANG_DATABASE_URL selects the database: ``sqlite:///path`` (the embedded default, WAL mode) or
``postgres://user@host:port/name``, with several ``host:port`` for a failover pair. YIWANG_REPLICA_URL
optionally adds a streaming replica, read only by the reads that may be stale (core/db.py,
docs/SCALING.md).
"""

import os
import re
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from yiwang.core.secret_key import secret_key

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("YIWANG_VAR_DIR", BASE_DIR.parent.parent / "var"))

# YIWANG_SECRET_KEY, else the key this installation wrote to var/secret_key on its first start; a
# published or weak key refuses to start (core/secret_key.py, docs/security.md).
SECRET_KEY = secret_key(os.environ.get("YIWANG_SECRET_KEY"), VAR_DIR)
DEBUG = os.environ.get("YIWANG_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("YIWANG_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",  # /api/v1/docs from its own static files, not a CDN with an inline script (CSP)
    # Staff second factor (yiwang.web.two_factor): TOTP authenticators and recovery codes
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "yiwang.core",
    "yiwang.org",
    "yiwang.catalog",
    "yiwang.messages",  # label "messaging": the outbox (docs/messages.md)
    "yiwang.cases",
    "yiwang.feedback",
    "yiwang.grid",
    "yiwang.command",
    "yiwang.patrol",
    "yiwang.ledger",
    "yiwang.party",
    "yiwang.parking",
    "yiwang.open311",
    "yiwang.integrations",  # outbound webhooks and the Open311 client (docs/integrations.md)
    "yiwang.stats",
    "yiwang.records",
    "yiwang.web",
    "yiwang.demo",
]

MIDDLEWARE = [
    # First: its latency covers every other middleware, and its request id is on every line they log.
    "yiwang.core.observe.RequestObservationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "yiwang.core.security.SecurityHeadersMiddleware",  # CSP and Permissions-Policy, static files too
    # Static files, precompressed at collectstatic (gzip): the ECharts bundle is 643 KB raw but
    # 220 KB on the wire, which keeps every page under 400 KB of JS+CSS. granian has no compression.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "yiwang.core.middleware.TraditionalScriptMiddleware",  # 繁體 pages: stored Simplified text converted too
    "yiwang.core.security.RequestSizeLimitMiddleware",  # before anything reads the body (CSRF does)
    "yiwang.core.security.ControlCharacterMiddleware",  # form fields and queries: core.text's rule, for every page
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the session passed a second factor
    "yiwang.core.throttle.device_cookie_middleware",  # the device cookie a successful login earned
    "yiwang.core.middleware.LazyMessageMiddleware",  # messages.MessageMiddleware, its storage built on first use
    "yiwang.web.two_factor.StaffSecondFactorMiddleware",  # unverified staff: to verification (YIWANG_STAFF_2FA)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "yiwang.core.middleware.ErrorResponseMiddleware",  # a DomainError or a lost database out of a view: 4xx/503, not 500
]

ROOT_URLCONF = "yiwang.urls"
WSGI_APPLICATION = "yiwang.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "yiwang.web.context.viewer",
                "yiwang.web.context.display",
            ],
        },
    },
]


def database_from_url(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path) or str(VAR_DIR / "yiwang.sqlite3")
        return {
            "ENGINE": "yiwang.core.backends.sqlite",  # Django's, writers queued on a file lock
            "NAME": path,
            # Persistent connections. Opening and closing one per request costs ~3 ms of CPU, and
            # with SQLite 3.40 (Debian 12) the frequent last-connection WAL checkpoint/reset lost
            # committed writes under load in bench/intake.py (SQLite's "WAL-reset" bug, fixed in
            # 3.51.3); a long-lived connection per thread never saw it in 45k writes.
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN
                # so two writers queue instead of failing with "database is locked" mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=20000;PRAGMA cache_size=-64000;PRAGMA mmap_size=268435456;"
                ),
            },
            # Tests get a file in WAL mode, not Django's shared-cache in-memory default: that one
            # refuses a second writer ("database table is locked") where WAL queues it, so tests of
            # racing writers would not see what a deployment does. One file per test process.
            "TEST": {"NAME": os.environ.get("YIWANG_TEST_SQLITE")
                     or str(Path(tempfile.gettempdir()) / f"yiwang-test-{os.getpid()}.sqlite3")},
        }
    if parsed.scheme in {"postgres", "postgresql"}:
        return postgres_from_url(parsed)
    raise ValueError(f"YIWANG_DATABASE_URL has an unknown scheme {parsed.scheme!r}: use sqlite:/// or postgres://")


# libpq connection parameters a postgres:// URL may carry in its query, with the values each accepts
# (None: a whole number). Anything else is refused at start rather than at the first connect.
_LIBPQ_QUERY = {
    "target_session_attrs": {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"},
    "sslmode": {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"},
    "connect_timeout": None, "keepalives": None, "keepalives_idle": None, "keepalives_interval": None,
    "keepalives_count": None, "tcp_user_timeout": None,
}
# Behind pgbouncer in transaction mode a server-side cursor outside a transaction does not survive
# (QuerySet.iterator() opens one): ?disable_server_side_cursors=true (docs/SCALING.md).
_FLAGS = {"true": True, "1": True, "false": False, "0": False}
# With several hosts a host that drops packets (not one that refuses) would stall each connect for
# the kernel's TCP timeout, minutes, before libpq tries the next one.
MULTI_HOST_CONNECT_TIMEOUT = 5


def postgres_from_url(parsed) -> dict:
    """A PostgreSQL DATABASES entry from ``postgres://user:password@host:port[,host:port…]/name?params``.

    Several hosts are what a failover set-up gives (docs/SCALING.md, "Failover"): libpq tries them in
    order, and with ``target_session_attrs=read-write`` takes the first that accepts writes, so after
    a standby is promoted new connections find it. They reach psycopg as libpq's own comma-separated
    ``host`` and ``port`` (Django passes HOST and PORT through unchanged).
    """
    userinfo, _, hostlist = parsed.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    hosts, ports = [], []
    for entry in hostlist.split(","):
        if entry.startswith("["):  # [::1]:5432
            host, _, rest = entry[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = entry.partition(":")
        if not port.isdigit() and port:
            raise ValueError(f"YIWANG_DATABASE_URL: {entry!r} has a port that is not a number")
        hosts.append(unquote(host) or "127.0.0.1")
        ports.append(port or "5432")
    options: dict = {}
    settings_dict: dict = {}
    for key, values in parse_qs(parsed.query, keep_blank_values=True).items():
        value = values[-1]
        if key == "disable_server_side_cursors":
            if value.lower() not in _FLAGS:
                raise ValueError(f"YIWANG_DATABASE_URL: disable_server_side_cursors={value!r}: use true or false")
            settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = _FLAGS[value.lower()]
        elif key not in _LIBPQ_QUERY:
            known = ", ".join(sorted([*_LIBPQ_QUERY, "disable_server_side_cursors"]))
            raise ValueError(f"YIWANG_DATABASE_URL: unknown parameter {key!r} (known: {known})")
        elif _LIBPQ_QUERY[key] is None and not value.isdigit():
            raise ValueError(f"YIWANG_DATABASE_URL: {key}={value!r} must be a whole number of seconds or a count")
        elif _LIBPQ_QUERY[key] is not None and value not in _LIBPQ_QUERY[key]:
            raise ValueError(f"YIWANG_DATABASE_URL: {key}={value!r}: use one of {', '.join(sorted(_LIBPQ_QUERY[key]))}")
        else:
            options[key] = int(value) if _LIBPQ_QUERY[key] is None else value
    if len(hosts) > 1:
        options.setdefault("connect_timeout", MULTI_HOST_CONNECT_TIMEOUT)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "yiwang",
        "USER": unquote(user or "postgres"),
        "PASSWORD": unquote(password),
        "HOST": ",".join(hosts),
        # libpq takes one port for every host or one per host; one per host, always, reads plainly.
        "PORT": ",".join(ports),
        # A connection broken by a failover is dropped, not reused: Django checks a kept connection
        # before a request's first query (CONN_HEALTH_CHECKS) and closes one that failed in a request.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
        **settings_dict,
    }


def replica_from_url(url: str) -> dict:
    """A read replica (a PostgreSQL hot standby) for reads that may be a few seconds stale: core/db.py."""
    try:
        replica = database_from_url(url)
    except ValueError:
        raise ValueError("YIWANG_REPLICA_URL must be a postgres:// URL (or sqlite:/// for a read-only copy)") from None
    # Tests read what they wrote: the replica is the default test database under a second name.
    replica["TEST"] = {"MIRROR": "default"}
    if replica["ENGINE"] == "django.db.backends.postgresql":
        # A replica that does not answer costs a request this much before reads fall back to the primary.
        replica["OPTIONS"].setdefault("connect_timeout", 2)
    return replica


DATABASES = {"default": database_from_url(os.environ.get("YIWANG_DATABASE_URL", "sqlite://"))}
if os.environ.get("YIWANG_REPLICA_URL"):
    DATABASES["replica"] = replica_from_url(os.environ["YIWANG_REPLICA_URL"])
# After a replica fails to answer, how long a process sends its stale reads to the primary before
# trying the replica again; also how often a connection outside a request is checked.
YIWANG_REPLICA_RETRY_SECONDS = float(os.environ.get("YIWANG_REPLICA_RETRY_SECONDS", "5"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every password a person chooses (a resident's at sign-up: web/accounts.py) passes Django's four
# validators: 8 characters or more, not like the name or the mobile number, not a common one, not digits only.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_MAX_AGE = 86400
MEDIA_ROOT = VAR_DIR / "media"

# Request and upload limits (yiwang.core.security). The largest body that is not multipart is an
# API call carrying one 5 MB photo in base64 (at most 7,000,000 characters): 8 MiB, and no more, so
# a hostile client cannot make a worker parse more JSON than that. Larger requests answer 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 20
# Multipart bodies (pages, the grid import): five 5 MB evidence files or a matter's materials fit.
YIWANG_MAX_REQUEST_BYTES = int(os.environ.get("YIWANG_MAX_REQUEST_BYTES", str(32 * 1024 * 1024)))
# The largest single file any form takes (a grid import, 10 MB; photos and materials are held to
# 5 MB by cases.attachments): beyond it an upload's bytes are dropped, not stored, and refused.
YIWANG_MAX_FILE_BYTES = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = int(2.5 * 1024 * 1024)  # bigger files spool to a temporary file
FILE_UPLOAD_HANDLERS = [
    "yiwang.core.security.FileSizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# The site's address as residents reach it: links in messages (a case page to rate it) are built on it.
YIWANG_SITE_URL = os.environ.get("YIWANG_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Messages out (yiwang.messages, docs/messages.md). SMS: empty means the provider YIWANG_SMS_PROVIDER names
# (docs/sms.md), else the file channel: JSON lines in YIWANG_SMS_FILE; "file" always the file channel;
# or the dotted path of another backend class (the tests name theirs).
YIWANG_SMS_BACKEND = os.environ.get("YIWANG_SMS_BACKEND", "")
YIWANG_SMS_FILE = os.environ.get("YIWANG_SMS_FILE", str(VAR_DIR / "messages" / "sms.jsonl"))
# The sender signature every SMS shows first (docs/messages.md): the file channel writes it before the
# text; a provider adds its approved one (YIWANG_SMS_SIGN_NAME, by default this without 【】). It counts
# towards the 70-character SMS, so Message.segments includes it.
YIWANG_SMS_SIGNATURE = os.environ.get("YIWANG_SMS_SIGNATURE", "")
# A resident who has not rated a closed case is reminded once, this many days after the closing message.
YIWANG_RATING_REMINDER_DAYS = int(os.environ.get("YIWANG_RATING_REMINDER_DAYS", "3"))
# The public map of incidents shows open reports and those closed within this many days.
YIWANG_PUBLIC_MAP_CLOSED_DAYS = int(os.environ.get("YIWANG_PUBLIC_MAP_CLOSED_DAYS", "30"))
# The SMS provider (docs/sms.md): "aliyun", "tencent", or empty for the file channel above. Each sends one
# approved template whose single variable carries the whole text; the signature (短信签名) is shared.
YIWANG_SMS_PROVIDER = os.environ.get("YIWANG_SMS_PROVIDER", "")
YIWANG_SMS_SIGN_NAME = os.environ.get("YIWANG_SMS_SIGN_NAME", "")
YIWANG_SMS_TIMEOUT = float(os.environ.get("YIWANG_SMS_TIMEOUT", "10"))
YIWANG_SMS_ALIYUN_ACCESS_KEY_ID = os.environ.get("YIWANG_SMS_ALIYUN_ACCESS_KEY_ID", "")
YIWANG_SMS_ALIYUN_ACCESS_KEY_SECRET = os.environ.get("YIWANG_SMS_ALIYUN_ACCESS_KEY_SECRET", "")
YIWANG_SMS_ALIYUN_TEMPLATE_CODE = os.environ.get("YIWANG_SMS_ALIYUN_TEMPLATE_CODE", "")
YIWANG_SMS_ALIYUN_TEMPLATE_PARAM = os.environ.get("YIWANG_SMS_ALIYUN_TEMPLATE_PARAM", "content")
YIWANG_SMS_ALIYUN_REGION = os.environ.get("YIWANG_SMS_ALIYUN_REGION", "cn-hangzhou")
YIWANG_SMS_ALIYUN_ENDPOINT = os.environ.get("YIWANG_SMS_ALIYUN_ENDPOINT", "dysmsapi.aliyuncs.com")
YIWANG_SMS_TENCENT_SECRET_ID = os.environ.get("YIWANG_SMS_TENCENT_SECRET_ID", "")
YIWANG_SMS_TENCENT_SECRET_KEY = os.environ.get("YIWANG_SMS_TENCENT_SECRET_KEY", "")
YIWANG_SMS_TENCENT_SDK_APP_ID = os.environ.get("YIWANG_SMS_TENCENT_SDK_APP_ID", "")
YIWANG_SMS_TENCENT_TEMPLATE_ID = os.environ.get("YIWANG_SMS_TENCENT_TEMPLATE_ID", "")
YIWANG_SMS_TENCENT_REGION = os.environ.get("YIWANG_SMS_TENCENT_REGION", "ap-guangzhou")
YIWANG_SMS_TENCENT_ENDPOINT = os.environ.get("YIWANG_SMS_TENCENT_ENDPOINT", "sms.tencentcloudapi.com")
# E-mail goes through Django's SMTP backend once YIWANG_EMAIL_HOST names a server; without one each
# message is written to a file under var/messages/email/, as SMS are, so the demo sends nothing out.
DEFAULT_FROM_EMAIL = os.environ.get("YIWANG_EMAIL_FROM", "yiwang@localhost")
if os.environ.get("YIWANG_EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["YIWANG_EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("YIWANG_EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("YIWANG_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("YIWANG_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = os.environ.get("YIWANG_EMAIL_TLS", "0") == "1"  # STARTTLS
    EMAIL_USE_SSL = os.environ.get("YIWANG_EMAIL_SSL", "0") == "1"  # implicit TLS (port 465)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "messages" / "email"
# The Message-ID's domain; the SMTP timeout sits well inside the lease, so a hung server costs an
# attempt and never makes a live worker's message look abandoned.
YIWANG_EMAIL_ID_DOMAIN = DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
YIWANG_EMAIL_TIMEOUT = float(os.environ.get("YIWANG_EMAIL_TIMEOUT", "30"))
# How long a worker holds a message it is sending; a lease that runs out means the worker died.
YIWANG_MESSAGE_LEASE_SECONDS = float(os.environ.get("YIWANG_MESSAGE_LEASE_SECONDS", "120"))
# Failed attempts wait 30 s, 1, 2, 4 … minutes (up to a tenth more, at random), at most an hour; after
# 8 attempts the message is given up ("dead"), its last attempt about an hour after the first.
YIWANG_MESSAGE_MAX_ATTEMPTS = int(os.environ.get("YIWANG_MESSAGE_MAX_ATTEMPTS", "8"))
YIWANG_MESSAGE_RETRY_BASE_SECONDS = float(os.environ.get("YIWANG_MESSAGE_RETRY_BASE_SECONDS", "30"))
YIWANG_MESSAGE_RETRY_CAP_SECONDS = float(os.environ.get("YIWANG_MESSAGE_RETRY_CAP_SECONDS", "3600"))
# Quiet hours, local time (TIME_ZONE): a non-urgent SMS queued then waits in the outbox until they
# end. "HH:MM-HH:MM", may span midnight; empty turns them off.
YIWANG_QUIET_HOURS = os.environ.get("YIWANG_QUIET_HOURS", "22:00-07:00").strip()
if YIWANG_QUIET_HOURS and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", YIWANG_QUIET_HOURS):
    # Refused as the settings load, not at the first SMS: a bad value would fail every step that tells staff.
    raise ValueError(f"YIWANG_QUIET_HOURS is {YIWANG_QUIET_HOURS!r}: use HH:MM-HH:MM (e.g. 22:00-07:00) or empty")
# At most this many people of one unit are sent an SMS or e-mail about one step of a case that has
# no assignee (cases/services/notifications.py); the unit sees it in the workbench anyway.
YIWANG_STAFF_MESSAGE_CAP = int(os.environ.get("YIWANG_STAFF_MESSAGE_CAP", "5"))

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "/"

# Every handler masks ID numbers and mobile numbers (core/logging.py), Django's own included: its
# default handlers are redefined here, and the root logger writes everything else (granian, libraries)
# through the same console, so no record reaches a stream or an e-mail unmasked.
# One JSON object per line for a log shipper (core.logging.JsonFormatter); "plain" for a person reading
# a terminal (`make demo`).
YIWANG_LOG_FORMAT = "plain" if os.environ.get("YIWANG_LOG_FORMAT", "json") == "plain" else "json"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "personal_data": {"()": "yiwang.core.logging.PersonalDataFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "yiwang.core.logging.JsonFormatter"},
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": YIWANG_LOG_FORMAT, "filters": ["personal_data"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["personal_data"]},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler", "level": "ERROR",
            "filters": ["require_debug_false", "personal_data"],
            "reporter_class": "yiwang.core.logging.MaskingExceptionReporter",
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # yiwang and django.request write through the root's console (one line per record).
        "yiwang": {"level": os.environ.get("YIWANG_LOG_LEVEL", "INFO")},
        # One access line per request (core.observe), ~0.1 ms each: WARNING keeps only the 5xx ones.
        "yiwang.request": {"level": os.environ.get("YIWANG_ACCESS_LOG_LEVEL", "INFO")},
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.request": {"level": "ERROR"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # granian's worker and access loggers (configured by granian before the app loads; its level
        # flags still apply): the access line carries the path and query string.
        "_granian": {"handlers": ["console"], "propagate": False},
        "granian.access": {"handlers": ["console"], "propagate": False},
    },
}

# Observing yiwang (docs/operations.md): /metrics needs this bearer token; without one, only a direct
# loopback caller may read it. /readyz fails when the worker's heartbeat is older than, or the outbox's
# due messages are more or older than, these.
YIWANG_METRICS_TOKEN = os.environ.get("YIWANG_METRICS_TOKEN", "")
YIWANG_READY_HEARTBEAT_SECONDS = float(os.environ.get("YIWANG_READY_HEARTBEAT_SECONDS", "60"))
YIWANG_READY_OUTBOX_MAX = int(os.environ.get("YIWANG_READY_OUTBOX_MAX", "1000"))
YIWANG_READY_OUTBOX_AGE_SECONDS = float(os.environ.get("YIWANG_READY_OUTBOX_AGE_SECONDS", "300"))
YIWANG_READY_MIGRATIONS_CACHE_SECONDS = float(os.environ.get("YIWANG_READY_MIGRATIONS_CACHE_SECONDS", "5"))

# How long an in-process cache of configuration (matters, routing, calendar, hierarchy) trusts
# itself before asking the database whether another process changed it.
YIWANG_CONFIG_RECHECK_SECONDS = float(os.environ.get("YIWANG_CONFIG_RECHECK_SECONDS", "2"))

YIWANG_BAD_REVIEW_FOLLOW_UP_WORKDAYS = 15
# The district this installation serves (yiwang.org.district; docs/operations.md "Setting up a district"):
# the admin's 本地区 row overrides each of these. Without a name the pages read "一网通办" alone.
YIWANG_DISTRICT_NAME = os.environ.get("YIWANG_DISTRICT_NAME", "")
YIWANG_DISTRICT_SHORT_NAME = os.environ.get("YIWANG_DISTRICT_SHORT_NAME", "")
YIWANG_DISTRICT_LOGO = os.environ.get("YIWANG_DISTRICT_LOGO", "")  # a URL or a data: URI
YIWANG_OPEN311_CONTACT = os.environ.get("YIWANG_OPEN311_CONTACT", "")

# The maps' base layer (yiwang.core.maps; README "Maps"). Any XYZ tile server, e.g.
# "https://tiles.example.gov.cn/{z}/{x}/{y}.png" ({s}: one of YIWANG_TILE_SUBDOMAINS); else 天地图
# with a key; else none (a closed network): the grid outlines are the base under yiwang's points.
YIWANG_TILE_URL = os.environ.get("YIWANG_TILE_URL", "")
YIWANG_TILE_SUBDOMAINS = os.environ.get("YIWANG_TILE_SUBDOMAINS", "abc")
YIWANG_TILE_ATTRIBUTION = os.environ.get("YIWANG_TILE_ATTRIBUTION", "")
YIWANG_TIANDITU_KEY = os.environ.get("YIWANG_TIANDITU_KEY", "")
# Where a map with nothing of its own to show opens ("lat,lng"), and the district's box
# ("south,west,north,east"); empty: the middle of the box, else of the regions' places.
YIWANG_MAP_CENTRE = os.environ.get("YIWANG_MAP_CENTRE", "")
YIWANG_MAP_BOUNDS = os.environ.get("YIWANG_MAP_BOUNDS", "")

# Security headers (yiwang.core.security; docs/security.md). Every script and style is a static
# file: no 'unsafe-inline', no 'unsafe-eval'. Same shape as Django 6.0's SECURE_CSP; the middleware
# adds the host of YIWANG_TILE_URL to img-src.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "blob:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# The grid worker's and patrol's pages ask for the phone's position; photo inputs may open the camera.
YIWANG_PERMISSIONS_POLICY = {"geolocation": ["self"], "camera": ["self"], "microphone": [], "payment": [],
                             "usb": []}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# YIWANG_HTTPS=1 for a deployment served over HTTPS: cookies only over TLS, HSTS, http:// redirected.
YIWANG_HTTPS = os.environ.get("YIWANG_HTTPS", "0") == "1"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = YIWANG_HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("YIWANG_HSTS_SECONDS", "31536000")) if YIWANG_HTTPS else 0
# Proxies of ours in front of granian (a TLS terminator, a load balancer): their X-Forwarded-For
# gives the client's address (login throttling) and X-Forwarded-Proto tells HTTPS apart.
YIWANG_PROXY_COUNT = int(os.environ.get("YIWANG_PROXY_COUNT", "0"))
if YIWANG_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Login throttling (yiwang.core.throttle, docs/security.md): failed passwords within the window, after
# which attempts are refused without checking the password. A browser with the device cookie of an
# earlier login to the username is counted only against that cookie; any other client against the
# username and its address.
# Per device cookie: no more than an untrusted client gets (a cookie can be copied off the owner's
# machine); what the cookie buys is not being locked out by others' failures.
YIWANG_LOGIN_FAILURES_PER_DEVICE = int(os.environ.get("YIWANG_LOGIN_FAILURES_PER_DEVICE", "5"))
# Per username, from every untrusted client together: what a guesser spread over many addresses gets.
YIWANG_LOGIN_FAILURES_PER_USERNAME = int(os.environ.get("YIWANG_LOGIN_FAILURES_PER_USERNAME", "5"))
# Per client address across usernames, against password spraying. An office or service hall behind one
# NAT must stay far below it: one person's typos stop at their username's 5, and 200 staff logging in
# at 8:30 from new browsers with 1 in 20 mistyping add ~10 — a tenfold margin (staff on their usual
# browsers are not counted at all).
YIWANG_LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("YIWANG_LOGIN_FAILURES_PER_ADDRESS", "100"))
YIWANG_LOGIN_WINDOW_SECONDS = int(os.environ.get("YIWANG_LOGIN_WINDOW_SECONDS", "900"))
# How long a device cookie is honoured after the login that issued it (each login issues a new one).
YIWANG_LOGIN_DEVICE_DAYS = int(os.environ.get("YIWANG_LOGIN_DEVICE_DAYS", "180"))
# /lookup/ (查件 by case number and phone): wrong phones per case number and failed look-ups per address
# within YIWANG_LOGIN_WINDOW_SECONDS. Case numbers are sequential and a phone has 10^8 guesses per
# prefix: 5 per number makes guessing one case's phone hopeless, 30 per address leaves a service
# hall's shared connection room for its visitors' typos.
YIWANG_LOOKUP_FAILURES_PER_NUMBER = int(os.environ.get("YIWANG_LOOKUP_FAILURES_PER_NUMBER", "5"))
YIWANG_LOOKUP_FAILURES_PER_ADDRESS = int(os.environ.get("YIWANG_LOOKUP_FAILURES_PER_ADDRESS", "30"))

# Staff second factor (docs/security.md, 员工二次验证): "required" asks every staff member for a TOTP code
# (enrolling first) before the staff pages and the admin; "optional" asks only those who enrolled; "off"
# nobody. Required unless the deployment says otherwise. The suite runs with "off" (conftest.py); the demo's
# staff have no devices, so `YIWANG_STAFF_2FA=off make demo` shows it with passwords only.
YIWANG_STAFF_2FA = os.environ.get("YIWANG_STAFF_2FA", "required")
if YIWANG_STAFF_2FA not in ("required", "optional", "off"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"YIWANG_STAFF_2FA is {YIWANG_STAFF_2FA!r}: use required, optional or off")
OTP_TOTP_ISSUER = os.environ.get("YIWANG_TOTP_ISSUER", "yiwang")  # the name authenticator apps show

# 统一身份认证: login through the province's OpenID Connect provider (yiwang.org.oidc, mozilla-django-oidc;
# docs/security.md). Off unless YIWANG_OIDC_CLIENT_ID is set: `make demo` and the tests need no provider.
YIWANG_OIDC_ISSUER = os.environ.get("YIWANG_OIDC_ISSUER", "").rstrip("/")
OIDC_RP_CLIENT_ID = os.environ.get("YIWANG_OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("YIWANG_OIDC_CLIENT_SECRET", "")
if OIDC_RP_CLIENT_ID and not YIWANG_OIDC_ISSUER:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("YIWANG_OIDC_CLIENT_ID is set but YIWANG_OIDC_ISSUER is not: set the provider's issuer URL")
# Endpoints left empty are read from the issuer's /.well-known/openid-configuration.
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("YIWANG_OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("YIWANG_OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("YIWANG_OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("YIWANG_OIDC_JWKS_ENDPOINT", "")
OIDC_RP_SCOPES = os.environ.get("YIWANG_OIDC_SCOPES", "openid profile phone")
# The claims that carry the ID number and the phone the provider verified, and the person's name.
YIWANG_OIDC_ID_NUMBER_CLAIM = os.environ.get("YIWANG_OIDC_ID_NUMBER_CLAIM", "id_number")
YIWANG_OIDC_PHONE_CLAIM = os.environ.get("YIWANG_OIDC_PHONE_CLAIM", "phone_number")
YIWANG_OIDC_NAME_CLAIM = os.environ.get("YIWANG_OIDC_NAME_CLAIM", "name")
# The region code a resident created at their first login is registered in; empty: the area itself.
YIWANG_OIDC_RESIDENT_REGION = os.environ.get("YIWANG_OIDC_RESIDENT_REGION", "")
OIDC_RP_SIGN_ALGO = "RS256"  # checked against the provider's JWKS; never HS256 with the client secret
OIDC_USE_PKCE = True
# client_secret_basic is OpenID Connect's default; YIWANG_OIDC_TOKEN_AUTH=client_secret_post for the other.
OIDC_TOKEN_USE_BASIC_AUTH = os.environ.get("YIWANG_OIDC_TOKEN_AUTH", "client_secret_basic") != "client_secret_post"
OIDC_TIMEOUT = 10
OIDC_STORE_ACCESS_TOKEN = OIDC_STORE_ID_TOKEN = False  # nothing of the provider's is kept in the session
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
if OIDC_RP_CLIENT_ID:
    AUTHENTICATION_BACKENDS.append("yiwang.org.oidc.Backend")

# Retention of personal data (个人信息保护法 Art. 19), in days after a case's closing, per kind; None
# keeps a kind for ever. `yiwang worker` erases what is past it (cases.retention, docs/retention.md).
YIWANG_RETENTION = {
    "reporter_contact": int(os.environ.get("YIWANG_RETENTION_CONTACT_DAYS", 3 * 365)),
    "id_number": int(os.environ.get("YIWANG_RETENTION_ID_NUMBER_DAYS", 3 * 365)),
    "documents": int(os.environ.get("YIWANG_RETENTION_DOCUMENTS_DAYS", 3 * 365)),
    # The grid's household data of a resident whose account is closed, from the closing (grid.retention).
    "grid_household": int(os.environ.get("YIWANG_RETENTION_GRID_DAYS", 3 * 365)),
}

# Outbound webhooks (yiwang.integrations, docs/integrations.md). Each POST: the TCP/TLS handshake within
# CONNECT_TIMEOUT, each wait for the receiver within TIMEOUT. A failure is retried after BACKOFF seconds,
# doubling up to BACKOFF_MAX, MAX_ATTEMPTS times in all; a claimed delivery is leased for LEASE seconds.
# WORKERS POSTs run at once, at most one per subscription, so a slow receiver holds up only itself.
# Deliveries delivered or given up on are deleted after KEEP_DAYS ("" keeps them for ever).
YIWANG_WEBHOOK_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("YIWANG_WEBHOOK_CONNECT_TIMEOUT_SECONDS", "5"))
YIWANG_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("YIWANG_WEBHOOK_TIMEOUT_SECONDS", "10"))
YIWANG_WEBHOOK_BACKOFF_SECONDS = float(os.environ.get("YIWANG_WEBHOOK_BACKOFF_SECONDS", "30"))
YIWANG_WEBHOOK_BACKOFF_MAX_SECONDS = float(os.environ.get("YIWANG_WEBHOOK_BACKOFF_MAX_SECONDS", "3600"))
YIWANG_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("YIWANG_WEBHOOK_MAX_ATTEMPTS", "20"))
YIWANG_WEBHOOK_LEASE_SECONDS = float(os.environ.get("YIWANG_WEBHOOK_LEASE_SECONDS", "120"))
YIWANG_WEBHOOK_WORKERS = int(os.environ.get("YIWANG_WEBHOOK_WORKERS", "4"))
_webhook_keep = os.environ.get("YIWANG_WEBHOOK_KEEP_DAYS", "30").strip()
YIWANG_WEBHOOK_KEEP_DAYS = float(_webhook_keep) if _webhook_keep else None
