"""Settings shared by every environment; every knob comes from the environment (see .env.example)."""

import datetime
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "creditops.core.apps.TaskQueueConfig",  # django_q, named in both languages
    "django_htmx",
    "creditops.core.apps.LoginLockoutConfig",  # axes, likewise
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "creditops.core",
    "creditops.dashboards",
    "accounts",
    "lending",
    "dunning",
    "notices",
    "risk",
    "creditops.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "creditops.core.middleware.HtmxSignInRedirectMiddleware",
    "creditops.core.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "creditops.urls"
WSGI_APPLICATION = "creditops.wsgi.application"
ASGI_APPLICATION = "creditops.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "creditops.core.context_processors.portal",
            ],
        },
    },
]

# The embedded SQLite default lets a first look need no database server; CI and production use PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes write the demo database (the q-cluster, notice renderers): a transaction takes the
    # write lock when it begins and waits up to 20 s for it, instead of failing with "database is locked"
    # when a read-then-write transaction meets another writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
# django-axes counts failed logins (portal and admin alike) before the password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
# Lock the username from that address: a typo elsewhere cannot lock a colleague out of the whole office.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False


def client_address_settings(proxy_count: int) -> dict:
    """How django-axes (through django-ipware) finds the client's address behind `proxy_count` reverse
    proxies, each appending the address it received from to X-Forwarded-For. The last proxy is the one
    the portal sees as REMOTE_ADDR, so the client is the entry that many hops from the right: the last
    entry behind one load balancer, whatever a client wrote into the header itself. Without proxies the
    header is ignored (anyone can send it)."""
    if proxy_count < 1:
        return {"AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",), "AXES_IPWARE_PROXY_COUNT": None}
    return {
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"),
        "AXES_IPWARE_PROXY_ORDER": "left-most",
        # ipware counts the proxies whose addresses are in the header: all but the last one.
        "AXES_IPWARE_PROXY_COUNT": proxy_count - 1,
        # Accept a header longer than expected (a client's own entries come first and are skipped).
        "IPWARE_STRICT": False,
    }


vars().update(client_address_settings(env.int("PROXY_COUNT", default=0)))

# Sessions end after SESSION_IDLE_MINUTES without a request (every request pushes the expiry on) and
# when the browser closes.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_MINUTES", default=30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # htmx sends the token from the page (hx-headers), not from the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Everything the portal loads comes from itself (no CDN); inline styles only for the admin's widgets.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Public training data (risk/datasets.py), downloaded by `make setup`.
DATASET_DIR = env.path("DATASET_DIR", default=BASE_DIR / ".cache" / "datasets")

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="creditops@localhost")
# SMS gateway, chosen like Django's e-mail backends: console (logs), file (one file per message under
# SMS_FILE_PATH), locmem (tests); a real gateway is a class path to a subclass of BaseSmsBackend.
SMS_BACKEND = env.str("SMS_BACKEND", default="notices.sms.backends.console.SmsBackend")
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=BASE_DIR / "var" / "sms")

REDIS_URL = env.str("REDIS_URL", default="")

# django-q2: the database is the broker unless Redis is configured, so a first run needs nothing else.
Q_CLUSTER = {
    "name": "creditops",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 3600,
    "retry": 3700,
    "max_attempts": 3,
    "catch_up": False,
    "label": "Background tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# The API's request counter lives in the cache: with REDIS_URL set, every worker process shares it.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Messages are kept in the session, not a cookie: one of them carries a new API key, shown once.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "creditops.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["creditops.api.permissions.KeyScopeAllows"],
    "DEFAULT_THROTTLE_CLASSES": ["creditops.api.throttling.PerKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="1200/min")},
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "creditops.api.strict.OneFieldOrdering",
    ],
    "DEFAULT_PAGINATION_CLASS": "creditops.api.pagination.KeysetPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "creditops.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CreditOps API",
    "DESCRIPTION": (
        "Ledger, collections and notices for integrations (core banking, payment channels). "
        "Authenticate with `Authorization: Api-Key <key>` (keys are issued in the admin) or a staff session. "
        "Every list is filtered, ordered and paged by cursor; every error is `{code, message, detail}`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "creditops.api.schema.add_error_responses",
    ],
    # Several models have a "status" or "channel" with different choices: give each its own name.
    "ENUM_NAME_OVERRIDES": {
        "LanguageEnum": LANGUAGES,
        "LoanStatusEnum": "lending.models.Loan.Status",
        "PaymentStatusEnum": "lending.models.Payment.Status",
        "PaymentChannelEnum": "lending.models.Payment.Channel",
        "ContactChannelEnum": "dunning.models.Channel",
        "CaseStatusEnum": "dunning.models.CaseStatus",
        "PromiseStatusEnum": "dunning.models.PromiseToPay.Status",
        "RunStatusEnum": "dunning.models.DunningRun.Status",
    },
}

# Business configuration.
CREDITOPS = {
    "DEFAULT_CURRENCY": env.str("DEFAULT_CURRENCY", default="CNY"),
    # A new product's cap on the annualised total cost of a loan (interest, fees and penalty on the
    # principal); penalty accrual stops once it is reached. 0.24 = 24 % a year.
    "PENALTY_COST_CAP": env.str("PENALTY_COST_CAP", default="0.24"),
    # How long after a write-off an approved undo may restore the loan.
    "WRITE_OFF_UNDO_DAYS": env.int("WRITE_OFF_UNDO_DAYS", default=90),
    # The latest deadline a settlement may have, in days after it is agreed.
    "SETTLEMENT_MAX_DAYS": env.int("SETTLEMENT_MAX_DAYS", default=180),
}

# What every notice prints about the lender and how to pay (the letterhead and the payment box), in both
# notice languages. Replace the demo values through the environment in production.
NOTICES = {
    "LENDER": {
        "zh-hans": {
            "name": env.str("LENDER_NAME_ZH", default="示例消费金融有限公司"),
            "address": env.str("LENDER_ADDRESS_ZH", default="北京市朝阳区建国路 88 号 20 层 100022"),
            "licence": env.str(
                "LENDER_LICENCE_ZH", default="金融许可证号 S0000H000000001 · 统一社会信用代码 91110000MA0000000X"
            ),
        },
        "en": {
            "name": env.str("LENDER_NAME_EN", default="Example Consumer Finance Co., Ltd."),
            "address": env.str("LENDER_ADDRESS_EN", default="20/F, 88 Jianguo Road, Chaoyang, Beijing 100022, China"),
            "licence": env.str(
                "LENDER_LICENCE_EN", default="Financial licence S0000H000000001 · USCC 91110000MA0000000X"
            ),
        },
        "phone": env.str("LENDER_PHONE", default="400-000-0000"),
        "email": env.str("LENDER_EMAIL", default="collections@example.com"),
        "dispute_email": env.str("LENDER_DISPUTE_EMAIL", default="disputes@example.com"),
    },
    "PAYMENT": {
        # The bank and account holder in each notice language (a Chinese notice carries the Chinese names).
        "zh-hans": {
            "bank_name": env.str("PAYMENT_BANK_NAME_ZH", default="中国工商银行北京朝阳支行"),
            "account_name": env.str("PAYMENT_ACCOUNT_NAME_ZH", default="示例消费金融有限公司"),
        },
        "en": {
            "bank_name": env.str(
                "PAYMENT_BANK_NAME_EN", default="Industrial and Commercial Bank of China, Beijing Chaoyang Branch"
            ),
            "account_name": env.str("PAYMENT_ACCOUNT_NAME_EN", default="Example Consumer Finance Co., Ltd."),
        },
        "account_number": env.str("PAYMENT_ACCOUNT_NUMBER", default="0200 0000 0000 0000 000"),
        # The QR code on a notice opens this page with the loan reference and the amount filled in.
        "url": env.str("PAYMENT_URL", default="https://pay.example.com/repay"),
    },
    # The public verification page printed on every notice (the portal's own address as borrowers see it).
    "VERIFY_BASE_URL": env.str("NOTICE_VERIFY_BASE_URL", default="http://127.0.0.1:8000"),
    "PAY_WITHIN_DAYS": env.int("NOTICE_PAY_WITHIN_DAYS", default=7),
    "DISPUTE_WITHIN_DAYS": env.int("NOTICE_DISPUTE_WITHIN_DAYS", default=15),
    # The public verification page: requests a minute per client address, and the largest upload (a copy
    # of a notice is a few hundred kB; anything far larger is refused before it is read).
    "VERIFY_REQUESTS_PER_MINUTE": env.int("NOTICE_VERIFY_REQUESTS_PER_MINUTE", default=30),
    "VERIFY_MAX_UPLOAD_BYTES": env.int("NOTICE_VERIFY_MAX_UPLOAD_MB", default=5) * 1024 * 1024,
    # E-mail delivery: tries before a delivery is marked failed, and the first retry delay (doubling).
    "EMAIL_MAX_ATTEMPTS": env.int("NOTICE_EMAIL_MAX_ATTEMPTS", default=5),
    "EMAIL_RETRY_MINUTES": env.int("NOTICE_EMAIL_RETRY_MINUTES", default=5),
    # Processes that render a batch of notices side by side (`issue_notices`).
    "RENDER_WORKERS": env.int("NOTICE_RENDER_WORKERS", default=2),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs every rendering step at INFO; fontTools likewise when it subsets.
    "loggers": {name: {"level": "WARNING"} for name in ["django.db.backends", "weasyprint", "fontTools", "axes"]},
}
