"""Waivers, settlements, restructurings, write-offs and their undo asked for on a case and carried out by
a supervisor's approval (dunning/services/approvals.py → arrangements.py → the ledger's services), and
what each does to the case: its status, its timeline and the nightly run."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from creditops.core.dates import add_months, business_today
from dunning.models import ApprovalRequest, CaseEvent, CaseStatus, CloseReason, CollectionCase
from dunning.services.approvals import (
    approval_decide,
    approval_request,
    restructure_request,
    settlement_request,
    waiver_request,
    write_off_undo_request,
)
from dunning.services.run import dunning_run
from lending.adjustments import part_owed
from lending.models import LedgerEntry, Loan, Settlement
from lending.services import payment_post
from lending.settlements import loan_owed_amount, settlements_lapse
from tests.dunning.conftest import FIRST_DUE

from .test_approvals_and_plans import refusal

pytestmark = pytest.mark.django_db

Event = CaseEvent.Kind
TODAY = business_today()


@pytest.fixture
def case(overdue_case):
    return overdue_case(days_past_due=10)


def approve(approval, supervisor):
    return approval_decide(approval=approval, approve=True, reason="ok", actor=supervisor)


def pay(loan, amount, ref):
    payment_post(
        loan=loan, source="bank", external_ref=ref, amount=Decimal(amount), received_on=TODAY,
        channel="bank_transfer",
    )  # fmt: skip


def test_a_waiver_is_asked_for_then_posted_by_the_approval(case, collector, supervisor):
    approval = waiver_request(case=case, component="interest", amount="50.00", reason="goodwill", actor=collector)
    owed = str(part_owed(case.loan, "interest"))
    assert (approval.kind, approval.amount) == ("waiver", Decimal("50.00"))
    assert approval.terms == {"component": "interest", "owed": owed}  # the decider sees how much is owed
    assert not LedgerEntry.objects.exists()  # nothing until someone else approves
    assert refusal(approval_decide, approval=approval, approve=True, reason="x", actor=collector).code == (
        "approval.own_request"
    )
    approve(approval, supervisor)
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.component, entry.amount, entry.authority) == (
        "waiver", "interest", Decimal("50.00"), f"approval {approval.pk}"
    )  # fmt: skip
    assert case.events.filter(kind=Event.LEDGER_ENTRY, detail__kind="waiver").exists()


def test_a_waiver_larger_than_what_is_owed_is_refused_when_asked(case, collector):
    error = refusal(waiver_request, case=case, component="penalty", amount="1.00", reason="x", actor=collector)
    assert error.code == "waiver.exceeds_owed"  # the product charges no penalty: nothing to waive
    assert not ApprovalRequest.objects.exists()


def test_an_approved_settlement_pauses_the_case_and_paying_it_closes_it(case, collector, supervisor):
    owed = loan_owed_amount(case.loan)
    approval = settlement_request(
        case=case, amount="6000.00", deadline=TODAY + datetime.timedelta(days=10), reason="lump sum", actor=collector
    )
    approve(approval, supervisor)
    case.refresh_from_db()
    assert case.status == CaseStatus.SETTLING and case.is_paused
    pay(case.loan, "6000.00", "SET-1")
    case.refresh_from_db()
    loan = Loan.objects.get(pk=case.loan_id)
    assert loan.status == Loan.Status.SETTLED_WITH_DISCOUNT
    assert LedgerEntry.objects.get(kind="settlement_discount").amount == owed - Decimal("6000.00")
    assert (case.is_open, case.close_reason) == (False, CloseReason.SETTLED_WITH_DISCOUNT)
    assert case.events.filter(kind=Event.SETTLEMENT_ENDED, detail__status="settled").exists()


def test_a_lapsed_settlement_puts_the_case_back_on_the_ladder(case, collector, supervisor):
    deadline = TODAY + datetime.timedelta(days=3)
    approve(settlement_request(case=case, amount="6000.00", deadline=deadline, reason="x", actor=collector), supervisor)
    assert settlements_lapse(as_of=deadline + datetime.timedelta(days=1)) == 1
    case.refresh_from_db()
    assert case.is_open and case.status == CaseStatus.OPEN
    assert Settlement.objects.get().status == Settlement.Status.LAPSED
    assert case.events.filter(kind=Event.SETTLEMENT_ENDED, detail__reason="deadline_passed").exists()


def test_an_approved_restructuring_closes_the_case(case, collector, supervisor):
    approval = restructure_request(
        case=case, method="capitalise", term_months=24, first_due_date=add_months(TODAY, 1), reason="x",
        actor=collector,
    )  # fmt: skip
    approve(approval, supervisor)
    case.refresh_from_db()
    assert (case.is_open, case.close_reason) == (False, CloseReason.RESTRUCTURED)
    loan = Loan.objects.get(pk=case.loan_id)
    assert (loan.restructure_count, loan.days_past_due, loan.status) == (1, 0, Loan.Status.ACTIVE)


def test_a_written_off_case_is_worked_in_recovery_undone_or_closed_when_recovered(case, collector, supervisor):
    approve(approval_request(case=case, kind="write_off", reason="x", actor=collector), supervisor)
    loan = Loan.objects.get(pk=case.loan_id)
    dunning_run(as_of=FIRST_DUE + datetime.timedelta(days=11))
    case.refresh_from_db()
    assert (case.is_open, case.status, case.overdue_amount) == (True, CaseStatus.RECOVERY, loan.written_off_amount)
    approve(write_off_undo_request(case=case, reason="wrong loan", actor=collector), supervisor)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and Loan.objects.get(pk=loan.pk).status == Loan.Status.ACTIVE
    approve(approval_request(case=case, kind="write_off", reason="x", actor=collector), supervisor)
    loan.refresh_from_db()
    pay(loan, loan.written_off_amount, "REC-1")  # everything recovered
    dunning_run(as_of=FIRST_DUE + datetime.timedelta(days=12))
    case = CollectionCase.objects.get(pk=case.pk)
    assert (case.is_open, case.close_reason) == (False, CloseReason.RECOVERED)


def test_the_workspace_forms_ask_for_each_and_refuse_bad_terms_keeping_nothing(client, case, collector):
    client.force_login(collector)
    url = reverse("cases:action", args=[case.pk, "settlement"])
    page = client.post(
        url,
        {"settlement-amount": "999999.00", "settlement-deadline": (TODAY + datetime.timedelta(days=5)).isoformat(),
         "settlement-instalments": "1", "settlement-reason": "x"},
        follow=True, HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip
    assert "a settlement agrees less than that" in page.content.decode()
    assert not ApprovalRequest.objects.exists()
    client.post(
        reverse("cases:action", args=[case.pk, "restructure"]),
        {"restructure-method": "carry_to_end", "restructure-term_months": "12",
         "restructure-first_due_date": add_months(TODAY, 1).isoformat(), "restructure-reason": "hardship"},
    )  # fmt: skip
    approval = ApprovalRequest.objects.get()
    assert (approval.kind, approval.terms["method"]) == ("restructure", "carry_to_end")
    assert approval.terms["term_months"] == 12
    page = client.get(reverse("cases:detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert "Arrears carried to the last instalment; 12 months from" in page.content.decode()
