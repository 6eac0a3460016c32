"""Test settings: the suite runs on DATABASE_URL (PostgreSQL in CI) or SQLite when unset."""

from .base import *  # noqa: F403
from .base import BASE_DIR

DEBUG = False
SECRET_KEY = "test-only-key-not-secret"  # noqa: S105 - never used outside the test suite
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "notices.sms.backends.locmem.SmsBackend"
MEDIA_ROOT = BASE_DIR / ".pytest_cache" / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
Q_CLUSTER = {"name": "creditops-test", "orm": "default", "sync": True, "timeout": 60, "retry": 120}
LANGUAGE_CODE = "en"
# Each test process counts API requests on its own (throttling tests must not see another run's counts).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
