"""Keys: hashed, scoped, revocable, last-used; staff sessions; throttling; the one error shape."""

import pytest
from rest_framework.test import APIClient

from creditops.api.models import ApiKey
from creditops.api.services import api_key_issue, api_key_revoke, hash_secret
from creditops.api.throttling import PerKeyRateThrottle
from lending.models import Payment
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_no_credentials_answers_401_in_the_error_shape():
    response = APIClient().get("/api/v1/cases/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize("header", ["Api-Key nonsense", "Api-Key co_abc_def", "Api-Key co_x", "Api-Key "])
def test_an_unknown_or_malformed_key_answers_401(header, collector, key_for):
    key_for(collector)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get("/api/v1/cases/"), 401, "authentication_failed")


def test_a_key_is_stored_only_as_its_hash(collector):
    api_key, key = api_key_issue(name="core-banking", user=collector, scope="read", actor=None)
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert key not in {stored.prefix, stored.secret_hash, stored.name}
    assert stored.secret_hash == hash_secret(key)
    assert key.startswith(f"co_{stored.prefix}_")


def test_a_revoked_key_stops_working_and_last_use_is_recorded(collector):
    api_key, key = api_key_issue(name="dialer", user=collector, scope="read", actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/cases/").status_code == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None

    api_key_revoke(api_key=api_key, actor=None)
    assert_error(client.get("/api/v1/cases/"), 401, "authentication_failed")


def test_a_key_of_an_inactive_user_does_not_work(collector, client_for):
    client = client_for(collector)
    collector.is_active = False
    collector.save()
    assert_error(client.get("/api/v1/cases/"), 401, "authentication_failed")


def test_a_read_only_key_cannot_write(supervisor, client_for, two_cases):
    mine, _theirs = two_cases
    body = {"loan_reference": mine.loan.reference, "source": "bank", "external_ref": "R1", "amount": "10.00",
            "received_on": "2026-03-01", "channel": "bank_transfer"}  # fmt: skip
    assert_error(
        client_for(supervisor, "read").post("/api/v1/payments/", body, format="json"), 403, "permission_denied"
    )
    assert not Payment.objects.exists()
    assert client_for(supervisor, "write").post("/api/v1/payments/", body, format="json").status_code == 201


def test_a_write_key_still_needs_the_role(collector, client_for, two_cases):
    mine, _theirs = two_cases
    body = {"loan_reference": mine.loan.reference, "source": "bank", "external_ref": "R1", "amount": "10.00",
            "received_on": "2026-03-01", "channel": "bank_transfer"}  # fmt: skip
    assert_error(
        client_for(collector, "write").post("/api/v1/payments/", body, format="json"), 403, "permission_denied"
    )
    assert not Payment.objects.exists()


def test_staff_sessions_read_and_need_the_csrf_token_to_write(supervisor, two_cases):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(supervisor)
    assert client.get("/api/v1/cases/").status_code == 200
    mine, _theirs = two_cases
    body = {"loan_reference": mine.loan.reference, "source": "bank", "external_ref": "R1", "amount": "10.00",
            "received_on": "2026-03-01", "channel": "bank_transfer"}  # fmt: skip
    assert_error(client.post("/api/v1/payments/", body, format="json"), 403, "permission_denied")
    assert not Payment.objects.exists()


def test_each_key_is_throttled_on_its_own(monkeypatch, collector, client_for):
    monkeypatch.setattr(PerKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    busy, quiet = client_for(collector), client_for(collector)
    for _ in range(3):
        assert busy.get("/api/v1/cases/").status_code == 200
    response = busy.get("/api/v1/cases/")
    body = assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert body["detail"]["wait_seconds"] == int(response["Retry-After"])
    assert quiet.get("/api/v1/cases/").status_code == 200


def test_unsupported_methods_and_bodies_answer_in_the_error_shape(supervisor, client_for):
    client = client_for(supervisor, "write")
    assert_error(client.delete("/api/v1/cases/"), 405, "method_not_allowed")
    response = client.post("/api/v1/payments/", "not json", content_type="application/json")
    assert_error(response, 400, "parse_error")
    response = client.post("/api/v1/payments/", "x", content_type="text/csv")
    assert_error(response, 415, "unsupported_media_type")
    assert_error(client.get("/api/v1/cases/1.5/"), 404, "not_found")  # no route: still the API's shape
    assert_error(client.post("/api/v1/nowhere/", {}, format="json"), 404, "not_found")
    assert_error(client.get("/api/v1/cases/", {"page_size": "ten"}), 400, "invalid")
    assert_error(client.get("/api/v1/cases/?loan=1&loan=2"), 400, "invalid")


def test_the_schema_and_the_docs_are_served_without_any_cdn(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/payments/" in document["paths"]
    assert document["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"
    create = document["paths"]["/api/v1/payments/"]["post"]["responses"]
    assert {"200", "201", "400", "401", "403", "409", "429"} <= set(create)
    assert create["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}

    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page
    assert "<script>" not in page  # the portal's CSP runs no inline script: the set-up is a file of its own
    assert client.get("/api/docs/?script=")["Content-Type"] == "application/javascript"


def test_a_body_over_the_upload_limit_answers_413_in_the_error_shape(settings, supervisor, client_for):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"note": "' + "x" * 2000 + '"}'
    response = client_for(supervisor, "write").post("/api/v1/payments/", body, content_type="application/json")
    error = assert_error(response, 413, "request_too_large")
    assert error["detail"] == {"max_bytes": 1000}
    assert not Payment.objects.exists()


@pytest.mark.parametrize("parameter", ["product", "reference", "province", "external_ref"])
def test_a_nul_character_in_a_text_filter_is_refused_as_the_schema_says(parameter, supervisor, client_for):
    resource = {"reference": "loans", "province": "borrowers", "external_ref": "payments"}.get(parameter, "cases")
    client = client_for(supervisor)
    english = assert_error(client.get(f"/api/v1/{resource}/?{parameter}=A%00B"), 400, "invalid")
    assert english["detail"] == {parameter: ["No spaces at the start or the end, and no control characters."]}
    chinese = client.get(f"/api/v1/{resource}/?{parameter}=%00", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert "空字符串" not in chinese["detail"][parameter][0]
    assert chinese["detail"][parameter] == ["首尾不能有空格，且不能包含控制字符。"]
    schema = client.get("/api/schema/?format=json").json()
    parameters = schema["paths"][f"/api/v1/{resource}/"]["get"]["parameters"]
    pattern = next(item["schema"]["pattern"] for item in parameters if item["name"] == parameter)
    assert pattern.startswith("^[^\\x00-")
