"""Settings and migrations checked the way an operator runs them: manage.py in a fresh process."""

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)


def _database_url(tmp_path) -> str:
    """The database this test run uses: the PostgreSQL test database, or a SQLite file for SQLite."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        credentials = quote(db["USER"] or "", safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = db.get("HOST") or "localhost"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{credentials}@{host}{port}/{db['NAME']}"
    return f"sqlite:///{tmp_path / 'check.sqlite3'}"


def _clean_env(**extra) -> dict:
    """Only what the process needs: no DJANGO_SETTINGS_MODULE, DEBUG or SECRET_KEY leaking from pytest."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "SYSTEMROOT") if key in os.environ}
    env.update(extra)
    return env


def _run(args, env):
    return subprocess.run(  # noqa: S603 - fixed arguments, our own interpreter
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _random_secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(60))


@pytest.mark.django_db
def test_production_settings_pass_the_deploy_check(tmp_path):
    env = _clean_env(
        SECRET_KEY=_random_secret_key(),
        ALLOWED_HOSTS="creditops.example.com",
        DATABASE_URL=_database_url(tmp_path),
    )
    result = _run(["manage.py", "check", "--deploy", "--settings=creditops.settings.production"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    if (BASE_DIR / ".env").exists() and "SECRET_KEY" in (BASE_DIR / ".env").read_text():
        pytest.skip(".env in the project directory supplies SECRET_KEY")
    env = _clean_env(ALLOWED_HOSTS="creditops.example.com", DATABASE_URL="sqlite:///unused.sqlite3")
    result = _run(["-c", "import creditops.settings.production"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_settings_refuse_to_start_without_allowed_hosts():
    env = _clean_env(SECRET_KEY=_random_secret_key(), DATABASE_URL="sqlite:///unused.sqlite3")
    result = _run(["-c", "import creditops.settings.production"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "ALLOWED_HOSTS" in result.stderr


@pytest.mark.django_db
def test_models_and_migrations_agree(tmp_path):
    env = _clean_env(DATABASE_URL=_database_url(tmp_path))
    result = _run(["manage.py", "makemigrations", "--check", "--dry-run", "--settings=creditops.settings.test"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout
    assert "error checking a consistent migration history" not in result.stderr
