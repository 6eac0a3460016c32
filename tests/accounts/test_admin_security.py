"""An Administrator (a role, not a superuser) manages staff but cannot make or take over a superuser."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.roles import ADMINISTRATOR
from tests.factories import UserFactory


@pytest.fixture
def administrator_client(client, db):
    administrator = UserFactory(username="administrator")
    administrator.groups.add(Group.objects.get(name=ADMINISTRATOR))
    client.force_login(administrator)
    client.administrator = administrator
    return client


def test_administrator_cannot_change_a_superuser_or_their_password(administrator_client):
    root = UserFactory(username="root", is_superuser=True)
    change = reverse("admin:accounts_user_change", args=[root.pk])
    assert "_save" not in administrator_client.get(change).content.decode()
    password_url = reverse("admin:auth_user_password_change", args=[root.pk])
    assert administrator_client.get(password_url).status_code == 403
    response = administrator_client.post(password_url, {"password1": "Take-over-2026!", "password2": "Take-over-2026!"})
    assert response.status_code == 403
    root.refresh_from_db()
    assert root.check_password("correct-horse-battery")


def test_administrator_cannot_promote_anyone_to_superuser(administrator_client):
    clerk = UserFactory(username="clerk")
    change = reverse("admin:accounts_user_change", args=[clerk.pk])
    form = administrator_client.get(change).context["adminform"].form
    assert "is_superuser" not in form.fields
    assert "user_permissions" not in form.fields
    assert "groups" in form.fields  # roles are still assigned through groups
