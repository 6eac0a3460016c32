"""Automatic reminders: the run creates SMS and e-mail reminder actions; reminders_dispatch sends each one
once, through the guardrail, in the borrower's language, and records what happened."""

import datetime
import zoneinfo

import pytest
from django.core import mail

from dunning import sms
from dunning.models import ContactAttempt, DunningAction, DunningPolicy, DunningStage, StageAction
from dunning.services.dispatch import reminders_dispatch
from dunning.services.run import dunning_run
from lending.services import loan_create
from tests.dunning.conftest import DISBURSED_ON
from tests.factories import BorrowerFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def shanghai(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=SHANGHAI)


@pytest.fixture
def sms_outbox():
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def _action(case, kind):
    return DunningAction.objects.get(case=case, kind=kind)


def test_a_reminder_is_sent_once_even_when_dispatch_runs_again(
    overdue_case, sms_outbox, django_capture_on_commit_callbacks
):
    case = overdue_case(days_past_due=1)
    with django_capture_on_commit_callbacks(execute=True):
        first = reminders_dispatch(now=shanghai(case.opened_on, 10))
    with django_capture_on_commit_callbacks(execute=True):
        second = reminders_dispatch(now=shanghai(case.opened_on, 11))
    assert first == {"sent": 1, "deferred": 0, "blocked": 0, "no_address": 0}
    assert second == {"sent": 0, "deferred": 0, "blocked": 0, "no_address": 0}
    assert len(sms_outbox) == 1
    assert "逾期" in sms_outbox[0]["text"]  # the borrower's language (zh-hans by default)
    assert ContactAttempt.objects.filter(case=case, decision="allowed").count() == 1


def test_a_borrower_on_hold_gets_no_reminder_and_the_action_says_why(
    overdue_case, sms_outbox, django_capture_on_commit_callbacks
):
    case = overdue_case(days_past_due=1, borrower=BorrowerFactory(cease_communication=True))
    with django_capture_on_commit_callbacks(execute=True):
        counts = reminders_dispatch(now=shanghai(case.opened_on, 10))
    assert counts == {"sent": 0, "deferred": 0, "blocked": 1, "no_address": 0}
    assert sms_outbox == []
    action = _action(case, "sms_reminder")
    assert (action.status, action.result) == (DunningAction.Status.BLOCKED, "contact.hold_cease_communication")
    attempt = ContactAttempt.objects.get(case=case)
    assert (attempt.decision, attempt.rule) == ("blocked", "contact.hold_cease_communication")


def test_an_email_reminder_goes_out_in_english_to_an_english_speaking_borrower(
    overdue_case, django_capture_on_commit_callbacks
):
    borrower = BorrowerFactory(email="li.lei@example.com", preferred_language="en", name="Li Lei")
    case = overdue_case(days_past_due=3, borrower=borrower)
    with django_capture_on_commit_callbacks(execute=True):
        counts = reminders_dispatch(now=shanghai(case.opened_on, 10))
    assert counts["sent"] == 1
    [message] = mail.outbox
    assert message.to == ["li.lei@example.com"]
    assert message.subject == f"Loan {case.loan.reference} is overdue"
    assert message.body.startswith(f"Dear Li Lei, loan {case.loan.reference} is 3 days overdue; ")
    assert _action(case, "email_reminder").status == DunningAction.Status.DONE


def test_an_email_reminder_for_a_borrower_without_an_address_is_closed_without_contact(overdue_case):
    case = overdue_case(days_past_due=3, borrower=BorrowerFactory(email=""))
    counts = reminders_dispatch(now=shanghai(case.opened_on, 10))
    assert counts == {"sent": 0, "deferred": 0, "blocked": 0, "no_address": 1}
    action = _action(case, "email_reminder")
    assert (action.status, action.result) == (DunningAction.Status.DONE, "no_email_address")
    assert not ContactAttempt.objects.filter(case=case).exists()


def test_a_pre_due_reminder_reaches_the_borrower_before_the_due_date(
    team, cn_product, sms_outbox, django_capture_on_commit_callbacks
):
    stage = DunningStage.objects.create(
        policy=DunningPolicy.objects.get(is_default=True), name="到期提醒 Pre-due", start_dpd=-3
    )
    StageAction.objects.create(stage=stage, kind="sms_reminder")
    borrower = BorrowerFactory(preferred_language="en")
    loan_create(borrower=borrower, product=cn_product, principal_amount="6000.00", term_months=6,
                disbursed_on=DISBURSED_ON)  # fmt: skip
    as_of = datetime.date(2026, 2, 12)  # the first installment falls due on 2026-02-15
    dunning_run(as_of=as_of)
    with django_capture_on_commit_callbacks(execute=True):
        counts = reminders_dispatch(now=shanghai(as_of, 10))
    assert counts["sent"] == 1
    assert sms_outbox[0]["phone"] == borrower.phone
    assert "falls due on 2026-02-15" in sms_outbox[0]["text"]
