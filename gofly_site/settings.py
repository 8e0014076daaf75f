"""Django settings for GoFly, read from the environment (12-factor) with embedded-mode defaults."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GOFLY_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_rate(name: str, default: str) -> tuple[int, int]:
    hits, seconds = os.environ.get(name, default).split("/")
    return int(hits), int(seconds)


def _secret_key() -> str:
    """SECRET_KEY from the environment; embedded mode keeps a generated one in var/ so sessions survive restarts."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = get_random_secret_key()
        path.write_text(key)
        path.chmod(0o600)
        return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "channels",
    "axes",
    "csp",  # its system checks catch django-csp settings it no longer reads
    "captcha",  # django-simple-captcha: registration and logins after failures
    "drf_spectacular",  # the OpenAPI document of the HTTP API (SPECTACULAR_SETTINGS, core/api/schema.py)
    "drf_spectacular_sidecar",  # Swagger UI's files, served as our own static files (no CDN)
    "core",
    "accounts",
    "enterprises",
    "chat",
    "blacklist",
    "stats",
    "replies",
    "notices",
    "wechat",
    "gofly_site",  # the top of the tower: `manage.py install`, which sets up every app
]

# Django's own classes, but for those in gofly_site.middleware: the same, without a thread hop per hook.
MIDDLEWARE = [
    "gofly_site.middleware.SecurityMiddleware",
    "gofly_site.middleware.CSPMiddleware",
    "gofly_site.middleware.ClientAddressMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "gofly_site.middleware.LocaleMiddleware",
    "gofly_site.middleware.CommonMiddleware",
    "gofly_site.middleware.CsrfViewMiddleware",
    "gofly_site.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "gofly_site.middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gofly_site.urls"
ASGI_APPLICATION = "gofly_site.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/console"
LOGOUT_REDIRECT_URL = "/login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "enterprises.context_processors.site",
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    """DATABASE_URL wins; then the original's config/mysql.json; then embedded SQLite."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        mysql_json = BASE_DIR / "config" / "mysql.json"
        if mysql_json.exists():
            conf = json.loads(mysql_json.read_text())
            return {
                "ENGINE": "django.db.backends.mysql",
                "NAME": conf["Database"],
                "USER": conf.get("Username", "root"),
                "PASSWORD": conf.get("Password", ""),
                "HOST": conf.get("Server", "127.0.0.1"),
                "PORT": str(conf.get("Port", "3306")),
            }
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'gofly.sqlite3'}"
    return dict(dj_database_url.parse(url))


_db = _database()
# Reconnecting per message halves throughput, so connections are kept.
_db["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "600"))
# Off: a health check pings the database before the first query of every database_sync_to_async call.
# A connection that failed is still dropped (Django closes it after an error) and the next call reconnects.
_db["CONN_HEALTH_CHECKS"] = env_bool("DB_HEALTH_CHECKS")
if _db["ENGINE"] == "django.db.backends.mysql":
    _db.setdefault("OPTIONS", {}).update({"charset": "utf8mb4", "isolation_level": "read committed"})
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    _db.setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    # A file, not memory, so that live-server tests' processes share the test database.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _worker.startswith("gw") and os.environ.get("GOFLY_TEST_REDIS_DB_PER_WORKER") == "1":
    # Parallel test workers each get their own Redis database, so flushing one never touches another,
    # and their own key prefix, since pub/sub channels are shared by all databases of a Redis server.
    REDIS_URL = urlunsplit(urlsplit(REDIS_URL)._replace(path=f"/{1 + int(_worker[2:])}"))
    # Server processes a test starts inherit the prefix already suffixed: they must share the test's keys.
    _prefix = os.environ.get("GOFLY_REDIS_PREFIX", "gofly")
    os.environ["GOFLY_REDIS_PREFIX"] = _prefix if _prefix.endswith(f"-{_worker}") else f"{_prefix}-{_worker}"
GOFLY_REDIS_PREFIX = os.environ.get("GOFLY_REDIS_PREFIX", "gofly")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer costs about a sixth of the default layer per message (DESIGN section 8);
            # ours adds batched sends and unsubscriptions that closing storms cannot leak (chat/realtime/layers.py).
            "BACKEND": "chat.realtime.layers.PubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "max_connections": 1000}],
                "prefix": f"{GOFLY_REDIS_PREFIX}:layer",
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{GOFLY_REDIS_PREFIX}:cache",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 10000}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Login throttling (accounts/lockout.py). Wrong passwords from one network (an IPv4 address or its
# GOFLY_LOGIN_IPV4_PREFIX network, an IPv6 /64) lock that network out (django-axes, the network as its
# "IP"); those on one account only slow further attempts on it from unknown networks and browsers, with a
# growing delay. Counts live in the cache: Redis when REDIS_URL is set, so every process sees them; while
# it is away logins are checked on their password alone. No AxesMiddleware: the login views answer a
# throttled login themselves, so no other request pays for it.
AUTHENTICATION_BACKENDS = ["accounts.lockout.LockoutBackend", "accounts.backends.AgentModelBackend"]
AXES_HANDLER = "accounts.lockout.FailOpenCacheHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("GOFLY_LOGIN_FAILURES", "10"))
AXES_COOLOFF_TIME = timedelta(seconds=int(os.environ.get("GOFLY_LOGIN_LOCKOUT", "900")))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
# Attempts during a lock-out do not extend it, so it ends when Retry-After said it would.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.request_ip"
AXES_USERNAME_CALLABLE = "accounts.lockout.request_username"
AXES_ENABLE_ADMIN = False  # the cache handler keeps no rows to show
AXES_VERBOSE = False
# W002: no AxesMiddleware, on purpose (above). W001: locmem is per process, which is right for the
# embedded mode's single process.
SILENCED_SYSTEM_CHECKS = ["axes.W002"] + ([] if REDIS_URL else ["axes.W001"])

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

if env_bool("GOFLY_TEST_FAST_HASHER"):
    # Tests only: full-strength PBKDF2 would dominate the suite's run time.
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic's target (gofly_site/staticfiles.py): what nginx serves, and the manifest of hashed names
# that {% static %} reads in every mode. Embedded, `install` and the server's start collect when out of date.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
# Embedded (no nginx in front), WhiteNoise's middleware serves STATIC_ROOT: gzip, a year's caching for
# hashed names, WHITENOISE_MAX_AGE for the others (the widget loader /static/js/gofly-front.js).
if os.environ.get("GOFLY_SERVE_STATIC", "1") == "1":
    MIDDLEWARE.insert(
        MIDDLEWARE.index("gofly_site.middleware.SecurityMiddleware") + 1, "gofly_site.staticfiles.StaticFilesMiddleware"
    )
WHITENOISE_MAX_AGE = 0 if DEBUG else 300  # seconds
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Uploads go to the default storage: MEDIA_ROOT on this machine, or any Django storage backend, for
# instance an S3-compatible bucket shared by several machines (README, "Several machines"):
# GOFLY_MEDIA_STORAGE=storages.backends.s3.S3Storage and its options as JSON in GOFLY_MEDIA_STORAGE_OPTIONS.
STORAGES = {
    "default": {
        "BACKEND": os.environ.get("GOFLY_MEDIA_STORAGE", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": json.loads(os.environ.get("GOFLY_MEDIA_STORAGE_OPTIONS", "{}")),
    },
    # Hashed names, gzip copies and a manifest; world-readable whatever the umask says, since nginx's
    # worker reads them (FILE_UPLOAD_PERMISSIONS, below, keeps uploads private and would apply otherwise).
    "staticfiles": {
        "BACKEND": "gofly_site.staticfiles.StaticFilesStorage",
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
}
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES")
SECURE_CONTENT_TYPE_NOSNIFF = True
if env_bool("SECURE_PROXY_SSL"):
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips the client's own).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "SAMEORIGIN"

# Content security policy (django-csp), on every answer, pages and JSON alike: scripts only from our own
# origin, never inline or eval'd (our pages' <script> tags are files or JSON data), no plugins, no <base>.
# Nothing else is restricted, so websockets, avatars on other hosts, style attributes and blob:/data:
# previews keep working. django-csp writes default-src 'self' unless told otherwise, hence the None. The
# chat page adds its enterprise's frame-ancestors, and /media/ keeps its own stricter policy (chat/views.py).
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": None,
        "script-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.GoflyJSONParser"],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
}
# The OpenAPI 3 document of the HTTP API at /api/v1/schema/, browsable at /api/v1/docs/ (core/api/urls.py).
# Public, like the protocol it describes; tests/test_openapi.py keeps it and docs/protocol.md in agreement.
SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "GoFly API",
    "VERSION": "v1",
    "DESCRIPTION": (
        "The HTTP API of GoFly, an open-source live-chat help desk. The whole client protocol (websockets, "
        "frames, the delivery contract, error codes, limits) is docs/protocol.md in the source tree; this "
        'document describes its HTTP routes. Every error answers `{"error": {"code", "message"}}` with a '
        "real status; clients branch on `code`."
    ),
    # Relative: the document describes the server that serves it, whatever its host.
    "SERVERS": [{"url": "/", "description": "this GoFly server"}],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "DEFAULT_GENERATOR_CLASS": "core.api.schema.SchemaGenerator",
    "PREPROCESSING_HOOKS": ["core.api.schema.api_routes_only"],
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PUBLIC": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],  # anonymous: a stale token must not make the documentation answer 401
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl: no badge fetched from swagger.io (nothing leaves the server).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "persistAuthorization": False},
    # Choice sets that share a field name get one enum each, named after what they are.
    "ENUM_NAME_OVERRIDES": {
        "ConversationStatusEnum": "chat.models.Conversation.Status",
        "AgentStatusEnum": "accounts.models.AgentStatus",
        "MessageKindEnum": "chat.models.Message.Kind",
        "AttachmentKindEnum": "chat.models.Attachment.Kind",
    },
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=int(os.environ.get("JWT_ACCESS_HOURS", "2"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Tokens carry the user's credentials_version, checked on every use (accounts/tokens.py).
    "TOKEN_OBTAIN_SERIALIZER": "accounts.tokens.TokenObtainSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.tokens.TokenRefreshSerializer",
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.AgentAccessToken",),
}

# The widget is embedded on operators' sites; the visitor API is token-authenticated, never by cookie.
CORS_URLS_REGEX = r"^/api/v1/visitor/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_HEADERS = ["authorization", "content-type"]

# Peers whose X-Forwarded-For / X-Real-IP we believe (IPs or CIDRs).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "127.0.0.1,::1")

GOFLY: dict[str, Any] = {
    "VISITOR_TOKEN_MAX_AGE": int(os.environ.get("GOFLY_VISITOR_TOKEN_DAYS", "30")) * 86400,
    "MESSAGE_MAX_LENGTH": int(os.environ.get("GOFLY_MESSAGE_MAX_LENGTH", "5000")),
    # How far a signed visitor identity's timestamp may be from now, either way (clock skew, page age).
    "IDENTITY_MAX_SKEW": int(os.environ.get("GOFLY_IDENTITY_MAX_SKEW", "600")),
    "FRAME_MAX_BYTES": 64 * 1024,
    "HISTORY_PAGE_MAX": 100,
    "SYNC_BATCH": 200,
    # A connection refreshes its presence every HEARTBEAT seconds and is offline after PRESENCE_TTL.
    "HEARTBEAT": float(os.environ.get("GOFLY_HEARTBEAT", "15")),
    "PRESENCE_TTL": float(os.environ.get("GOFLY_PRESENCE_TTL", "45")),
    # Rate limits as (hits, seconds): "20/10" is at most 20 per 10 s.
    "RATE_VISITOR_MESSAGES": env_rate("GOFLY_RATE_VISITOR", "20/10"),
    "RATE_AGENT_MESSAGES": env_rate("GOFLY_RATE_AGENT", "60/10"),
    "RATE_LOGIN_PER_IP": (int(os.environ.get("GOFLY_LOGIN_RATE", "600")), 60),
    # Agent logins (accounts.lockout): free attempts per account and per network, how long counts and a
    # network's lock-out last, the longest delay an account's attempts from unknown places wait, and the
    # networks failures count per.
    "LOGIN_FAILURES": int(os.environ.get("GOFLY_LOGIN_FAILURES", "10")),
    "LOGIN_LOCKOUT": int(os.environ.get("GOFLY_LOGIN_LOCKOUT", "900")),
    "LOGIN_DELAY_MAX": int(os.environ.get("GOFLY_LOGIN_DELAY_MAX", "300")),
    "LOGIN_IPV4_PREFIX": int(os.environ.get("GOFLY_LOGIN_IPV4_PREFIX", "32")),
    "LOGIN_IPV6_PREFIX": int(os.environ.get("GOFLY_LOGIN_IPV6_PREFIX", "64")),
    # Registrations (gofly_site.registration) one address may attempt per hour.
    "REGISTER_RATE": int(os.environ.get("GOFLY_REGISTER_RATE", "5")),
    # Failed logins (of an account, or from a network) after which the login forms ask for a captcha.
    "LOGIN_CAPTCHA_AFTER": int(os.environ.get("GOFLY_LOGIN_CAPTCHA_AFTER", "3")),
    # Uploads (chat.uploads): the server's ceiling (each enterprise sets its own limits below it), the
    # largest image decoded (pixels, every frame counted), and how often one uploader may upload.
    "UPLOAD_MAX_MB": int(os.environ.get("GOFLY_UPLOAD_MAX_MB", "20")),
    "UPLOAD_MAX_PIXELS": int(os.environ.get("GOFLY_UPLOAD_MAX_PIXELS", str(24_000_000))),
    # Images decoded at once per process (the rest wait IMAGE_DECODE_WAIT seconds, then get 503 busy): with
    # UPLOAD_MAX_PIXELS they bound what parallel uploads take of memory (README, GOFLY_IMAGE_DECODES).
    "IMAGE_DECODES": int(os.environ.get("GOFLY_IMAGE_DECODES", "2")),
    "IMAGE_DECODE_WAIT": float(os.environ.get("GOFLY_IMAGE_DECODE_WAIT", "10")),
    "RATE_UPLOADS": env_rate("GOFLY_RATE_UPLOADS", "20/60"),
    # Websockets one process keeps open per visitor, per agent and per client address (an IPv6 /64); the
    # next is refused with 4429 (chat.realtime.lifecycle.socket_admit).
    "SOCKETS_PER_VISITOR": int(os.environ.get("GOFLY_SOCKETS_PER_VISITOR", "10")),
    "SOCKETS_PER_AGENT": int(os.environ.get("GOFLY_SOCKETS_PER_AGENT", "20")),
    "SOCKETS_PER_IP": int(os.environ.get("GOFLY_SOCKETS_PER_IP", "256")),
    # The widest networks (prefix lengths) an agent without the manage_settings permission may block.
    "BLOCK_PREFIX_V4": int(os.environ.get("GOFLY_BLOCK_PREFIX_V4", "16")),
    "BLOCK_PREFIX_V6": int(os.environ.get("GOFLY_BLOCK_PREFIX_V6", "32")),
    # The widget's launcher state (GET /api/v1/widget): one per host page view.
    "RATE_WIDGET_PER_IP": env_rate("GOFLY_RATE_WIDGET", "600/60"),
    # Pages of the visitor's trail (the widget's `page` frame).
    "RATE_VISITOR_PAGES": env_rate("GOFLY_RATE_PAGES", "30/60"),
    # A MaxMind GeoLite2/GeoIP2 City or Country .mmdb locating non-Chinese and IPv6 visitors (core.clientinfo);
    # names in the first of GEOIP_LOCALES the database has.
    "GEOIP_DB": os.environ.get("GOFLY_GEOIP_DB", ""),
    "GEOIP_LOCALES": env_list("GOFLY_GEOIP_LOCALES", "zh-CN,en"),
    # E-mail alerts to away agents (notices.alerts): at most one digest per agent per this many minutes,
    # a sweep every ALERT_SWEEP_SECONDS, and the address the digest links to.
    "ALERT_DIGEST_MINUTES": float(os.environ.get("GOFLY_ALERT_DIGEST_MINUTES", "5")),
    "ALERT_SWEEP_SECONDS": float(os.environ.get("GOFLY_ALERT_SWEEP_SECONDS", "60")),
    "SITE_URL": os.environ.get("GOFLY_SITE_URL", "http://127.0.0.1:8081").rstrip("/"),
}

# Outgoing mail (Django's SMTP backend). Without EMAIL_HOST, e-mail alerts are off.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")  # implicit TLS, usually port 465
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")  # STARTTLS, usually port 587
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "20"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "GoFly <noreply@localhost>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# django-simple-captcha: images drawn here with its bundled font, kept 5 minutes, each usable once.
CAPTCHA_TIMEOUT = 5
CAPTCHA_LENGTH = 5
CAPTCHA_IMAGE_SIZE = (120, 40)

# The WeChat official-account channel (wechat/client.py): WeChat's API bases (tests point them at a fake
# server), the timeout of each call to WeChat in seconds. The keys encrypting the accounts' secrets at rest
# are read from GOFLY_WECHAT_KEYS by wechat/secrets.py itself, never kept in settings.
GOFLY_WECHAT_API_BASE = os.environ.get("GOFLY_WECHAT_API_BASE", "https://api.weixin.qq.com/cgi-bin/")
GOFLY_WECHAT_OAUTH_BASE = os.environ.get("GOFLY_WECHAT_OAUTH_BASE", "https://api.weixin.qq.com/sns/")
GOFLY_WECHAT_OPEN_BASE = os.environ.get("GOFLY_WECHAT_OPEN_BASE", "https://open.weixin.qq.com/")
GOFLY_WECHAT_MP_BASE = os.environ.get("GOFLY_WECHAT_MP_BASE", "https://mp.weixin.qq.com/cgi-bin/")
GOFLY_WECHAT_TIMEOUT = float(os.environ.get("GOFLY_WECHAT_TIMEOUT", "5"))
