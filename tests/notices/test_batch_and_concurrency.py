"""The notices the dunning ladder asks for (notices/services/batch.py, notices/tasks.py, notices/receivers.py):
the D+3 payment reminder, the plan confirmation sent when a plan is approved, the legal-referral letter
issued under the hold it starts, the nightly run's chain of tasks; and, on PostgreSQL, references that stay
gapless and unique when threads and processes issue side by side, and a crash between reserving a notice
and finishing it.
"""

import datetime
import threading
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django_q.models import Task

from creditops.core.dates import business_today
from creditops.core.models import ReferenceCounter
from dunning import tasks as dunning_tasks
from dunning.models import (
    Channel,
    CollectionCase,
    ContactAttempt,
    DunningAction,
    NoticeKind,
    PaymentPlan,
)
from dunning.services.approvals import approval_decide, plan_request
from dunning.services.dispatch import reminders_dispatch
from dunning.services.guardrails import ContactBlockedError, contact_decide
from dunning.services.run import dunning_run
from lending.models import Borrower
from lending.services import loan_create
from notices import tasks as notice_tasks
from notices.models import Notice, NoticeDelivery
from notices.services import delivery as delivery_service
from notices.services import issue as issue_module
from notices.services.batch import pending_notice_action_ids, pending_notices_issue, reserved_notices_finish
from notices.services.delivery import email_delivery_send
from notices.services.issue import notice_issue
from tests.dunning.conftest import DISBURSED_ON, FIRST_DUE
from tests.factories import BorrowerFactory
from tests.threads import Worker

from .conftest import pdf_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYTIME = datetime.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
D15 = FIRST_DUE + datetime.timedelta(days=15)  # 2026-03-02: the formal collection notice
Status = DunningAction.Status


def reference(number: int, year: int | None = None) -> str:
    """The notices batch issues as of today (business_today), so its references carry today's year."""
    return f"CN-{year or business_today().year}-{number:06d}"


def book_loans(product, borrowers) -> list:
    return [
        loan_create(borrower=borrower, product=product, principal_amount=Decimal("12000.00"), term_months=12,
                    disbursed_on=DISBURSED_ON, actor=None)
        for borrower in borrowers
    ]  # fmt: skip


def notice_actions(kind=NoticeKind.COLLECTION_NOTICE):
    return DunningAction.objects.filter(notice_kind=kind).order_by("pk")


@pytest.fixture
def send_email_in_daytime(monkeypatch):
    """The deliver_emails task sends with the real clock; make it send at a Shanghai daytime hour."""
    run = []

    def send(delivery_id, *, now=None):
        run.append(delivery_id)
        return delivery_service.email_delivery_send(delivery_id, now=DAYTIME)

    monkeypatch.setattr(notice_tasks, "email_delivery_send", send)
    return run


# ---------------------------------------------------------------------------------------------------------
# The D+3 e-mail reminder is a payment-reminder notice


@pytest.mark.django_db
def test_the_d3_email_reminder_is_issued_as_a_payment_reminder_notice_not_sent_by_dispatch(overdue_case, sms_outbox):
    borrower = BorrowerFactory(email="li.lei@example.com", preferred_language="en", name="Li Lei")
    case = overdue_case(days_past_due=3, borrower=borrower)
    action = case.actions.get(kind="email_reminder")
    assert (action.notice_kind, action.status) == (NoticeKind.PAYMENT_REMINDER, Status.PENDING)

    dispatched = reminders_dispatch(now=datetime.datetime.combine(case.opened_on, datetime.time(10), SHANGHAI))

    assert dispatched == {"sent": 0, "deferred": 0, "blocked": 0, "no_address": 0, "cancelled": 0}
    assert mail.outbox == [] and sms_outbox == []
    action.refresh_from_db()
    assert (action.status, action.result) == (Status.PENDING, "")
    assert pending_notice_action_ids() == [action.pk]

    counts = pending_notices_issue(workers=1)

    assert counts == Counter(resumed=0, issued=1)
    notice = Notice.objects.get()
    assert (notice.kind, notice.case, notice.action, notice.stage, notice.status, notice.language) == (
        NoticeKind.PAYMENT_REMINDER,
        case,
        action,
        action.stage,
        Notice.Status.ISSUED,
        "en",
    )
    assert notice.reference == reference(1)
    # Not a formal notice, and the borrower has an address: e-mail only, no letter.
    assert list(notice.deliveries.values_list("channel", "recipient", "status")) == [
        ("email", "li.lei@example.com", NoticeDelivery.Status.QUEUED)
    ]
    action.refresh_from_db()
    assert (action.status, action.result) == (Status.DONE, f"notice:{notice.reference}")
    assert action.completed_at == notice.issued_at
    # Done: neither the batch nor dispatch touches it again.
    assert pending_notices_issue(workers=1) == Counter(resumed=0)
    assert reminders_dispatch(now=DAYTIME)["sent"] == 0
    assert Notice.objects.count() == 1


@pytest.mark.django_db
def test_a_payment_reminder_for_a_borrower_without_an_email_goes_by_letter(overdue_case):
    case = overdue_case(days_past_due=3, borrower=BorrowerFactory(email="", address="朝阳路1号", city="北京市"))

    assert pending_notices_issue(workers=1) == Counter(resumed=0, issued=1)

    notice = Notice.objects.get(case=case)
    assert list(notice.deliveries.values_list("channel", "recipient")) == [("letter", "朝阳路1号 北京市")]


@pytest.mark.django_db
def test_a_notice_the_guardrail_refuses_is_not_issued_and_uses_no_reference(overdue_case):
    case = overdue_case(days_past_due=15)
    refused = case.actions.get(notice_kind=NoticeKind.COLLECTION_NOTICE)
    Borrower.objects.filter(pk=case.borrower_id).update(is_bankrupt=True)

    assert pending_notices_issue(workers=1) == Counter(resumed=0, refused=1)

    refused.refresh_from_db()
    assert (refused.status, refused.result) == (Status.BLOCKED, "contact.hold_bankruptcy")
    attempt = ContactAttempt.objects.get(case=case)
    assert (attempt.channel, attempt.decision, attempt.rule) == ("letter", "blocked", "contact.hold_bankruptcy")
    assert not Notice.objects.exists()
    # The next notice takes the first number: the refusal consumed none.
    other = overdue_case(days_past_due=16)
    assert pending_notices_issue(workers=1) == Counter(resumed=0, issued=1)
    assert Notice.objects.get(case=other).reference == reference(1)


# ---------------------------------------------------------------------------------------------------------
# Plan confirmation


@pytest.mark.django_db
def test_an_approved_plan_is_confirmed_by_one_notice_listing_its_instalments(
    overdue_case, collector, supervisor, send_email_in_daytime, django_capture_on_commit_callbacks
):
    borrower = BorrowerFactory(email="li.lei@example.com", preferred_language="en", name="Li Lei")
    case = overdue_case(days_past_due=10, borrower=borrower)
    first_due, second_due = (business_today() + datetime.timedelta(days=days) for days in (30, 60))
    plan = plan_request(
        case=case, installments=[(first_due, "500.00"), (second_due, "566.19")], reason="Lost his job", actor=collector
    )
    assert not Notice.objects.exists()  # a requested plan is not confirmed yet

    with django_capture_on_commit_callbacks(execute=True):
        approval_decide(approval=plan.approval, approve=True, reason="Income verified", actor=supervisor)

    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.ACTIVE
    notice = Notice.objects.get()
    assert (notice.kind, notice.plan, notice.case, notice.action, notice.status, notice.issued_by) == (
        NoticeKind.PLAN_CONFIRMATION,
        plan,
        case,
        None,
        Notice.Status.ISSUED,
        None,
    )
    assert notice.issued_on == business_today()
    # The performing plan pauses contact; its own confirmation is the exception.
    case.refresh_from_db()
    paused = contact_decide(case=case, channel=Channel.LETTER, at=DAYTIME)
    assert (paused.allowed, paused.rule) == (False, "contact.hold_payment_plan")
    assert notice.data["plan"] == {
        "starts_on": business_today().isoformat(),
        "installments": [
            {"sequence": 1, "due_date": first_due.isoformat(), "amount": "500.00"},
            {"sequence": 2, "due_date": second_due.isoformat(), "amount": "566.19"},
        ],
        "total": "1066.19",
        "first_amount": "500.00",
    }
    with notice.pdf.open("rb") as pdf:
        text = pdf_text(pdf.read())
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert f"1 {first_due.day} {first_due:%B %Y} 500.00" in lines, text
    assert f"2 {second_due.day} {second_due:%B %Y} 566.19" in lines, text
    assert "Total 1,066.19" in lines, text
    # Its e-mail went out on commit, under the plan's pause.
    by_email = notice.deliveries.get(channel="email")
    assert send_email_in_daytime == [by_email.pk]
    assert by_email.status == NoticeDelivery.Status.SENT
    [message] = mail.outbox
    assert message.to == ["li.lei@example.com"]
    assert [attachment.filename for attachment in message.attachments] == [f"{notice.reference}.pdf"]

    # A repeated task returns the notice already issued.
    assert notice_tasks.issue_plan_confirmation(plan.pk) == notice.reference
    assert Notice.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_rejected_plan_gets_no_confirmation(overdue_case, collector, supervisor, django_capture_on_commit_callbacks):
    case = overdue_case(days_past_due=10)
    due = business_today() + datetime.timedelta(days=30)
    plan = plan_request(case=case, installments=[(due, "1066.19")], reason="Hardship", actor=collector)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        approval_decide(approval=plan.approval, approve=False, reason="Not verified", actor=supervisor)

    assert callbacks == []
    assert not Notice.objects.exists()


# ---------------------------------------------------------------------------------------------------------
# Legal referral


@pytest.mark.django_db
def test_an_approved_legal_referral_is_issued_under_the_legal_hold_it_starts(overdue_case, supervisor):
    borrower = BorrowerFactory(email="zhang@example.com")
    case = overdue_case(days_past_due=95, borrower=borrower)
    approvals = {approval.kind: approval for approval in case.approvals.all()}
    legal, bureau = approvals["legal_referral"].action, approvals["credit_bureau_report"].action
    assert (legal.status, bureau.status) == (Status.AWAITING_APPROVAL, Status.AWAITING_APPROVAL)
    assert pending_notice_action_ids() == []  # nothing is issued before the decision

    approval_decide(approval=approvals["legal_referral"], approve=True, reason="Refuses to pay", actor=supervisor)
    approval_decide(approval=approvals["credit_bureau_report"], approve=False, reason="Hold it", actor=supervisor)

    case.refresh_from_db()
    assert case.legal_hold is True
    legal.refresh_from_db()
    assert (legal.status, legal.result) == (Status.PENDING, "approved")
    assert pending_notice_action_ids() == [legal.pk]

    assert pending_notices_issue(workers=1) == Counter(resumed=0, issued=1)

    notice = Notice.objects.get()
    assert (notice.kind, notice.action, notice.reference) == (NoticeKind.LEGAL_REFERRAL, legal, reference(1))
    legal.refresh_from_db()
    bureau.refresh_from_db()
    assert (legal.status, legal.result) == (Status.DONE, f"notice:{notice.reference}")
    assert bureau.status == Status.REJECTED
    assert sorted(notice.deliveries.values_list("channel", flat=True)) == ["email", "letter"]
    # The e-mail copy passes the legal hold too; no blocked contact is recorded.
    assert email_delivery_send(notice.deliveries.get(channel="email").pk, now=DAYTIME) == "sent"
    assert len(mail.outbox) == 1
    assert not ContactAttempt.objects.filter(case=case, decision="blocked").exists()


@pytest.mark.django_db
def test_another_notice_on_a_case_under_legal_hold_is_refused(overdue_case, supervisor):
    case = overdue_case(days_past_due=95)
    legal = case.approvals.get(kind="legal_referral")
    approval_decide(approval=legal, approve=True, reason="Refuses to pay", actor=supervisor)
    pending_notices_issue(workers=1)
    case.refresh_from_db()

    with pytest.raises(ContactBlockedError) as caught:
        notice_issue(case=case, kind=NoticeKind.FINAL_DEMAND, actor=None, issued_on=business_today())

    assert caught.value.code == "contact.hold_legal"
    assert list(Notice.objects.values_list("kind", flat=True)) == [NoticeKind.LEGAL_REFERRAL]


# ---------------------------------------------------------------------------------------------------------
# The nightly run's chain


@pytest.mark.django_db
def test_the_nightly_run_queues_the_notices_it_asked_for(team, cn_product, monkeypatch):
    [loan] = book_loans(cn_product, [BorrowerFactory(email="")])
    # The nightly task runs every date up to "today"; today is the loan's D+15 here.
    monkeypatch.setattr(dunning_tasks, "business_today", lambda: D15)

    done = dunning_tasks.nightly_run()

    assert list(done) == [D15.isoformat()]
    assert done[D15.isoformat()]["cases_opened"] == 1
    case = CollectionCase.objects.get(loan=loan)
    action = case.actions.get(notice_kind=NoticeKind.COLLECTION_NOTICE)
    notice = Notice.objects.get()
    assert (notice.kind, notice.case, notice.action, notice.status) == (
        NoticeKind.COLLECTION_NOTICE,
        case,
        action,
        Notice.Status.ISSUED,
    )
    assert list(notice.deliveries.values_list("channel", flat=True)) == ["letter"]
    action.refresh_from_db()
    assert action.status == Status.DONE
    # The two django-q2 tasks (run inline by the test settings) succeeded.
    chain = Task.objects.get(name="notices-after-nightly-run")
    assert (chain.success, chain.result) == (True, {"resumed": 0, "chunks": 1, "actions": 1})
    chunk = Task.objects.get(name=f"notices-{action.pk}-{action.pk}")
    assert (chunk.success, chunk.result) == (True, {"issued": 1})

    # The next night, nothing is issued twice.
    monkeypatch.setattr(dunning_tasks, "business_today", lambda: D15 + datetime.timedelta(days=1))
    dunning_tasks.nightly_run()
    assert Notice.objects.count() == 1


# ---------------------------------------------------------------------------------------------------------
# A crash between reserve and finish


@pytest.fixture
def renderer_crashing_once(monkeypatch):
    """notice_pdf raises on its first call (the worker died while rendering), then renders."""
    real, calls = issue_module.notice_pdf, []

    def render(data):
        calls.append(data["reference"])
        if len(calls) == 1:
            raise RuntimeError("worker killed while rendering")
        return real(data)

    monkeypatch.setattr(issue_module, "notice_pdf", render)
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_notice_reserved_before_a_crash_is_finished_with_its_reference_and_the_next_takes_the_next_number(
    overdue_case, renderer_crashing_once
):
    case = overdue_case(days_past_due=15)
    action = case.actions.get(notice_kind=NoticeKind.COLLECTION_NOTICE)

    with pytest.raises(RuntimeError):
        notice_issue(case=case, kind=NoticeKind.COLLECTION_NOTICE, actor=None, action=action, issued_on=D15)

    reserved = Notice.objects.get()
    assert (reserved.status, reserved.reference, reserved.pdf.name, reserved.sha256) == (
        Notice.Status.RESERVED,
        "CN-2026-000001",
        "",
        "",
    )
    assert not reserved.deliveries.exists()
    action.refresh_from_db()
    assert action.status == Status.PENDING

    assert reserved_notices_finish() == 1

    notice = Notice.objects.get()
    assert (notice.pk, notice.reference, notice.status) == (reserved.pk, "CN-2026-000001", Notice.Status.ISSUED)
    assert (notice.data, notice.verification_code) == (reserved.data, reserved.verification_code)
    assert notice.sha256 and notice.pdf.name == "notices/2026/CN-2026-000001.pdf"
    assert list(notice.deliveries.values_list("channel", flat=True)) == ["letter"]
    action.refresh_from_db()
    assert (action.status, action.result) == (Status.DONE, "notice:CN-2026-000001")
    assert renderer_crashing_once == ["CN-2026-000001", "CN-2026-000001"]
    assert reserved_notices_finish() == 0

    other = overdue_case(days_past_due=16)
    following = notice_issue(case=other, kind=NoticeKind.COLLECTION_NOTICE, actor=None, issued_on=D15)
    assert following.reference == "CN-2026-000002"
    assert ReferenceCounter.objects.get(prefix="CN", year=2026).last_value == 2


@pytest.mark.django_db(transaction=True)
def test_a_notice_that_fails_to_render_is_resumed_later_and_stops_no_other_notice(overdue_case, renderer_crashing_once):
    overdue_case(days_past_due=15)
    overdue_case(days_past_due=16)
    first, second = notice_actions()

    # The first notice's render fails: it stays reserved with its reference; the second is issued.
    assert pending_notices_issue(workers=1) == Counter(resumed=0, failed=1, issued=1)
    crashed = Notice.objects.get(action=first)
    assert (crashed.status, crashed.reference) == (Notice.Status.RESERVED, reference(1))

    assert pending_notices_issue(workers=1) == Counter(resumed=1)

    assert list(Notice.objects.order_by("reference").values_list("action", "reference", "status")) == [
        (first.pk, reference(1), Notice.Status.ISSUED),
        (second.pk, reference(2), Notice.Status.ISSUED),
    ]
    assert set(notice_actions().values_list("status", flat=True)) == {Status.DONE}
    assert pending_notices_issue(workers=1) == Counter(resumed=0)


@pytest.mark.django_db
def test_a_hold_set_while_the_batch_renders_earlier_notices_stops_the_later_ones(overdue_case, monkeypatch):
    """Bug: notices_issue_for_actions loads the whole chunk's cases and borrowers up front, and notice_issue
    (_reserve) asks the guardrail about that in-memory case before it locks and reloads it, so a hold set
    meanwhile (here: the second borrower's bankruptcy, recorded while the first notice renders) is not
    seen and the notice is issued and sent to a borrower under the bankruptcy stay."""
    overdue_case(days_past_due=15)
    overdue_case(days_past_due=16)
    first, second = notice_actions()
    real = issue_module.notice_pdf

    def render(data):
        if data["reference"] == reference(1):
            Borrower.objects.filter(pk=second.case.borrower_id).update(is_bankrupt=True)
        return real(data)

    monkeypatch.setattr(issue_module, "notice_pdf", render)

    assert pending_notices_issue(workers=1) == Counter(resumed=0, issued=1, refused=1)

    assert list(Notice.objects.values_list("action", flat=True)) == [first.pk]
    second.refresh_from_db()
    assert (second.status, second.result) == (Status.BLOCKED, "contact.hold_bankruptcy")


# ---------------------------------------------------------------------------------------------------------
# PostgreSQL: side by side


def run_side_by_side(calls: list) -> list:
    barrier = threading.Barrier(len(calls))
    workers = [Worker(f"worker-{number}", call, barrier) for number, call in enumerate(calls)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
        assert not worker.is_alive(), f"{worker.name} hung"
    results = [worker.result for worker in workers]
    assert not any(isinstance(result, BaseException) for result in results), results
    return results


def cases_at_d15(product, count: int, with_email=lambda number: False) -> list[CollectionCase]:
    borrowers = [
        BorrowerFactory(email=f"borrower{number}@example.com" if with_email(number) else "") for number in range(count)
    ]
    book_loans(product, borrowers)
    dunning_run(as_of=D15)
    return list(CollectionCase.objects.order_by("pk"))


def issue_for(actions):
    def call():
        return [
            notice_issue(case=action.case, kind=action.notice_kind, actor=None, action=action, issued_on=D15).reference
            for action in actions
        ]

    return call


@pytest.mark.django_db(transaction=True)
def test_four_threads_issuing_at_once_take_gapless_unique_references(on_postgres, team, cn_product):
    cases = cases_at_d15(cn_product, 12)
    actions = list(notice_actions().select_related("case__loan__product", "case__borrower"))
    assert len(actions) == 12

    results = run_side_by_side([issue_for(actions[start::4]) for start in range(4)])

    issued = [ref for refs in results for ref in refs]
    assert sorted(issued) == [reference(number, 2026) for number in range(1, 13)]
    assert Notice.objects.filter(status=Notice.Status.ISSUED).count() == 12
    assert sorted(Notice.objects.values_list("case", flat=True)) == [case.pk for case in cases]
    assert ReferenceCounter.objects.get(prefix="CN", year=2026).last_value == 12
    assert set(notice_actions().values_list("status", flat=True)) == {Status.DONE}
    for notice in Notice.objects.select_related("action"):
        assert notice.action.result == f"notice:{notice.reference}"


@pytest.mark.django_db(transaction=True)
def test_two_threads_issuing_the_same_actions_issue_each_notice_once_without_a_gap(on_postgres, team, cn_product):
    cases_at_d15(cn_product, 6)
    actions = list(notice_actions().select_related("case__loan__product", "case__borrower"))

    results = run_side_by_side([issue_for(actions), issue_for(list(reversed(actions)))])

    # Both workers get the same notice for each action.
    first, second = results
    assert first == list(reversed(second))
    assert sorted(first) == [reference(number, 2026) for number in range(1, 7)]
    assert Notice.objects.count() == 6
    assert NoticeDelivery.objects.count() == 6  # one letter each, never two
    assert ReferenceCounter.objects.get(prefix="CN", year=2026).last_value == 6


@pytest.mark.django_db(transaction=True)
def test_the_batch_on_two_processes_issues_each_pending_notice_once(on_postgres, team, cn_product):
    cases_at_d15(cn_product, 10, with_email=lambda number: number % 2 == 0)
    actions = list(notice_actions())
    assert len(actions) == 10 and pending_notice_action_ids() == [action.pk for action in actions]

    counts = pending_notices_issue(workers=2, chunk_size=3)

    assert counts == Counter(resumed=0, issued=10)
    notices = list(Notice.objects.select_related("action", "borrower").order_by("reference"))
    assert [notice.reference for notice in notices] == [reference(number) for number in range(1, 11)]
    assert sorted(notice.action_id for notice in notices) == [action.pk for action in actions]
    assert {notice.status for notice in notices} == {Notice.Status.ISSUED}
    for notice in notices:
        assert notice.action.status == Status.DONE
        assert notice.action.result == f"notice:{notice.reference}"
        letter = ("letter", f"{notice.borrower.address} 北京市")
        expected = [("email", notice.borrower.email), letter] if notice.borrower.email else [letter]
        assert sorted(notice.deliveries.values_list("channel", "recipient")) == expected
        with notice.pdf.open("rb") as pdf:
            assert pdf.read().startswith(b"%PDF-")
    assert NoticeDelivery.objects.count() == 15
    assert ReferenceCounter.objects.get(prefix="CN", year=business_today().year).last_value == 10
    assert pending_notice_action_ids() == []
    assert pending_notices_issue(workers=2, chunk_size=3) == Counter(resumed=0)


class HeldBackend(locmem.EmailBackend):
    """A mail server that holds each message until the test releases it."""

    entered = threading.Event()
    release = threading.Event()

    def send_messages(self, messages):
        HeldBackend.entered.set()
        HeldBackend.release.wait(timeout=30)
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)
def test_a_second_task_for_an_email_being_sent_sends_nothing(on_postgres, team, cn_product, settings, monkeypatch):
    [case] = cases_at_d15(cn_product, 1, with_email=lambda number: True)
    monkeypatch.setattr(issue_module, "emails_queue", lambda delivery_ids: None)  # the test sends it itself
    notice = notice_issue(case=case, kind=NoticeKind.COLLECTION_NOTICE, actor=None, issued_on=D15)
    by_email = notice.deliveries.get(channel="email")
    HeldBackend.entered.clear()
    HeldBackend.release.clear()
    settings.EMAIL_BACKEND = f"{__name__}.HeldBackend"
    first = Worker("first", lambda: email_delivery_send(by_email.pk, now=DAYTIME), threading.Barrier(1))
    first.start()
    assert HeldBackend.entered.wait(timeout=30), "the first task never reached the mail server"

    # While the first task's message is on its way, a retried task and the sweep leave it alone.
    second = email_delivery_send(by_email.pk, now=DAYTIME)
    swept = delivery_service.email_deliveries_due(now=DAYTIME)
    HeldBackend.release.set()
    first.join(timeout=60)

    assert (first.result, second, swept) == ("sent", "already sending", {})
    assert len(mail.outbox) == 1
    by_email.refresh_from_db()
    assert (by_email.status, by_email.attempts) == (NoticeDelivery.Status.SENT, 1)


def test_the_batch_queues_one_email_task_per_chunk_with_that_chunks_email_deliveries(
    team, cn_product, monkeypatch, django_capture_on_commit_callbacks
):
    cases_at_d15(cn_product, 5, with_email=lambda number: number != 2)  # the third borrower has no e-mail
    queued = []
    monkeypatch.setattr("notices.services.batch.emails_queue", queued.append)

    with django_capture_on_commit_callbacks(execute=True):
        counts = pending_notices_issue(workers=1, chunk_size=3)

    assert counts["issued"] == 5
    emails = NoticeDelivery.objects.filter(channel="email").order_by("notice__action_id")
    by_chunk = [[d.pk for d in emails if d.notice.action_id in chunk] for chunk in chunked_action_ids(3)]
    assert queued == by_chunk
    assert [len(ids) for ids in queued] == [2, 2]  # 3 actions (one borrower without e-mail), then 2
    assert set(emails.values_list("status", flat=True)) == {NoticeDelivery.Status.QUEUED}


def chunked_action_ids(size: int) -> list[list[int]]:
    ids = sorted(Notice.objects.values_list("action_id", flat=True))
    return [ids[start : start + size] for start in range(0, len(ids), size)]
