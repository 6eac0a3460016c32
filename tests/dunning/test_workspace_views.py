"""The collector's worklist and case workspace, through Django's test client against the real services."""

import datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from accounts import roles
from accounts.models import AuditEvent
from creditops.core.dates import business_today
from dunning.models import CaseEvent, ContactAttempt, PromiseToPay
from notices.models import Notice
from tests.dunning.conftest import staff
from tests.factories import ASLEEP_HOURS, AWAKE_HOURS, BorrowerFactory, time_zone_where_local_hour_is

pytestmark = pytest.mark.django_db


@pytest.fixture
def awake_case(overdue_case):
    return overdue_case(20, borrower=BorrowerFactory(time_zone=time_zone_where_local_hour_is(AWAKE_HOURS)))


@pytest.fixture
def asleep_case(overdue_case):
    return overdue_case(20, borrower=BorrowerFactory(time_zone=time_zone_where_local_hour_is(ASLEEP_HOURS)))


def _as_assignee(client, case):
    client.force_login(case.assigned_to)
    return client


def test_the_worklist_lists_the_collectors_own_cases_by_priority_with_counts(client, overdue_cases, collector):
    cases = overdue_cases(4)
    mine = sorted(
        (case for case in cases if case.assigned_to == collector), key=lambda case: (-case.priority_score, case.pk)
    )
    client.force_login(collector)
    page = client.get(reverse("cases:worklist"))
    assert page.status_code == 200
    assert [case.pk for case in page.context["cases"]] == [case.pk for case in mine]
    assert page.context["counts"]["open"] == len(mine)
    assert page.context["counts"]["new_today"] == 0  # opened on the run's date, not today


def test_the_worklist_pages_by_cursor_without_counting(client, overdue_cases, collector, monkeypatch):
    monkeypatch.setattr("dunning.selectors.worklist.WORKLIST_PAGE_SIZE", 1)
    cases = overdue_cases(4)
    mine = [case.pk for case in cases if case.assigned_to == collector]
    client.force_login(collector)
    seen, after, pages = [], "", 0
    for _ in range(len(mine) + 1):
        page = client.get(reverse("cases:worklist"), {"after": after} if after else {})
        pages += 1
        assert len(page.context["cases"]) <= 1
        seen += [case.pk for case in page.context["cases"]]
        after = page.context["next_cursor"]
        if not after:
            break
    assert len(mine) >= 2 and pages == len(mine)
    assert seen == [
        case.pk
        for case in sorted(
            (case for case in cases if case.assigned_to == collector), key=lambda case: (-case.priority_score, case.pk)
        )
    ]


def test_a_quiet_hours_call_is_refused_in_plain_words_recorded_once_and_redirected(client, asleep_case):
    client = _as_assignee(client, asleep_case)
    response = client.post(
        reverse("cases:action", args=[asleep_case.pk, "contact"]),
        {
            "contact-channel": "call",
            "contact-target": "borrower",
            "contact-outcome": "reached",
            "contact-note": "早上再打",
        },
    )
    # Recorded (as blocked), so redirected: a refresh of the page that follows records nothing more.
    assert (response.status_code, response["Location"]) == (
        302, reverse("cases:detail", args=[asleep_case.pk]) + "#contact"
    )  # fmt: skip
    page = client.get(response["Location"]).content.decode()
    assert "Not allowed now" in page
    assert "Outside contact hours" in page  # the rule in words…
    assert "contact.quiet_hours" not in page  # …not its code
    assert "早上再打" in page  # what the collector typed is kept
    attempt = ContactAttempt.objects.get(case=asleep_case)
    assert attempt.decision == ContactAttempt.Decision.BLOCKED
    again = client.get(response["Location"]).content.decode()
    assert "Not allowed now" not in again  # shown once
    assert ContactAttempt.objects.filter(case=asleep_case).count() == 1


def test_a_reached_call_with_a_promise_records_both(client, awake_case):
    client = _as_assignee(client, awake_case)
    pay_by = business_today() + datetime.timedelta(days=5)
    response = client.post(
        reverse("cases:action", args=[awake_case.pk, "contact"]),
        {
            "contact-channel": "call", "contact-target": "borrower", "contact-outcome": "promise_to_pay",
            "contact-promise_amount": "500.00", "contact-promised_for": pay_by.isoformat(),
        },
    )  # fmt: skip
    assert response.status_code == 302
    attempt = ContactAttempt.objects.get(case=awake_case)
    promise = PromiseToPay.objects.get(case=awake_case)
    assert (attempt.decision, attempt.outcome) == (ContactAttempt.Decision.ALLOWED, "promise_to_pay")
    assert (promise.amount, promise.promised_for, promise.contact) == (Decimal("500.00"), pay_by, attempt)
    page = client.get(response["Location"]).content.decode()
    assert "Contact logged and promise to pay recorded." in page


def test_a_promise_outcome_without_amount_is_refused_and_nothing_is_recorded(client, awake_case):
    client = _as_assignee(client, awake_case)
    response = client.post(
        reverse("cases:action", args=[awake_case.pk, "contact"]),
        {"contact-channel": "call", "contact-target": "borrower", "contact-outcome": "promise_to_pay"},
    )
    assert response.status_code == 400
    assert "A promise to pay needs an amount and a date." in response.content.decode()
    assert not ContactAttempt.objects.filter(case=awake_case).exists()


def test_a_service_refusal_keeps_the_typed_values(client, awake_case):
    client = _as_assignee(client, awake_case)
    too_far = business_today() + datetime.timedelta(days=90)
    response = client.post(
        reverse("cases:action", args=[awake_case.pk, "promise"]),
        {"promise-promise_amount": "321.45", "promise-promised_for": too_far.isoformat()},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "A promise may be at most 30 days ahead." in page
    assert 'value="321.45"' in page
    assert not PromiseToPay.objects.filter(case=awake_case).exists()


def test_note_dispute_plan_and_escalation_forms_reach_their_services(client, awake_case):
    client = _as_assignee(client, awake_case)
    url = lambda name: reverse("cases:action", args=[awake_case.pk, name])  # noqa: E731
    assert client.post(url("note"), {"note-text": "借款人称下周发工资"}).status_code == 302
    first_due = business_today() + datetime.timedelta(days=10)
    plan = {"plan-installments": "3", "plan-first_due": first_due.isoformat(), "plan-frequency": "monthly",
            "plan-reason": "失业"}  # fmt: skip
    assert client.post(url("plan"), plan).status_code == 302
    escalate = {"escalate-kind": "legal_referral", "escalate-reason": "多次失联"}
    assert client.post(url("escalate"), escalate).status_code == 302
    assert client.post(url("dispute"), {"dispute-reason": "金额有误"}).status_code == 302
    kinds = set(CaseEvent.objects.filter(case=awake_case).values_list("kind", flat=True))
    assert {"note", "plan_requested", "approval_requested", "dispute_raised"} <= kinds
    plan = awake_case.plans.get()
    assert sum(row.amount for row in plan.installments.all()) == awake_case.loan.overdue_amount
    assert plan.installments.order_by("sequence").first().due_date == first_due


def test_issuing_a_notice_from_the_workspace_and_downloading_it(client, awake_case):
    client = _as_assignee(client, awake_case)
    url = reverse("cases:action", args=[awake_case.pk, "notice"])
    response = client.post(url, {"notice-kind": "collection_notice"})
    assert response.status_code == 302
    notice = Notice.objects.get(case=awake_case)
    page = client.get(response["Location"]).content.decode()
    download = reverse("notices:pdf", args=[notice.pk])
    assert download in page
    pdf = client.get(download)
    assert pdf.status_code == 200
    assert b"".join(pdf.streaming_content if pdf.streaming else [pdf.content]).startswith(b"%PDF")


def test_revealing_the_id_number_is_audited(client, awake_case):
    client = _as_assignee(client, awake_case)
    page = client.get(reverse("cases:detail", args=[awake_case.pk])).content.decode()
    assert awake_case.borrower.id_number not in page
    response = client.post(reverse("cases:reveal", args=[awake_case.pk, "id_number"]))
    assert response.status_code == 200
    assert awake_case.borrower.id_number in response.content.decode()
    event = AuditEvent.objects.get(event="personal_data.revealed")
    assert (event.actor, event.subject_id) == (awake_case.assigned_to, str(awake_case.borrower_id))
    assert event.detail == {"field": "id_number", "via": "workspace", "case": awake_case.pk}


def test_the_workspace_says_why_the_case_is_here_and_what_comes_next(client, awake_case):
    client = _as_assignee(client, awake_case)
    response = client.get(reverse("cases:detail", args=[awake_case.pk]))
    assert response.context["transition"].to_stage == awake_case.stage
    following = response.context["next_stage"]
    assert following.stage.start_dpd > awake_case.stage.start_dpd
    reached_on = awake_case.loan.oldest_overdue_due_date + datetime.timedelta(days=following.stage.start_dpd)
    assert following.expected_on == max(reached_on, business_today() + datetime.timedelta(days=1))
    assert following.expected_on.isoformat() in response.content.decode()


def test_another_collectors_case_answers_404_everywhere(client, awake_case, collector, other_collector):
    outsider = other_collector if awake_case.assigned_to == collector else collector
    client.force_login(outsider)
    assert client.get(reverse("cases:detail", args=[awake_case.pk])).status_code == 404
    for name in ("contact", "note", "notice"):
        assert client.post(reverse("cases:action", args=[awake_case.pk, name]), {}).status_code == 404
    assert client.post(reverse("cases:reveal", args=[awake_case.pk, "phone"])).status_code == 404
    assert not AuditEvent.objects.filter(event="personal_data.revealed").exists()


# The work forms: those open at once are on the page; the others come when their section is opened


def test_the_workspace_fills_in_the_forms_open_at_once_and_fetches_the_others_when_opened(client, awake_case):
    _as_assignee(client, awake_case)
    page = client.get(reverse("cases:detail", args=[awake_case.pk]) + "?from=bucket%3D1-30").content.decode()
    assert 'name="contact-outcome"' in page
    assert 'name="waiver-amount"' not in page
    waiver_url = reverse("cases:action", args=[awake_case.pk, "waiver"])
    assert f'hx-get="{waiver_url}?from=bucket%3D1-30"' in page  # the worklist travels with the form

    fetched = client.get(waiver_url, {"from": "bucket=1-30"}, HTTP_HX_REQUEST="true")
    form = fetched.content.decode()
    assert fetched.status_code == 200
    assert form.lstrip().startswith("<form") and "<html" not in form
    assert 'name="waiver-amount"' in form and 'name="csrfmiddlewaretoken"' in form
    assert f'action="{waiver_url}?from=bucket%3D1-30"' in form


def test_without_javascript_a_forms_link_shows_the_page_with_it_open(client, awake_case):
    _as_assignee(client, awake_case)
    page = client.get(reverse("cases:detail", args=[awake_case.pk]), {"open": "waiver"}).content.decode()
    assert 'name="waiver-amount"' in page
    assert '<details class="work" id="waiver" open' in page
    # A plain GET of the action URL (a reload) still goes back to the workspace.
    back = client.get(reverse("cases:action", args=[awake_case.pk, "waiver"]))
    assert back.status_code == 302 and back["Location"].startswith(reverse("cases:detail", args=[awake_case.pk]))


def test_a_reader_cannot_fetch_a_work_form(client, awake_case):
    client.force_login(staff("boss", roles.MANAGER))
    fetched = client.get(reverse("cases:action", args=[awake_case.pk, "waiver"]), HTTP_HX_REQUEST="true")
    assert fetched.status_code == 403
    unknown = client.get(reverse("cases:action", args=[awake_case.pk, "nosuch"]), HTTP_HX_REQUEST="true")
    assert unknown.status_code == 404


def test_a_form_asked_for_after_the_session_ended_sends_the_whole_window_to_sign_in(client, awake_case):
    """htmx would put the sign-in page inside the section; it is told to redirect the window instead."""
    url = reverse("cases:action", args=[awake_case.pk, "dispute"])
    fetched = client.get(url, HTTP_HX_REQUEST="true")
    sign_in = reverse("accounts:login") + "?" + urlencode({"next": url}, safe="/")
    assert (fetched.status_code, fetched["HX-Redirect"]) == (200, sign_in)
    assert fetched.content == b""
    plain = client.get(url)  # without htmx: the ordinary redirect
    assert (plain.status_code, plain["Location"]) == (302, sign_in)


def test_a_plain_get_of_a_form_that_does_not_exist_is_not_found(client, awake_case):
    _as_assignee(client, awake_case)
    assert client.get(reverse("cases:action", args=[awake_case.pk, "nosuch"])).status_code == 404
