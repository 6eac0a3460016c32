"""Local development: DEBUG on, a secret key generated once into an ignored file."""

import secrets

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = env.bool("DEBUG", default=True)


def _local_secret_key():
    """Read the developer's key from .secret_key, creating it on first use."""
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()

if not env.str("EMAIL_URL", default=""):
    # Notices go out with their PDF attached; printed on the console they would flood the terminal of
    # `make run`, so in development each e-mail is written to its own file under var/mail/ instead.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = BASE_DIR / "var" / "mail"
