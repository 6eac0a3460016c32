"""Rules the workspace relies on, each enforced in a service or selector rather than in a screen."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, Team
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from creditops.core.spreadsheets import spreadsheet_safe
from dunning.models import ApprovalRequest, CaseEvent, ContactAttempt, PromiseToPay
from dunning.services.approvals import approval_decide, approval_request
from dunning.services.cases import cases_reassign, contact_attempt_log
from lending.models import BorrowerContact
from notices.models import Notice
from notices.services.issue import notice_issue
from tests.factories import AWAKE_HOURS, BorrowerFactory, time_zone_where_local_hour_is

from .conftest import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def awake_case(overdue_case):
    return overdue_case(20, borrower=BorrowerFactory(time_zone=time_zone_where_local_hour_is(AWAKE_HOURS)))


def test_a_call_whose_promise_is_invalid_records_neither(awake_case):
    yesterday = business_today() - datetime.timedelta(days=1)
    with pytest.raises(DomainError) as refused:
        contact_attempt_log(
            case=awake_case, channel="call", outcome="promise_to_pay", actor=awake_case.assigned_to,
            promise=("100.00", yesterday),
        )  # fmt: skip
    assert refused.value.code == "promise.date_past"
    assert not ContactAttempt.objects.filter(case=awake_case).exists()
    assert not PromiseToPay.objects.filter(case=awake_case).exists()


def test_a_call_with_a_promise_records_both_linked(awake_case):
    pay_by = business_today() + datetime.timedelta(days=3)
    attempt = contact_attempt_log(
        case=awake_case, channel="call", outcome="promise_to_pay", actor=awake_case.assigned_to,
        promise=("250.00", pay_by),
    )  # fmt: skip
    assert PromiseToPay.objects.get(case=awake_case).contact == attempt


@pytest.mark.parametrize(("notice_kind", "approval_kind"), [
    ("legal_referral", "legal_referral"), ("credit_reporting", "credit_bureau_report"),
])  # fmt: skip
def test_a_legal_or_credit_notice_by_hand_needs_an_approval_first(awake_case, supervisor, notice_kind, approval_kind):
    collector = awake_case.assigned_to
    with pytest.raises(DomainError) as refused:
        notice_issue(case=awake_case, kind=notice_kind, actor=collector)
    assert refused.value.code == "notice.approval_missing"
    assert not Notice.objects.filter(case=awake_case).exists()
    approval = approval_request(case=awake_case, kind=approval_kind, actor=collector, reason="两个月失联")
    approval_decide(approval=approval, approve=True, reason="同意", actor=supervisor)
    assert notice_issue(case=awake_case, kind=notice_kind, actor=collector).kind == notice_kind


def test_malformed_ids_in_urls_answer_404_or_are_ignored_never_500(client, awake_case, supervisor):
    client.force_login(awake_case.assigned_to)
    for field in ("phone-abc", "phone-1.5", "phone-²", "phone-99999999999999999999"):
        assert client.post(reverse("cases:reveal", args=[awake_case.pk, field])).status_code == 404
    assert client.get(reverse("cases:worklist"), {"after": "²:1"}).status_code == 200
    client.force_login(supervisor)
    assert client.get(reverse("cases:team_queue"), {"collector": "²"}).status_code == 200
    assert client.get(reverse("cases:team_queue"), {"collector": "99999999999999999999"}).status_code == 200


def test_a_supervisor_cannot_attach_a_contact_to_another_teams_borrower(client, awake_case, supervisor):
    outsider = BorrowerFactory()
    client.force_login(supervisor)
    form = {"borrower": outsider.pk, "relation": "spouse", "name": "王五", "phone": "+8613900000009"}
    response = client.post(reverse("admin:lending_borrowercontact_add"), form)
    assert response.status_code == 200  # the form again, with the borrower refused
    assert not BorrowerContact.objects.filter(borrower=outsider).exists()


def test_opening_a_contact_in_the_admin_is_an_audited_view_of_personal_data(client, awake_case):
    contact = awake_case.borrower.contacts.create(relation="spouse", name="李四", phone="+8613900000001")
    client.force_login(awake_case.assigned_to)
    response = client.get(reverse("admin:lending_borrowercontact_change", args=[contact.pk]))
    assert response.status_code == 200
    event = AuditEvent.objects.get(event="personal_data.viewed")
    assert (event.subject_type, event.subject_id) == ("lending.borrowercontact", str(contact.pk))


def test_bulk_reassignment_costs_the_same_statements_for_one_case_or_five(overdue_cases, supervisor, collector):
    cases = overdue_cases(12)
    team = Team.objects.get(name="Team A")
    newcomer = staff("col3", "Collector")
    team.members.add(newcomer)
    counts = []
    for batch in (cases[:1], cases[1:6]):
        actor = type(supervisor).objects.get(pk=supervisor.pk)  # a request's own user: roles not read yet
        with CaptureQueriesContext(connection) as queries:
            assert cases_reassign(case_ids=[case.pk for case in batch], collector=newcomer, actor=actor) == len(batch)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert CaseEvent.objects.filter(kind="assigned", actor=supervisor).count() == 6
    assert AuditEvent.objects.filter(event="case.assigned", actor=supervisor).count() == 6


def test_a_collector_cannot_decide_an_approval_even_by_posting_to_it(awake_case, client):
    approval_request(case=awake_case, kind="legal_referral", actor=awake_case.assigned_to, reason="失联")
    approval = ApprovalRequest.objects.get(case=awake_case, kind="legal_referral")
    client.force_login(awake_case.assigned_to)
    decision = {"approvals": [approval.pk], "decision": "approve", "reason": "x"}
    response = client.post(reverse("cases:approvals"), decision)
    assert response.status_code == 403  # collectors decide nothing
    approval.refresh_from_db()
    assert approval.status == ApprovalRequest.Status.PENDING


@pytest.mark.parametrize(("cell", "safe"), [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+86 138", "'+86 138"), ("-1", "'-1"), ("@sum", "'@sum"),
    ("张三", "张三"), (42, 42),
])  # fmt: skip
def test_csv_cells_a_spreadsheet_would_run_are_opened_as_text(cell, safe):
    assert spreadsheet_safe(cell) == safe
