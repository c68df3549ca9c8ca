"""Settings for klantreis, read from typed environment variables.

Every setting a deployment may change is listed in docs/configuration.md.
SQLite (WAL) is the default; DATABASE_URL switches to PostgreSQL.
"""

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
DEMO = env_bool("KLANTREIS_DEMO", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or DEMO or env_bool("KLANTREIS_TESTING", False)):
        raise ValueError("SECRET_KEY must be set (it signs sign-in links and sessions)")
    SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "ninja",
    "klantreis.core",
    "klantreis.accounts",
    "klantreis.events",
    "klantreis.customers",
    "klantreis.intake",
    "klantreis.planning",
    "klantreis.messaging",
    "klantreis.journeys",
    "klantreis.feedback",
    "klantreis.portal",
    "klantreis.workspace",
    "klantreis.field",
    "klantreis.insights",
    "klantreis.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "klantreis.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "klantreis.config.urls"
WSGI_APPLICATION = "klantreis.config.wsgi.application"
ASGI_APPLICATION = "klantreis.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "klantreis" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "klantreis.core.context_processors.organisation",
            ],
        },
    },
]

# Database: SQLite in WAL mode with IMMEDIATE transactions (so a writer takes
# the lock up front instead of failing on upgrade), PostgreSQL when
# DATABASE_URL says so.
DATA_DIR = Path(env_str("KLANTREIS_DATA_DIR", str(BASE_DIR / "var")))
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(DATA_DIR / "klantreis.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": ("PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "portal:sign_in"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "portal:sign_in"
if env_bool("KLANTREIS_TESTING", False):
    # Tests create many users; a slow hasher there measures nothing useful.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: Dutch first, English beside it; the customer's
# language is stored per customer and applied by UserLanguageMiddleware.
LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "klantreis" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Amsterdam")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("KLANTREIS_TESTING", False)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or DEMO

# Uploads: photos are checked by content, not by name (see intake.photos).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
KLANTREIS_PHOTO_MAX_BYTES = env_int("KLANTREIS_PHOTO_MAX_BYTES", 10 * 1024 * 1024)
KLANTREIS_PHOTO_MAX_COUNT = env_int("KLANTREIS_PHOTO_MAX_COUNT", 5)

# Security headers. The CSP is strict: nothing from another origin and no
# inline script or style; htmx is configured (meta tag) not to inject styles.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Tasks: Django's task framework with the database backend; run workers with
# `manage.py db_worker` on any machine that reaches the database.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# E-mail over SMTP. The demo keeps outgoing mail in the database instead and
# shows it on the demo outbox page.
MAILERS: dict[str, dict[str, Any]]
if DEMO and not env_str("EMAIL_HOST", ""):
    MAILERS = {"default": {"BACKEND": "klantreis.core.mail.OutboxBackend"}}
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env_str("EMAIL_HOST", "localhost"),
                "port": env_int("EMAIL_PORT", 25),
                "username": env_str("EMAIL_HOST_USER", ""),
                "password": env_str("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", False),
                "timeout": env_int("EMAIL_TIMEOUT", 10),
            },
        }
    }
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "klantreis <noreply@localhost>")

# Messaging channels (docs/configuration.md). E-mail and the portal inbox
# always work; SMS and WhatsApp are on when their provider is configured.
MESSAGING_CHANNELS: dict[str, dict[str, Any]] = {
    "email": {"BACKEND": "klantreis.messaging.channels.email.EmailChannel", "OPTIONS": {}},
    "inapp": {"BACKEND": "klantreis.messaging.channels.inapp.InAppChannel", "OPTIONS": {}},
}


def env_group(names: list[str]) -> bool:
    """True when every variable of a provider is set, False when none is; a
    provider half configured stops the process rather than silently not sending."""
    missing = [name for name in names if not env_str(name, "")]
    if missing and len(missing) < len(names):
        raise ValueError(f"{', '.join(missing)} must be set too (or none of {', '.join(names)})")
    return not missing


# SMS over Twilio: delivery reports arrive at SITE_URL/hooks/sms/twilio/.
if env_group(["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]):
    if not (env_str("TWILIO_FROM", "") or env_str("TWILIO_MESSAGING_SERVICE_SID", "")):
        raise ValueError("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID must be set to send SMS")
    MESSAGING_CHANNELS["sms"] = {
        "BACKEND": "klantreis.messaging.channels.sms_twilio.TwilioSmsChannel",
        "OPTIONS": {
            "account_sid": env_str("TWILIO_ACCOUNT_SID", ""),
            "auth_token": env_str("TWILIO_AUTH_TOKEN", ""),
            "sender": env_str("TWILIO_FROM", ""),
            "messaging_service_sid": env_str("TWILIO_MESSAGING_SERVICE_SID", ""),
            "base_url": env_str("TWILIO_BASE_URL", "https://api.twilio.com"),
            "timeout_seconds": env_int("TWILIO_TIMEOUT", 10),
        },
    }
# WhatsApp over Meta's Cloud API: the app's webhook is SITE_URL/hooks/whatsapp/.
if env_group(
    ["WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_TEMPLATE"]
):
    MESSAGING_CHANNELS["whatsapp"] = {
        "BACKEND": "klantreis.messaging.channels.whatsapp_cloud.WhatsAppCloudChannel",
        "OPTIONS": {
            "phone_number_id": env_str("WHATSAPP_PHONE_NUMBER_ID", ""),
            "access_token": env_str("WHATSAPP_ACCESS_TOKEN", ""),
            "app_secret": env_str("WHATSAPP_APP_SECRET", ""),
            "template_name": env_str("WHATSAPP_TEMPLATE", ""),
            "verify_token": env_str("WHATSAPP_VERIFY_TOKEN", ""),
            "api_version": env_str("WHATSAPP_API_VERSION", "v23.0"),
            "base_url": env_str("WHATSAPP_BASE_URL", "https://graph.facebook.com"),
            "timeout_seconds": env_int("WHATSAPP_TIMEOUT", 10),
        },
    }
# How many touchpoints one dispatch task carries out (one SMTP connection each).
KLANTREIS_DISPATCH_BATCH = env_int("KLANTREIS_DISPATCH_BATCH", 100)
# A worker that dies holding touchpoints or a send gives them back after this long.
KLANTREIS_LEASE_SECONDS = env_int("KLANTREIS_LEASE_SECONDS", 300)

# The clock: "system" reads the real time; "demo" adds an offset kept in the
# database so the demo's clock control can move time forward.
KLANTREIS_CLOCK = env_str("KLANTREIS_CLOCK", "demo" if DEMO else "system")
KLANTREIS_SIGN_IN_LINK_MINUTES = env_int("KLANTREIS_SIGN_IN_LINK_MINUTES", 15)
# How long the signed links in messages (request page, choose another time) sign a customer in.
KLANTREIS_ENTRY_LINK_DAYS = env_int("KLANTREIS_ENTRY_LINK_DAYS", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
