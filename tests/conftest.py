import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import translation

from lending.services import loan_create
from notices.sms.backends import locmem
from tests.factories import BorrowerFactory, ProductFactory, UserFactory


@pytest.fixture(autouse=True)
def default_language():
    """Every test starts in the default language: a request through LocaleMiddleware leaves its language
    active in the thread, which would leak into the next test."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def empty_cache():
    """Every test starts with an empty cache. Request counters (the API throttle, the verification page's
    rate limit) live there, keyed by ids the database reuses after a rolled-back test (SQLite hands out
    the same primary keys again), so one test's counts would otherwise throttle the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sms_outbox():
    """Messages the locmem SMS backend (the test settings' gateway) "sent" during the test."""
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def on_postgres():
    """Skip (visibly) where a test needs PostgreSQL features; CI runs the suite on PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def product(db):
    return ProductFactory(code="TERM12")


@pytest.fixture
def borrower(db):
    return BorrowerFactory()


@pytest.fixture
def staff_user(db):
    return UserFactory(username="officer")


@pytest.fixture
def make_loan(db, product, borrower):
    """Book a loan through the real service: 12,000.00 over 12 months at 12% by default."""

    def make(**overrides):
        arguments = {
            "borrower": borrower,
            "product": product,
            "principal_amount": Decimal("12000.00"),
            "term_months": 12,
            "disbursed_on": datetime.date(2026, 1, 15),
            "actor": None,
        }
        arguments.update(overrides)
        return loan_create(**arguments)

    return make
