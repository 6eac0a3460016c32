"""Issuing and revoking keys in the admin and by command; the key is shown once and works at once."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from creditops.api.models import ApiKey

pytestmark = pytest.mark.django_db


def works(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client.get("/api/v1/cases/").status_code


def test_the_admin_issues_a_key_shown_once_and_revokes_it(client, administrator, collector):
    client.force_login(administrator)
    response = client.post(
        "/admin/api/apikey/add/", {"name": "dialer", "user": collector.pk, "scope": "write"}, follow=True
    )
    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    key = next(text.rsplit(" ", 1)[1] for text in shown if "not shown again" in text)
    api_key = ApiKey.objects.get()
    assert (api_key.name, api_key.user, api_key.scope, api_key.created_by) == (
        "dialer",
        collector,
        "write",
        administrator,
    )
    assert works(key) == 200
    assert key not in client.get(f"/admin/api/apikey/{api_key.pk}/change/").content.decode()

    client.post("/admin/api/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]})
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert works(key) == 401
    events = AuditEvent.objects.filter(subject_id=str(api_key.pk)).order_by("id")
    assert list(events.values_list("event", flat=True)) == ["api_key.issued", "api_key.revoked"]


def test_a_collector_cannot_issue_keys(client, collector):
    client.force_login(collector)
    assert client.get("/admin/api/apikey/add/").status_code == 403


def test_the_command_prints_a_working_key(capsys, collector):
    call_command("issue_api_key", collector.username, "--name", "core-banking", "--scope", "read")
    key = capsys.readouterr().out.strip()
    assert works(key) == 200
    assert ApiKey.objects.get().scope == "read"


def test_an_administrator_cannot_issue_a_key_acting_as_a_superuser(client, administrator):
    from accounts.models import User

    root = User.objects.create_superuser("root", "root@example.com", "x" * 16)
    client.force_login(administrator)
    page = client.get("/admin/api/apikey/add/").content.decode()
    assert f'value="{root.pk}"' not in page
    response = client.post("/admin/api/apikey/add/", {"name": "escalate", "user": root.pk, "scope": "write"})
    assert response.status_code == 200  # the form again, with the error
    assert not ApiKey.objects.exists()
