"""Automatic reminders: the run creates SMS and e-mail reminder actions; reminders_dispatch sends each one
once, through the guardrail, in the borrower's language, and records what happened."""

import datetime
import zoneinfo

import pytest
from django.core import mail

from dunning.models import ContactAttempt, DunningAction, DunningPolicy, DunningStage, StageAction
from dunning.services.dispatch import reminders_dispatch
from dunning.services.run import dunning_run
from lending.models import Product
from lending.services import loan_create, payment_post
from tests.dunning.conftest import DISBURSED_ON
from tests.factories import BorrowerFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def shanghai(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=SHANGHAI)


def _action(case, kind):
    return DunningAction.objects.get(case=case, kind=kind)


@pytest.fixture
def plain_email_reminders(db):
    """The default D+3 e-mail reminder issues a payment-reminder notice (tests/notices); without a notice
    kind it is a plain e-mail, sent here."""
    StageAction.objects.filter(kind="email_reminder").update(notice_kind="")


def test_a_reminder_is_sent_once_even_when_dispatch_runs_again(
    overdue_case, sms_outbox, django_capture_on_commit_callbacks
):
    case = overdue_case(days_past_due=1)
    with django_capture_on_commit_callbacks(execute=True):
        first = reminders_dispatch(now=shanghai(case.opened_on, 10))
    with django_capture_on_commit_callbacks(execute=True):
        second = reminders_dispatch(now=shanghai(case.opened_on, 11))
    assert first == {"sent": 1, "deferred": 0, "blocked": 0, "no_address": 0, "cancelled": 0}
    assert second == {"sent": 0, "deferred": 0, "blocked": 0, "no_address": 0, "cancelled": 0}
    assert len(sms_outbox) == 1
    assert "逾期" in sms_outbox[0].text  # the borrower's language (zh-hans by default)
    assert ContactAttempt.objects.filter(case=case, decision="allowed").count() == 1


def test_a_borrower_on_hold_gets_no_reminder_and_the_action_says_why(
    overdue_case, sms_outbox, django_capture_on_commit_callbacks
):
    case = overdue_case(days_past_due=1, borrower=BorrowerFactory(cease_communication=True))
    with django_capture_on_commit_callbacks(execute=True):
        counts = reminders_dispatch(now=shanghai(case.opened_on, 10))
    assert counts == {"sent": 0, "deferred": 0, "blocked": 1, "no_address": 0, "cancelled": 0}
    assert sms_outbox == []
    action = _action(case, "sms_reminder")
    assert (action.status, action.result) == (DunningAction.Status.BLOCKED, "contact.hold_cease_communication")
    attempt = ContactAttempt.objects.get(case=case)
    assert (attempt.decision, attempt.rule) == ("blocked", "contact.hold_cease_communication")


def test_an_email_reminder_goes_out_in_english_to_an_english_speaking_borrower(
    plain_email_reminders, overdue_case, django_capture_on_commit_callbacks
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


def test_an_email_reminder_for_a_borrower_without_an_address_is_closed_without_contact(
    plain_email_reminders, overdue_case
):
    case = overdue_case(days_past_due=3, borrower=BorrowerFactory(email=""))
    counts = reminders_dispatch(now=shanghai(case.opened_on, 10))
    assert counts == {"sent": 0, "deferred": 0, "blocked": 0, "no_address": 1, "cancelled": 0}
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
    assert sms_outbox[0].phone == borrower.phone
    assert "falls due on 2026-02-15" in sms_outbox[0].text


def _pre_due_loan(cn_product, **borrower):
    stage = DunningStage.objects.create(
        policy=DunningPolicy.objects.get(is_default=True), name="到期提醒 Pre-due", start_dpd=-3
    )
    StageAction.objects.create(stage=stage, kind="sms_reminder")
    loan = loan_create(borrower=BorrowerFactory(**borrower), product=cn_product, principal_amount="6000.00",
                       term_months=6, disbursed_on=DISBURSED_ON)  # fmt: skip
    dunning_run(as_of=datetime.date(2026, 2, 12))
    return loan, DunningAction.objects.get(stage=stage, loan=loan)


def test_a_pre_due_reminder_passes_the_guardrail_and_waits_for_daytime(team, cn_product, sms_outbox):
    loan, action = _pre_due_loan(cn_product)
    night = shanghai(datetime.date(2026, 2, 12), 2)
    assert reminders_dispatch(now=night)["deferred"] == 1
    assert reminders_dispatch(now=night + datetime.timedelta(hours=1))["deferred"] == 1
    # The deferral is recorded once, with its rule, however many passes wait.
    [attempt] = ContactAttempt.objects.filter(loan=loan)
    assert (attempt.case, attempt.decision, attempt.rule) == (None, "blocked", "contact.quiet_hours")
    action.refresh_from_db()
    assert (action.status, action.result) == (DunningAction.Status.PENDING, "deferred:contact.quiet_hours")
    assert sms_outbox == []


def test_a_pre_due_reminder_for_an_installment_paid_meanwhile_is_cancelled(team, cn_product, sms_outbox):
    loan, action = _pre_due_loan(cn_product)
    installment = loan.installments.get(sequence=1)
    payment_post(loan=loan, source="bank", external_ref="early-1", amount=installment.outstanding_amount,
                 received_on=datetime.date(2026, 2, 12), channel="bank_transfer")  # fmt: skip
    assert reminders_dispatch(now=shanghai(datetime.date(2026, 2, 12), 10))["cancelled"] == 1
    action.refresh_from_db()
    assert (action.status, action.result) == (DunningAction.Status.CANCELLED, "no_longer_due")
    assert sms_outbox == []


def test_a_product_without_a_profile_in_force_sends_nothing(overdue_case, sms_outbox):
    case = overdue_case(days_past_due=1)
    Product.objects.filter(pk=case.loan.product_id).update(guardrail_profile="XX")
    counts = reminders_dispatch(now=shanghai(case.opened_on, 10))
    assert counts["blocked"] == 1
    assert _action(case, "sms_reminder").result == "contact.no_profile"
    assert sms_outbox == []
