"""Fixtures for the API: two collectors of one team, each with a case of their own, and API keys."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts import roles
from creditops.api.services import api_key_issue
from dunning.models import CollectionCase
from tests.dunning.conftest import (  # noqa: F401
    cn_product,
    collector,
    other_collector,
    overdue_case,
    overdue_cases,
    supervisor,
    team,
)
from tests.factories import UserFactory


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def key_for(db):
    """key_for(user, scope="read") → a new API key (the key itself) acting as `user`."""

    def make(user, scope="read"):
        return api_key_issue(name=f"test-{user.username}-{scope}", user=user, scope=scope, actor=None)[1]

    return make


@pytest.fixture
def client_for(key_for):
    """client_for(user, scope="read") → an APIClient sending a fresh key of `user`."""

    def make(user, scope="read"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key_for(user, scope)}")
        return client

    return make


@pytest.fixture
def two_cases(overdue_cases, collector, other_collector):  # noqa: F811 - fixtures imported above
    """(mine, theirs): one case assigned to `collector`, one to `other_collector`."""
    mine, theirs = overdue_cases(2)
    CollectionCase.objects.filter(pk=mine.pk).update(assigned_to=collector)
    CollectionCase.objects.filter(pk=theirs.pk).update(assigned_to=other_collector)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    return mine, theirs


@pytest.fixture
def administrator(db):
    user = UserFactory(username="admin1")
    user.groups.add(Group.objects.get(name=roles.ADMINISTRATOR))
    return user


def assert_error(response, status: int, code: str) -> dict:
    """The response is an error of the one API shape, with this status and code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert body["code"] == code, body
    assert body["message"]
    return body
