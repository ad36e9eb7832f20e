"""Settings for the Clarius integration portal, every knob from the environment.

The table of variables is in README.md ("Configuration"). Development defaults apply only
with ``DJANGO_DEBUG=1``; production refuses to start without a secret key.
"""

import re as _re
from datetime import timedelta
from pathlib import Path

from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.encryption import parse_encryption_keys
from portal.env import (
    env_bool,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    parse_http_url,
    parse_origins,
    parse_redis_url,
    parse_storage_url,
    storage_origins,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY: required when DJANGO_DEBUG is not set "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"

PORTAL_BASE_URL = parse_http_url(
    "PORTAL_BASE_URL", env_str("PORTAL_BASE_URL") or "http://127.0.0.1:8000", origin_only=True
)
_BASE_IS_HTTPS = PORTAL_BASE_URL.startswith("https://")
_BASE_HOST = PORTAL_BASE_URL.split("://", 1)[1].split(":")[0]

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS",
    ["127.0.0.1", "localhost", "[::1]", _BASE_HOST] if DEBUG else [_BASE_HOST],
)
CSRF_TRUSTED_ORIGINS = [PORTAL_BASE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    # Second factors (portal.mfa): authenticator apps and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "portal.work",
    "portal.accounts",
    "portal.tenants",
    "portal.sso",
    "portal.usersessions",
    "portal.mfa",
    "portal.exams",
    "portal.worksheets",
    "portal.reports",
    "portal.dashboard",
    "portal.api",
    "portal.notifications",
    "portal.qa",
    "portal.outbound",
    "portal.retention",
    "portal.metrics",
    "portal.offboarding",
    "portal.demo",
    "integrations.clarius",
    "integrations.webhooks",
    "integrations.dicom",
    "integrations.hl7",
    "integrations.fhir",
]

MIDDLEWARE = [
    # First: every log line of the request, the probes' included, carries its id.
    "portal.metrics.logs.RequestIdMiddleware",
    # django-prometheus: the request counters and latencies around everything below.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "portal.health.ProbeMiddleware",
    # /metrics, for the scraper's token, before host validation and the HTTPS redirect.
    "portal.metrics.endpoint.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Clarius' notifications go straight to their view: none of what follows is for them.
    "integrations.clarius.ingestion.middleware.NotificationFastPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Early, so every page made below (lockout, CSRF failure, errors) carries the policy.
    "portal.csp.PortalCSPMiddleware",
    # Before anything stores or looks up a header (session cookie, axes, session list):
    # header values lose the characters PostgreSQL cannot store (NUL, lone surrogates).
    "portal.request_headers.StorableHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.tenants.middleware.CurrentInstitutionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After the user, institutions and messages are known: idle and absolute timeouts.
    "portal.usersessions.middleware.SessionPolicyMiddleware",
    # Sessions begun at the identity provider are confirmed there again once their
    # sign-in is PORTAL_OIDC_RENEW_SECONDS old (portal/sso); nothing without single sign-on.
    "portal.sso.middleware.SsoSessionRefresh",
    # django-otp's verified mark, and the second-factor policy (after the timeouts).
    "portal.mfa.middleware.MFAMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.metrics.middleware.AfterMiddleware",
    # Last, as django-axes requires: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.tenants.context_processors.institutions",
                "portal.qa.context_processors.qa_navigation",
            ],
        },
    },
]

# Database: SQLite under var/ by default, PostgreSQL through psycopg 3 in production.
_database_url = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"
DATABASES = {"default": parse_database_url("DATABASE_URL", _database_url, BASE_DIR)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web and worker processes read while one writes; IMMEDIATE takes the
    # write lock at BEGIN so two writers queue on the busy timeout instead of failing
    # mid-transaction with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env_int("DJANGO_SQLITE_TIMEOUT", 20, minimum=1),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DJANGO_DB_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"] = {"connect_timeout": 5}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First, as django-axes requires: it refuses logins while a lockout is in force.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Single sign-on (portal/sso): answers only the provider's callback, when configured.
    "portal.sso.backends.SsoBackend",
]
# Single sign-on through the installation's OpenID Connect provider (portal/sso): off
# unless PORTAL_OIDC_ISSUER (or its endpoints) and PORTAL_OIDC_CLIENT_ID are set.
from portal.sso.conf import settings_from_environment as _sso_settings  # noqa: E402

_sso = _sso_settings(DEBUG)
globals().update(_sso)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Failed logins are throttled per (username, IP) pair: a lockout of one account from one
# address does not let an attacker lock every clinician out from elsewhere.
AXES_FAILURE_LIMIT = env_int("PORTAL_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PORTAL_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The login form posts the email as `username`, as Django's form does.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "portal.accounts.throttle.login_username"
AXES_CLIENT_IP_CALLABLE = "portal.accounts.throttle.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Second factors (portal.mfa). Institution admins and superusers who sign in with a
# password must have one; the label authenticator apps show; the WebAuthn relying
# party id (unset: the host of the request, which must then be the portal's name).
PORTAL_MFA_REQUIRED_FOR_ADMINS = env_bool("PORTAL_MFA_REQUIRED_FOR_ADMINS", True)
PORTAL_WEBAUTHN_RP_ID = env_str("PORTAL_WEBAUTHN_RP_ID") or ""
OTP_TOTP_ISSUER = env_str("PORTAL_MFA_ISSUER") or "Clarius portal"
# Password reset links per hour: at most this many to one address, and from one client
# address (counted in the database, so the limits hold across web processes). Over a
# limit the answer is the same and nothing is sent; admin lists the refused requests.
PORTAL_PASSWORD_RESET_PER_ADDRESS = env_int("PORTAL_PASSWORD_RESET_PER_ADDRESS", 3, minimum=1)
PORTAL_PASSWORD_RESET_PER_CLIENT = env_int("PORTAL_PASSWORD_RESET_PER_CLIENT", 20, minimum=1)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DJANGO_TIME_ZONE") or "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT") or BASE_DIR / "var" / "staticfiles")

# Exam media is private: kept outside any publicly served directory and only ever
# streamed through authorised views.
PORTAL_MEDIA_ROOT = Path(env_str("PORTAL_MEDIA_ROOT") or VAR_DIR / "media")
if not PORTAL_MEDIA_ROOT.is_absolute():
    PORTAL_MEDIA_ROOT = BASE_DIR / PORTAL_MEDIA_ROOT
MEDIA_ROOT = PORTAL_MEDIA_ROOT
# Let the front server send media files: an nginx `internal` location prefix for
# X-Accel-Redirect, or X-Sendfile for Apache/lighttpd. Unset: Django streams them.
PORTAL_MEDIA_ACCEL_REDIRECT = env_str("PORTAL_MEDIA_ACCEL_REDIRECT") or ""
PORTAL_MEDIA_SENDFILE = env_bool("PORTAL_MEDIA_SENDFILE", False)
# S3-compatible object storage for every stored file (media, reports, exports, DICOM
# objects) when PORTAL_STORAGE_URL is set (format: portal.env.parse_storage_url);
# otherwise local files under PORTAL_MEDIA_ROOT. Presigned URLs last
# PORTAL_STORAGE_URL_SECONDS. PORTAL_SCRATCH_DIR: this node's own folder for temporary
# copies (previews, tools that need a path); unset, the system's temp folder.
PORTAL_STORAGE_URL = env_str("PORTAL_STORAGE_URL") or ""
PORTAL_STORAGE_URL_SECONDS = env_int("PORTAL_STORAGE_URL_SECONDS", 60, minimum=1)
PORTAL_SCRATCH_DIR = env_str("PORTAL_SCRATCH_DIR") or ""
# Where a worker writes the institution archives superusers request in the admin
# (portal.offboarding); empty: var/exports.
PORTAL_EXPORT_DIR = env_str("PORTAL_EXPORT_DIR") or ""
# PORTAL_STORAGE_REDIRECT=1: media is served by the store itself (a 302 to a presigned
# URL once the portal has authorised and audited the request), not streamed by Django.
PORTAL_STORAGE_REDIRECT = env_bool("PORTAL_STORAGE_REDIRECT", False)
if PORTAL_STORAGE_URL:
    _storage_options = parse_storage_url("PORTAL_STORAGE_URL", PORTAL_STORAGE_URL)
    _storage_options.update(
        access_key=env_str("PORTAL_STORAGE_ACCESS_KEY_ID") or None,
        secret_key=env_str("PORTAL_STORAGE_SECRET_ACCESS_KEY") or None,
        querystring_expire=PORTAL_STORAGE_URL_SECONDS,
        # Objects are private and named by the portal: no ACL, no renaming on clash.
        default_acl=None,
        file_overwrite=True,
    )
    if bool(_storage_options["access_key"]) != bool(_storage_options["secret_key"]):
        raise ImproperlyConfigured(
            "PORTAL_STORAGE_ACCESS_KEY_ID and PORTAL_STORAGE_SECRET_ACCESS_KEY: set both "
            "(or neither, to use the machine's own AWS credentials)"
        )
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _storage_options}
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Large uploads are spooled to temporary files named by the portal, never after the
# client's file name (see portal/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "portal.uploads.ShortNameTemporaryFileUploadHandler",
]

# Email: the console in development, SMTP in production.
if DEBUG and not env_str("DJANGO_EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("DJANGO_EMAIL_HOST") or "localhost"
    EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25, minimum=1)
    EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER") or ""
    EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", False)
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured("DJANGO_EMAIL_USE_TLS and DJANGO_EMAIL_USE_SSL are exclusive")
    EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL") or f"portal@{_BASE_HOST}"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security. HTTPS settings follow PORTAL_BASE_URL: an https:// portal gets secure
# cookies, HSTS and a redirect; DJANGO_SECURE_PROXY_SSL_HEADER=1 trusts a TLS proxy.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=60)
# Session policy (portal/usersessions): signed out after this many minutes without
# activity (each institution sets its own; a member of several gets the smallest; this
# one applies to users without a membership), and after this many hours whatever the
# activity. PORTAL_SESSION_IDLE_SECONDS_OVERRIDE is for tests only.
PORTAL_SESSION_IDLE_MINUTES = env_int("PORTAL_SESSION_IDLE_MINUTES", 30, minimum=1)
PORTAL_SESSION_MAX_HOURS = env_int("PORTAL_SESSION_MAX_HOURS", 12, minimum=1)
PORTAL_SESSION_IDLE_SECONDS_OVERRIDE = None
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if _BASE_IS_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
# Content-Security-Policy (django-csp, portal/csp.py): scripts and styles only from the
# portal's static files or with the page's nonce; no inline style attributes or event
# handlers, no other origin (no CDN), no plugins, no framing. Captures, thumbnails and
# clips are all served by the portal itself, so images and media need no data: or
# blob:. Browsers report refusals to /csp-report/, which logs and counts them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF],
        "media-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "report-uri": ["/csp-report/"],
    }
}
if PORTAL_STORAGE_URL and PORTAL_STORAGE_REDIRECT:
    # Redirected media loads from the store's origin: images and clips may come from it.
    for _directive in ("img-src", "media-src"):
        CONTENT_SECURITY_POLICY["DIRECTIVES"][_directive] += storage_origins(_storage_options)
# Signing out goes on to the identity provider's end-session endpoint (portal/sso).
CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"] += _sso["PORTAL_OIDC_ORIGINS"]
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies append to X-Forwarded-For in front of the portal; the client
# address (for login throttling and the audit log) is taken from that many hops back.
PORTAL_TRUSTED_PROXY_COUNT = env_int("PORTAL_TRUSTED_PROXY_COUNT", 0, minimum=0)

# Background work: django-q2 on the ORM broker by default, on Redis when REDIS_URL is set.
_redis_url = env_str("REDIS_URL")
REDIS_URL = parse_redis_url("REDIS_URL", _redis_url) if _redis_url else None
Q_TIMEOUT = env_int("PORTAL_TASK_TIMEOUT", 300, minimum=10)
Q_CLUSTER = {
    "name": "portal",
    "workers": env_int("PORTAL_WORKERS", 2, minimum=1),
    "timeout": Q_TIMEOUT,
    # django-q2 hands a task to another worker once `retry` seconds pass without an
    # acknowledgement; it must exceed the longest task or tasks would run twice.
    "retry": Q_TIMEOUT + 60,
    # django-q2 retries forever by default; work rows carry their own retry policy.
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    # How often the ORM broker looks for new tasks when it found none, in seconds (Redis
    # pushes them): an exam waits half of it on average before its fetch starts, for one
    # SELECT per poll of an idle queue.
    "poll": env_int("PORTAL_TASK_POLL_MS", 100, minimum=10) / 1000,
    "label": "Background tasks",
}
# A worker's claim on a row of work is a lease this long, renewed every third of it
# while the task runs; each worker looks this often for claims a dead node let run out.
# A dead node's work is picked up within the two together (portal/work/heartbeat.py).
PORTAL_WORK_LEASE_SECONDS = env_int("PORTAL_WORK_LEASE_SECONDS", 40, minimum=3)
PORTAL_WORK_SWEEP_SECONDS = env_int("PORTAL_WORK_SWEEP_SECONDS", 10, minimum=1)
# An exam's captures are downloaded by the task that fetched its data, this many at once
# per exam and at most this many at once in one worker process.
PORTAL_CAPTURE_DOWNLOADS_PER_EXAM = env_int("PORTAL_CAPTURE_DOWNLOADS_PER_EXAM", 4, minimum=1)
PORTAL_CAPTURE_DOWNLOADS_PER_WORKER = env_int("PORTAL_CAPTURE_DOWNLOADS_PER_WORKER", 8, minimum=1)
# Each worker process looks this often (milliseconds) for notifications due to be
# fetched: the webhook's receipt is the queue entry (integrations/clarius/ingestion/receipts.py).
PORTAL_RECEIPT_POLL_MS = env_int("PORTAL_RECEIPT_POLL_MS", 100, minimum=10)
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Clarius Cloud.
CLARIUS_API_URL = parse_http_url(
    "CLARIUS_API_URL", env_str("CLARIUS_API_URL") or "https://cloud.clarius.com/api/public/v0/"
)
if not CLARIUS_API_URL.endswith("/"):
    CLARIUS_API_URL += "/"
CLARIUS_API_KEY = env_str("CLARIUS_API_KEY") or None
CLARIUS_POLL_MINUTES = env_int("CLARIUS_POLL_MINUTES", 10, minimum=1)
# Seconds to connect to Clarius and to wait for each read of an answer.
CLARIUS_TIMEOUT_CONNECT = env_int("CLARIUS_TIMEOUT_CONNECT", 5, minimum=1)
CLARIUS_TIMEOUT_READ = env_int("CLARIUS_TIMEOUT_READ", 30, minimum=1)
CLARIUS_TIMEOUT_DOWNLOAD_READ = env_int("CLARIUS_TIMEOUT_DOWNLOAD_READ", 120, minimum=1)
# Plain http to Clarius only for development against the sandbox; production is https only.
CLARIUS_ALLOW_HTTP = env_bool("CLARIUS_ALLOW_HTTP", DEBUG)
# Partner webhooks: production sends only to https:// URLs on public addresses.
# Development allows plain http and loopback/private addresses (the demo's receiver).
PORTAL_WEBHOOKS_ALLOW_HTTP = env_bool("PORTAL_WEBHOOKS_ALLOW_HTTP", DEBUG)
PORTAL_WEBHOOKS_ALLOW_PRIVATE = env_bool("PORTAL_WEBHOOKS_ALLOW_PRIVATE", DEBUG)
CLARIUS_MEDIA_ORIGINS = parse_origins(
    "CLARIUS_MEDIA_ORIGINS", env_str("CLARIUS_MEDIA_ORIGINS") or "https://*.amazonaws.com"
)
# Secrets at rest (the Clarius API key in use, research tokens) are Fernet-encrypted with
# these keys: the first encrypts, all decrypt. Development derives one from SECRET_KEY;
# production needs PORTAL_ENCRYPTION_KEY only once a secret is stored or read.
PORTAL_ENCRYPTION_KEYS = parse_encryption_keys(
    env_str("PORTAL_ENCRYPTION_KEY"), debug=DEBUG, secret_key=SECRET_KEY
)

# Programs use institution API keys (portal.api.keys); the browser its session, with CSRF.
PORTAL_API_KEY_RATE = env_str("PORTAL_API_KEY_RATE") or "600/min"
if not _re.fullmatch(
    r"[1-9][0-9]{0,8}/(s|sec|second|m|min|minute|h|hour|d|day)", PORTAL_API_KEY_RATE
):
    raise ImproperlyConfigured(
        "PORTAL_API_KEY_RATE must read <requests>/<s|min|hour|day>, e.g. 600/min"
    )
# The HMAC key API key secrets are stored under; unset: one derived from SECRET_KEY.
PORTAL_API_KEY_HASH_KEY = env_str("PORTAL_API_KEY_HASH_KEY") or ""

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "portal.api.permissions.ApiKeyScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.ApiKeyRateThrottle"],
    "EXCEPTION_HANDLER": "portal.api.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.CursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON, and REST framework's HTML pages with what axe-core needs (portal/api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "portal.api.renderers.BrowsableAPIRenderer",
    ],
}

# The API's OpenAPI document (/api/schema/, checked in as docs/openapi.yaml: `make schema`)
# and its reference (/api/docs/, Swagger UI from the sidecar's static files, no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "Clarius portal API",
    "DESCRIPTION": (
        "Exams from Clarius, reviewed by clinic staff, reports sent back. Everything is "
        "scoped to one institution and to the caller's role; another institution's object "
        "is a 404. Every error is an RFC 9457 problem (`application/problem+json`); every "
        "list pages with cursors (follow `next` and `previous`)."
    ),
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SORT_OPERATION_PARAMETERS": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No deep links: Swagger UI would put each operation's link inside its toggle button,
    # a control nested in a control that keyboards and screen readers cannot use. No
    # syntax colouring: some of its colours are too faint to read on its dark background.
    "SWAGGER_UI_SETTINGS": {
        "deepLinking": False,
        "defaultModelsExpandDepth": 0,
        "syntaxHighlight": False,
    },
    "PREPROCESSING_HOOKS": ["portal.api.schema.only_the_api"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.problems_everywhere",
        "portal.api.schema.without_database_bounds",
    ],
}

# /metrics (portal/metrics): a scraper sends `Authorization: Bearer <token>`. Unset, it
# answers 404, unless PORTAL_METRICS_ALLOW_LOCAL=1 lets loopback read it without one.
PORTAL_METRICS_TOKEN = env_str("PORTAL_METRICS_TOKEN") or ""
if PORTAL_METRICS_TOKEN and len(PORTAL_METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("PORTAL_METRICS_TOKEN: use at least 16 characters")
PORTAL_METRICS_ALLOW_LOCAL = env_bool("PORTAL_METRICS_ALLOW_LOCAL", False)

# Logs: plain lines, or with DJANGO_LOG_FORMAT=json one JSON object per line with the
# request id (portal/metrics/logs.py); secrets and query strings masked either way.
DJANGO_LOG_FORMAT = (env_str("DJANGO_LOG_FORMAT") or "plain").strip().lower()
if DJANGO_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("DJANGO_LOG_FORMAT: plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "portal.metrics.logs.JsonFormatter"},
    },
    "filters": {
        "mask_secrets": {"()": "portal.log_masking.MaskSecretsFilter"},
        "request_id": {"()": "portal.metrics.logs.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": DJANGO_LOG_FORMAT,
            "filters": ["request_id", "mask_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL") or "INFO"},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # WeasyPrint logs each step of every PDF it draws, and its own stylesheets as it
        # is imported: noise in every command's output. Its warnings (a refused URL, an
        # unreadable image) still show.
        "weasyprint.progress": {"level": "WARNING"},
        # runserver's request lines, through the masking handler.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
if DJANGO_LOG_FORMAT == "json":
    # django-q2 gives its logger a plain handler of its own unless it has one already.
    LOGGING["loggers"]["django-q"] = {"handlers": ["console"], "level": "INFO", "propagate": False}
