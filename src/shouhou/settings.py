"""One settings module, driven by SHOUHOU_* environment variables.

SHOUHOU_DATABASE_URL   sqlite:///path/to/db.sqlite3 (default, under SHOUHOU_DATA_DIR)
                       or postgresql://user@host:port/dbname
SHOUHOU_DATA_DIR       where the SQLite database, uploads and the key file live (default ./var)
SHOUHOU_SECRET_KEY     Django secret; also the root of the field-encryption key unless
                       SHOUHOU_FIELD_KEY_FILE points at a key file
SHOUHOU_DEBUG          1 for development
SHOUHOU_REDIS_URL      redis://127.0.0.1:6379/0 — huey uses Redis when set, SQLite otherwise
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("SHOUHOU_DATA_DIR", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


DEBUG = _bool("SHOUHOU_DEBUG")


DEV_SECRET_KEY = "dev-insecure-shouhou-key-change-me"
# What a data dir holds once shouhou has run in it. Before the secret-key file existed an
# install without SHOUHOU_SECRET_KEY ran on DEV_SECRET_KEY, and its encrypted fields (key
# "s1"), phone hashes, sessions and signed links all derive from it.
_USED_DATA_DIR_MARKS = ("shouhou.sqlite3", "media", "huey.sqlite3", "cache", "field-keys.json")


def _secret_key_from_file(path: Path) -> str:
    """The secret in `path`, made on first start (mode 0600, fsynced before it is linked
    into place). It must never change: sessions, signed buyer links, phone hashes and the
    field-encryption key "s1" all derive from it. A fresh data dir gets a random secret; a
    data dir that was already in use (an upgrade of an install that never set
    SHOUHOU_SECRET_KEY) gets the development key it ran on, so its data stays readable,
    and every start warns until it is moved to a real secret."""
    import secrets

    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    used = any((path.parent / mark).exists() for mark in _USED_DATA_DIR_MARKS)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write((DEV_SECRET_KEY if used else secrets.token_urlsafe(64)) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # atomic and exclusive: two processes starting at once agree
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path.read_text().strip()


# Outside DEBUG: SHOUHOU_SECRET_KEY, else the key file under the data dir.
SECRET_KEY = os.environ.get("SHOUHOU_SECRET_KEY") or (
    DEV_SECRET_KEY if DEBUG else _secret_key_from_file(DATA_DIR / "secret-key")
)
if SECRET_KEY == DEV_SECRET_KEY and not DEBUG:
    import sys

    sys.stderr.write(
        "\n!!! 警告 WARNING: shouhou 正在使用公开的开发密钥运行 / runs on the public development "
        f"secret key ({DATA_DIR / 'secret-key'} or SHOUHOU_SECRET_KEY).\n"
        "    这是升级前未设置 SHOUHOU_SECRET_KEY 的安装：数据仍可读取，但请尽快更换 / this "
        "install never set SHOUHOU_SECRET_KEY; its data stays readable, but move off it:\n"
        "    1. shouhou keys rotate   (字段加密改用密钥文件中的随机密钥 / field encryption moves "
        "to a random key in field-keys.json)\n"
        "    2. 把随机值写入 secret-key 文件或设置 SHOUHOU_SECRET_KEY，然后重启 / write a random "
        "value (python -c 'import secrets; print(secrets.token_urlsafe(64))') into that file "
        "or SHOUHOU_SECRET_KEY and restart: staff log in again, buyer links are re-sent.\n\n"
    )
ALLOWED_HOSTS = [h for h in os.environ.get("SHOUHOU_ALLOWED_HOSTS", "*").split(",") if h]


def database_from_url(url: str) -> dict:
    """Turn SHOUHOU_DATABASE_URL into a Django DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif url.startswith("sqlite:///"):
            path = path[1:] if path.startswith("/") else path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or str(DATA_DIR / "shouhou.sqlite3"),
            # WAL lets readers go on while one writer commits; IMMEDIATE takes the write
            # lock at BEGIN so two writers queue instead of failing on upgrade.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;"
                ),
            },
            "TEST": {"NAME": os.environ.get("SHOUHOU_TEST_SQLITE_NAME") or None},
        }
    if parsed.scheme in {"postgres", "postgresql"}:
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        options: dict = {}
        if _bool("SHOUHOU_DB_POOL", default=False):
            options["pool"] = {"min_size": 1, "max_size": int(query.pop("pool_max", "8"))}
        options.update(query)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "shouhou",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 0 if options.get("pool") else 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
            # Parallel test runs on one server need their own test database names.
            "TEST": {"NAME": os.environ.get("SHOUHOU_TEST_DB_NAME") or None},
        }
    raise ValueError(f"SHOUHOU_DATABASE_URL: unsupported scheme {parsed.scheme!r}")


DATABASE_URL = os.environ.get("SHOUHOU_DATABASE_URL", f"sqlite:///{DATA_DIR / 'shouhou.sqlite3'}")
DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "huey.contrib.djhuey",
    "shouhou.core",
    "shouhou.catalog",
    "shouhou.customers",
    "shouhou.orders",
    "shouhou.cases",
    "shouhou.rules",
    "shouhou.assistant",
    "shouhou.notify",
    "shouhou.portal",
    "shouhou.workbench",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "shouhou.core.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shouhou.core.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "shouhou.core.security.SecurityHeadersMiddleware",
    # AxesMiddleware last, as django-axes asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "shouhou.urls"
WSGI_APPLICATION = "shouhou.wsgi.application"

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
                "shouhou.core.context_processors.staff",
            ]
        },
    }
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if _bool("SHOUHOU_FAST_PASSWORDS"):
    # Tests and the demo loader create many users; argon2 on purpose costs ~50 ms each.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# Shared page assets (app.css/app.js, vendored htmx and ECharts) live beside settings.py.
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Uploads: the API refuses bodies over this many bytes with `payload_too_large`.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("SHOUHOU_MAX_BODY", 2 * 1024 * 1024))
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
SHOUHOU_MAX_EVIDENCE_BYTES = int(os.environ.get("SHOUHOU_MAX_EVIDENCE_BYTES", 10 * 1024 * 1024))

SHOUHOU_FIELD_KEY_FILE = os.environ.get("SHOUHOU_FIELD_KEY_FILE", "")
SHOUHOU_SWEEP_BATCH = int(os.environ.get("SHOUHOU_SWEEP_BATCH", 500))
SHOUHOU_SWEEP_INTERVAL_SECONDS = int(os.environ.get("SHOUHOU_SWEEP_INTERVAL_SECONDS", 60))

# The notification outbox (notify/): delivery batch, lease of a claimed row (a killed
# deliverer's rows are due again after it), per-request timeout, backoff and dead letter.
SHOUHOU_OUTBOX_BATCH = int(os.environ.get("SHOUHOU_OUTBOX_BATCH", 20))
SHOUHOU_OUTBOX_LEASE_SECONDS = float(os.environ.get("SHOUHOU_OUTBOX_LEASE_SECONDS", 300))
SHOUHOU_OUTBOX_TIMEOUT = float(os.environ.get("SHOUHOU_OUTBOX_TIMEOUT", 10))
SHOUHOU_OUTBOX_BACKOFF_SECONDS = float(os.environ.get("SHOUHOU_OUTBOX_BACKOFF_SECONDS", 30))
SHOUHOU_OUTBOX_BACKOFF_MAX_SECONDS = float(
    os.environ.get("SHOUHOU_OUTBOX_BACKOFF_MAX_SECONDS", 6 * 3600)
)
SHOUHOU_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("SHOUHOU_OUTBOX_MAX_ATTEMPTS", 10))
# smtp://user:pass@host:25, smtp://host:587?starttls=1, smtps://host:465 (e-mail channel)
# Webhooks and robots go to public addresses only (notify/netguard.py) unless this is set.
SHOUHOU_WEBHOOK_ALLOW_PRIVATE = _bool("SHOUHOU_WEBHOOK_ALLOW_PRIVATE")
SHOUHOU_SMTP_URL = os.environ.get("SHOUHOU_SMTP_URL", "")
SHOUHOU_SMTP_FROM = os.environ.get("SHOUHOU_SMTP_FROM", "shouhou <noreply@shouhou.local>")

REDIS_URL = os.environ.get("SHOUHOU_REDIS_URL", "")
# Counters (portal lockout, rate limits) must be shared by every gunicorn worker: Redis when
# configured, else a file cache under the data dir (one machine).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    )
}
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "shouhou",
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "shouhou",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": _bool("SHOUHOU_HUEY_IMMEDIATE"),
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

# --- security (PRODUCT.md §7) --------------------------------------------------------------
# Staff login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# username from one IP, that pair is locked for the cool-off, even with the right password;
# SHOUHOU_LOGIN_IP_FAILURE_LIMIT failures from one IP over all usernames lock that IP.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("SHOUHOU_LOGIN_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SHOUHOU_LOGIN_LOCKOUT_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# ... and the IP alone after this many failures over all usernames (core/lockout.py).
AXES_HANDLER = "shouhou.core.lockout.LoginLockoutHandler"
SHOUHOU_LOGIN_IP_FAILURE_LIMIT = int(os.environ.get("SHOUHOU_LOGIN_IP_FAILURE_LIMIT", 30))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "shouhou.core.views.lockout"
AXES_CLIENT_IP_CALLABLE = "shouhou.core.ratelimit.client_ip"
AXES_VERBOSE = False

# Rate limits ("1200/m", "off"), counted in CACHES. An ERP pushing orders through one API
# key at a 双11 peak stays well under the API limit; the portal limit is per buyer IP.
SHOUHOU_RATE_LIMIT_API = os.environ.get("SHOUHOU_RATE_LIMIT_API", "3000/m")
SHOUHOU_RATE_LIMIT_PORTAL = os.environ.get("SHOUHOU_RATE_LIMIT_PORTAL", "120/m")
# Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses/networks).
SHOUHOU_TRUSTED_PROXIES = [
    p.strip() for p in os.environ.get("SHOUHOU_TRUSTED_PROXIES", "").split(",") if p.strip()
]

# Headers on every response (SecurityMiddleware, XFrameOptionsMiddleware and
# core.security.SecurityHeadersMiddleware for CSP and Permissions-Policy).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

if not DEBUG:
    # SHOUHOU_HTTPS=1 when served over TLS (directly or behind a proxy that sets
    # X-Forwarded-Proto): Secure cookies, HSTS, and plain HTTP redirected to HTTPS. The
    # local demo serves plain HTTP and leaves it off.
    HTTPS = _bool("SHOUHOU_HTTPS") or _bool("SHOUHOU_SECURE_COOKIES")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
    if HTTPS:
        SECURE_SSL_REDIRECT = True
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        SECURE_HSTS_SECONDS = int(os.environ.get("SHOUHOU_HSTS_SECONDS", 31536000))
        SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SHOUHOU_HSTS_SUBDOMAINS", default=True)
        SECURE_HSTS_PRELOAD = _bool("SHOUHOU_HSTS_PRELOAD", default=True)

# Every record goes through one filtered handler: mobile numbers are masked (138****5678)
# before anything is written. Django's own loggers are routed to it too (their default
# handlers would bypass the filter).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_phones": {"()": "shouhou.core.logmask.MaskPhones"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["mask_phones"]}},
    "loggers": {
        name: {"handlers": [], "propagate": True}
        for name in ("django", "django.server", "py.warnings")
    },
    "root": {"handlers": ["console"], "level": os.environ.get("SHOUHOU_LOG_LEVEL", "WARNING")},
}
