"""Settings for yiwang, read from the environment in this one place.

YIWANG_DATABASE_URL selects the database: ``sqlite:///path`` (the embedded default, WAL mode) or
``postgres://user@host:port/name``.
"""

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("YIWANG_VAR_DIR", BASE_DIR.parent.parent / "var"))

SECRET_KEY = os.environ.get("YIWANG_SECRET_KEY", "dev-only-insecure-key-change-me-in-production")
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
    "yiwang.core",
    "yiwang.org",
    "yiwang.catalog",
    "yiwang.cases",
    "yiwang.feedback",
    "yiwang.grid",
    "yiwang.command",
    "yiwang.patrol",
    "yiwang.ledger",
    "yiwang.party",
    "yiwang.parking",
    "yiwang.open311",
    "yiwang.stats",
    "yiwang.web",
    "yiwang.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files, precompressed at collectstatic (gzip): the ECharts bundle is 643 KB raw but
    # 220 KB on the wire, which keeps every page under 400 KB of JS+CSS. granian has no compression.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
            ],
        },
    },
]


def database_from_url(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path) or str(VAR_DIR / "yiwang.sqlite3")
        return {
            "ENGINE": "django.db.backends.sqlite3",
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
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parsed.path.lstrip("/") or "yiwang",
            "USER": unquote(parsed.username or "postgres"),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "127.0.0.1",
            "PORT": str(parsed.port or 5432),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ValueError(f"YIWANG_DATABASE_URL has an unknown scheme {parsed.scheme!r}: use sqlite:/// or postgres://")


DATABASES = {"default": database_from_url(os.environ.get("YIWANG_DATABASE_URL", "sqlite://"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
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

# A case creation carries a form and a list of materials, never files: 1 MiB is generous and
# keeps a hostile client from making a worker parse megabytes of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "yiwang": {"handlers": ["console"], "level": os.environ.get("YIWANG_LOG_LEVEL", "INFO")},
        "django.request": {"handlers": ["console"], "level": "ERROR"},
    },
}

# How long an in-process cache of configuration (matters, routing, calendar, hierarchy) trusts
# itself before asking the database whether another process changed it.
YIWANG_CONFIG_RECHECK_SECONDS = float(os.environ.get("YIWANG_CONFIG_RECHECK_SECONDS", "2"))

YIWANG_BAD_REVIEW_FOLLOW_UP_WORKDAYS = 15
YIWANG_DEMO_TITLE = _("西咸新区 一网通办")

# Map tiles for Leaflet, e.g. "https://tiles.example.gov.cn/{z}/{x}/{y}.png". Empty: maps draw
# without a base layer (a closed network), showing only yiwang's own points and outlines.
YIWANG_TILE_URL = os.environ.get("YIWANG_TILE_URL", "")
