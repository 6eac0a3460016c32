"""The API's browsable documentation renders in a real browser from the portal's own static files, under
the portal's CSP (no inline script, no CDN), and a key entered there calls the API."""

import pytest

from creditops.api.services import api_key_issue

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_docs_render_offline_under_the_csp_and_try_a_call_with_a_key(portal, supervisor, overdue_cases):
    overdue_cases(2)
    _api_key, key = api_key_issue(name="docs", user=supervisor, scope="read", actor=None)
    portal.open("/api/docs/")
    title = portal.visible(".swagger-ui .info .title")
    assert "CreditOps API" in title.text
    operations = portal.find_all(".opblock-summary-path")
    paths = {operation.get_attribute("data-path") for operation in operations}
    assert {"/api/v1/payments/", "/api/v1/cases/{id}/timeline/", "/api/v1/notices/{id}/pdf/"} <= paths
    portal.screenshot("api-docs.png")

    portal.find(".btn.authorize").click()
    portal.fill(portal.visible(".auth-container input"), f"Api-Key {key}")
    portal.find(".auth-btn-wrapper .btn.modal-btn.auth.authorize").click()
    portal.find(".btn-done").click()
    portal.find("#operations-cases-cases_list .opblock-summary").click()
    portal.visible("#operations-cases-cases_list .try-out__btn").click()
    portal.find("#operations-cases-cases_list .execute").click()
    status = portal.visible("#operations-cases-cases_list .live-responses-table tbody .response-col_status")
    assert status.text.strip() == "200"
    assert portal.console_errors() == []
