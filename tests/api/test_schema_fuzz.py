"""Schemathesis drives every operation of /api/schema/ through WSGI with generated requests — valid ones,
invalid ones, edge cases — as a supervisor's write key, and checks every response against the schema:
no 5xx, every status, content type and body as described, invalid input refused with a 4xx, valid input
accepted. Run on its own: `pytest tests/api/test_schema_fuzz.py` (FUZZ_EXAMPLES=500 for a longer run)."""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from creditops.api.throttling import PerKeyRateThrottle
from notices.services.issue import notice_issue

schema = schemathesis.pytest.from_fixture("api_schema")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))


@pytest.fixture
def keep_test_connection():
    """Django's WSGI handler closes the database connection after each request; inside the test's
    transaction that would close the transaction itself (django.test.Client disconnects the same)."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_schema(db, keep_test_connection, monkeypatch, media_root, supervisor, key_for, overdue_cases):
    monkeypatch.setattr(PerKeyRateThrottle, "THROTTLE_RATES", {"api_key": "1000000/min"})
    cases = overdue_cases(3)
    notice_issue(case=cases[0], kind="collection_notice", actor=supervisor, queue_email=False)
    config = schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"ApiKey": {"api_key": f"Api-Key {key_for(supervisor, 'write')}"}}},
            # A NUL byte is a valid JSON string but never a valid name, reference or filter: refused with 400.
            "generation": {"allow-x00": False},
            # Valid requests must succeed; 401/403 would mean the key itself was refused.
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]}},
        }
    )
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=config)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_to_the_schema(case):
    case.call_and_validate()
