"""E-mail delivery of issued notices (notices/services/delivery.py): one django-q2 task per e-mail, sent at
most once with the PDF attached, retried with back-off on a transient SMTP error, deferred in quiet hours,
blocked by a hold, cancelled on a closed case; bounces reported afterwards.

Deliveries are sent with an explicit `now` in the borrower's (Shanghai) daytime: the contact-hours rule
of the CN profile allows e-mail from 08:00 to 22:00 only.
"""

import datetime
import email
import email.policy
import hashlib
import io
import re
import smtplib
import socket
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command

from accounts.models import AuditEvent
from creditops.core.errors import DomainError
from dunning.models import CaseEvent, CloseReason, ContactAttempt, NoticeKind
from dunning.services.closing import case_close
from lending.models import Borrower
from notices import tasks
from notices.models import Notice, NoticeDelivery
from notices.services import delivery as delivery_service
from notices.services.delivery import email_bounce_record, email_deliveries_due, email_delivery_send
from notices.services.issue import notice_issue
from tests.dunning.conftest import FIRST_DUE
from tests.factories import BorrowerFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS_PAST_DUE = 15
RUN_DATE = FIRST_DUE + datetime.timedelta(days=DAYS_PAST_DUE)  # 2026-03-02: the D+15 collection notice
DAYTIME = datetime.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
LATE_EVENING = datetime.datetime(2026, 3, 2, 23, tzinfo=SHANGHAI)
Status = NoticeDelivery.Status


def minutes(count: int) -> datetime.timedelta:
    return datetime.timedelta(minutes=count)


class DisconnectingBackend(BaseEmailBackend):
    """A mail server that hangs up on every message (smtplib's transient error); keeps what it was given."""

    attempted: list = []

    def send_messages(self, email_messages):
        DisconnectingBackend.attempted.extend(email_messages)
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def disconnecting_backend(settings):
    DisconnectingBackend.attempted = []
    settings.EMAIL_BACKEND = f"{__name__}.DisconnectingBackend"
    return DisconnectingBackend


@pytest.fixture
def english_borrower(db):
    return BorrowerFactory(
        email="li.lei@example.com",
        preferred_language="en",
        name="Li Lei",
        address="88 Century Avenue",
        city="Shanghai",
        province="Shanghai",
    )


@pytest.fixture
def issue(overdue_case):
    """issue(borrower, days_past_due=15) → (notice, its e-mail delivery): a collection notice issued on the
    case's run date. The test's transaction never commits, so no e-mail task is queued: the test sends."""

    def make(borrower=None, kind=NoticeKind.COLLECTION_NOTICE, days_past_due=DAYS_PAST_DUE):
        borrower = borrower or BorrowerFactory(email="zhang@example.com")
        case = overdue_case(days_past_due=days_past_due, borrower=borrower)
        issued_on = FIRST_DUE + datetime.timedelta(days=days_past_due)
        notice = notice_issue(case=case, kind=kind, actor=None, issued_on=issued_on)
        return notice, notice.deliveries.get(channel=NoticeDelivery.Channel.EMAIL)

    return make


def reloaded(delivery: NoticeDelivery) -> NoticeDelivery:
    return NoticeDelivery.objects.get(pk=delivery.pk)


def stored_pdf(notice: Notice) -> bytes:
    with notice.pdf.open("rb") as pdf:
        return pdf.read()


# ---------------------------------------------------------------------------------------------------------
# Sent once, with the PDF


def test_issuing_queues_one_email_task_that_sends_the_notice_once_with_its_pdf(
    overdue_case, english_borrower, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.DEFAULT_FROM_EMAIL = "CreditOps Collections <collections@lender.example>"
    # The task sends with the real clock; run it at a Shanghai daytime hour whatever the time now.
    tasks_run = []

    def send_in_daytime(delivery_id, *, now=None):
        tasks_run.append(delivery_id)
        return delivery_service.email_delivery_send(delivery_id, now=DAYTIME)

    monkeypatch.setattr(tasks, "email_delivery_send", send_in_daytime)
    case = overdue_case(days_past_due=DAYS_PAST_DUE, borrower=english_borrower)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notice = notice_issue(case=case, kind=NoticeKind.COLLECTION_NOTICE, actor=None, issued_on=RUN_DATE)

    reference = notice.reference
    assert reference == "CN-2026-000001"
    # A formal notice goes by letter, with an e-mail copy to a borrower who has an address.
    assert sorted(notice.deliveries.values_list("channel", "recipient")) == [
        ("email", "li.lei@example.com"),
        ("letter", "88 Century Avenue Shanghai"),
    ]
    by_email = notice.deliveries.get(channel="email")
    assert len(callbacks) == 1
    assert tasks_run == [by_email.pk]

    [message] = mail.outbox
    assert message.to == ["li.lei@example.com"]
    assert message.from_email == "CreditOps Collections <collections@lender.example>"
    assert message.subject == f"Formal collection notice (催缴单), reference {reference}"
    assert message.body.startswith("Dear Li Lei,\n")
    assert f"Please find attached our Formal collection notice (催缴单) {reference} about loan" in message.body
    [(html, html_type)] = [(alternative.content, alternative.mimetype) for alternative in message.alternatives]
    assert html_type == "text/html"
    assert html.startswith("<!DOCTYPE html>") and f"{reference}" in html and "<p>Dear Li Lei,</p>" in html
    [attachment] = message.attachments
    assert (attachment.filename, attachment.mimetype) == (f"{reference}.pdf", "application/pdf")
    assert attachment.content.startswith(b"%PDF-")
    assert hashlib.sha256(attachment.content).hexdigest() == notice.sha256
    message_id = f"<notice-{reference}@lender.example>"
    assert message.extra_headers["Message-ID"] == message_id
    assert message.message()["Message-ID"] == message_id

    by_email.refresh_from_db()
    assert (by_email.status, by_email.attempts, by_email.message_id, by_email.status_reason) == (
        Status.SENT,
        1,
        message_id,
        "",
    )
    assert by_email.sent_at is not None
    assert list(notice.deliveries.filter(channel="letter").values_list("status", flat=True)) == [Status.QUEUED]
    sent_event = case.events.filter(kind=CaseEvent.Kind.NOTICE).order_by("pk").last()
    assert sent_event.detail == {"notice": reference, "delivery": by_email.pk, "channel": "email", "status": "sent"}

    # A retried task, and the hourly sweep, send nothing more.
    assert tasks.deliver_emails([by_email.pk]) == {"already sent": 1}
    assert email_delivery_send(by_email.pk, now=DAYTIME + minutes(1)) == "already sent"
    assert email_deliveries_due(now=DAYTIME + minutes(2)) == {}
    assert len(mail.outbox) == 1
    assert reloaded(by_email).attempts == 1


def test_a_chinese_speaking_borrowers_notice_email_is_written_in_chinese(issue):
    """Subject and body in the borrower's language: no English words around the reference."""
    notice, by_email = issue(BorrowerFactory(email="zhang@example.com", name="张三"))

    assert email_delivery_send(by_email.pk, now=DAYTIME) == "sent"

    [message] = mail.outbox
    assert message.subject.startswith("催缴单")
    assert notice.reference in message.subject
    assert not re.search(r"[A-Za-z]", message.subject.replace(notice.reference, "")), message.subject
    assert "张三" in message.body
    assert "Dear" not in message.body and "Please find attached" not in message.body, message.body


def test_a_borrowers_name_is_printed_as_written_in_the_plain_text_email(issue):
    """Bug: Django templates autoescape .txt templates too, so the text part of the e-mail (body.txt) shows
    HTML entities: "Dear O&#x27;Brien &amp; Sons,"."""
    borrower = BorrowerFactory(email="ob@example.com", preferred_language="en", name="O'Brien & Sons")
    _notice, by_email = issue(borrower)

    assert email_delivery_send(by_email.pk, now=DAYTIME) == "sent"

    [message] = mail.outbox
    assert message.body.startswith("Dear O'Brien & Sons,\n"), message.body[:40]


def test_a_delivery_left_sending_by_a_worker_that_died_is_never_sent_again_and_fails_after_an_hour(issue):
    _notice, by_email = issue()
    # The worker claimed the delivery (committed) and died before the message left, or after.
    NoticeDelivery.objects.filter(pk=by_email.pk).update(status=Status.SENDING, attempts=1, claimed_at=DAYTIME)

    assert email_deliveries_due(now=DAYTIME + minutes(59)) == {}
    assert email_delivery_send(by_email.pk, now=DAYTIME + minutes(59)) == "already sending"
    assert tasks.deliver_emails([by_email.pk]) == {"already sending": 1}
    assert reloaded(by_email).status == Status.SENDING

    # An hour after the claim the sweep fails it for a person to check; it is still never re-sent.
    assert email_deliveries_due(now=DAYTIME + minutes(61)) == {}
    assert mail.outbox == []
    stale = reloaded(by_email)
    assert (stale.status, stale.attempts) == (Status.FAILED, 1)
    assert "check the mail server's log" in stale.status_reason


class BrokenMessageBackend(BaseEmailBackend):
    """A backend that fails on something that is not the mail server's fault (bad data, a bug)."""

    def send_messages(self, email_messages):
        raise ValueError("header value contains a newline")


class RefusingRecipientBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({"zhang@example.com": (550, b"mailbox unavailable")})


@pytest.mark.parametrize(
    ("backend", "reason"),
    [("BrokenMessageBackend", "ValueError: header value"), ("RefusingRecipientBackend", "SMTPRecipientsRefused")],
)
def test_a_permanent_error_fails_the_email_with_the_reason_instead_of_leaving_it_sending(
    issue, settings, backend, reason
):
    _notice, by_email = issue()
    settings.EMAIL_BACKEND = f"{__name__}.{backend}"

    assert email_delivery_send(by_email.pk, now=DAYTIME) == "failed"

    failed = reloaded(by_email)
    assert (failed.status, failed.attempts) == (Status.FAILED, 1)
    assert failed.status_reason.startswith(reason)
    assert email_deliveries_due(now=DAYTIME + minutes(30)) == {}  # never retried


def test_a_sent_email_is_recorded_as_an_allowed_contact_on_the_case(issue):
    notice, by_email = issue()

    assert email_delivery_send(by_email.pk, now=DAYTIME) == "sent"

    [contact] = ContactAttempt.objects.filter(case=notice.case)
    assert (contact.channel, contact.decision, contact.outcome, contact.is_automatic) == (
        "email", "allowed", "sent", True,
    )  # fmt: skip
    assert contact.note == f"notice:{notice.reference}"
    notice.case.refresh_from_db()
    assert notice.case.last_contact_at == DAYTIME


def test_a_us_borrowers_notice_email_carries_the_opt_out_line_and_a_cn_borrowers_does_not(
    issue, us_product, overdue_case
):
    _cn_notice, cn_email = issue()
    us_case = overdue_case(days_past_due=20, product=us_product, borrower=BorrowerFactory(email="us@example.com"))
    us_notice = notice_issue(
        case=us_case, kind=NoticeKind.PAYMENT_REMINDER, actor=None, issued_on=FIRST_DUE + datetime.timedelta(days=20)
    )
    us_email = us_notice.deliveries.get(channel=NoticeDelivery.Channel.EMAIL)

    assert email_delivery_send(cn_email.pk, now=DAYTIME) == "sent"
    assert email_delivery_send(us_email.pk, now=DAYTIME) == "sent"

    cn_message, us_message = mail.outbox
    # The opt-out line (English or Chinese wording), not a bare keyword: a random verification code may
    # hold any two capitals.
    assert "reply STOP" not in cn_message.body and "回复 STOP" not in cn_message.body
    assert "STOP" in us_message.body  # the borrower's language (zh-hans here) carries the same instruction
    assert "STOP" in us_message.alternatives[0][0]


def test_only_email_deliveries_are_sent_by_the_email_task(issue):
    notice, _by_email = issue()
    letter = notice.deliveries.get(channel=NoticeDelivery.Channel.LETTER)

    assert email_delivery_send(letter.pk, now=DAYTIME) == "busy"
    assert mail.outbox == []
    assert reloaded(letter).status == Status.QUEUED


# ---------------------------------------------------------------------------------------------------------
# Transient failures: back-off, then failed


def test_a_disconnected_mail_server_puts_the_email_back_in_the_queue_for_five_minutes(
    issue, settings, disconnecting_backend
):
    notice, by_email = issue()

    assert email_delivery_send(by_email.pk, now=DAYTIME) == "retry"

    by_email = reloaded(by_email)
    assert (by_email.status, by_email.attempts, by_email.next_attempt_at, by_email.status_reason) == (
        Status.QUEUED,
        1,
        DAYTIME + minutes(5),
        "SMTPServerDisconnected: Connection unexpectedly closed",
    )
    assert by_email.sent_at is None
    assert len(disconnecting_backend.attempted) == 1

    # Before the back-off is over, nothing is tried.
    assert email_delivery_send(by_email.pk, now=DAYTIME + minutes(4)) == "not due"
    assert email_deliveries_due(now=DAYTIME + minutes(4)) == {}
    assert len(disconnecting_backend.attempted) == 1

    # The server is back: the next sweep sends it once, with the Message-ID of the first try.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert email_deliveries_due(now=DAYTIME + minutes(5)) == {"sent": 1}
    assert email_deliveries_due(now=DAYTIME + minutes(6)) == {}
    [message] = mail.outbox
    assert message.extra_headers["Message-ID"] == disconnecting_backend.attempted[0].extra_headers["Message-ID"]
    assert message.extra_headers["Message-ID"].startswith(f"<notice-{notice.reference}@")
    by_email = reloaded(by_email)
    assert (by_email.status, by_email.attempts, by_email.status_reason) == (Status.SENT, 2, "")


def test_after_the_last_attempt_the_email_is_failed_with_the_servers_error(issue, settings, disconnecting_backend):
    settings.NOTICES = {**settings.NOTICES, "EMAIL_MAX_ATTEMPTS": 5, "EMAIL_RETRY_MINUTES": 5}
    _notice, by_email = issue()
    now, outcomes, waits = DAYTIME, [], []

    for _attempt in range(5):
        outcomes.append(email_delivery_send(by_email.pk, now=now))
        next_attempt_at = reloaded(by_email).next_attempt_at
        if outcomes[-1] == "retry":
            waits.append(next_attempt_at - now)
            now = next_attempt_at

    assert outcomes == ["retry", "retry", "retry", "retry", "failed"]
    assert waits == [minutes(5), minutes(10), minutes(20), minutes(40)]  # doubling back-off
    by_email = reloaded(by_email)
    assert (by_email.status, by_email.attempts, by_email.status_reason) == (
        Status.FAILED,
        5,
        "SMTPServerDisconnected: Connection unexpectedly closed",
    )
    # Failed for good: no sweep tries it again, even with a working server.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert email_deliveries_due(now=now + datetime.timedelta(days=1)) == {}
    assert email_delivery_send(by_email.pk, now=now + datetime.timedelta(days=1)) == "already failed"
    assert len(disconnecting_backend.attempted) == 5
    assert mail.outbox == []


def test_a_smaller_email_max_attempts_fails_the_delivery_sooner(issue, settings, disconnecting_backend):
    settings.NOTICES = {**settings.NOTICES, "EMAIL_MAX_ATTEMPTS": 2, "EMAIL_RETRY_MINUTES": 1}
    _notice, by_email = issue()

    assert email_delivery_send(by_email.pk, now=DAYTIME) == "retry"
    assert reloaded(by_email).next_attempt_at == DAYTIME + minutes(1)
    assert email_delivery_send(by_email.pk, now=DAYTIME + minutes(1)) == "failed"
    assert (reloaded(by_email).status, reloaded(by_email).attempts) == (Status.FAILED, 2)


# ---------------------------------------------------------------------------------------------------------
# The guardrail: quiet hours, holds, closed cases


def test_at_night_the_email_is_deferred_by_an_hour_and_sent_in_the_morning(issue):
    _notice, by_email = issue()

    assert email_delivery_send(by_email.pk, now=LATE_EVENING) == "deferred"

    by_email = reloaded(by_email)
    assert (by_email.status, by_email.attempts, by_email.next_attempt_at, by_email.status_reason) == (
        Status.QUEUED,
        0,
        LATE_EVENING + datetime.timedelta(hours=1),
        "contact.quiet_hours",
    )
    assert mail.outbox == []
    assert email_delivery_send(by_email.pk, now=LATE_EVENING + minutes(30)) == "not due"
    # Still night at midnight: deferred again.
    assert email_deliveries_due(now=LATE_EVENING + datetime.timedelta(hours=1)) == {"deferred": 1}
    assert mail.outbox == []

    morning = datetime.datetime(2026, 3, 3, 8, tzinfo=SHANGHAI)
    assert email_deliveries_due(now=morning) == {"sent": 1}
    assert len(mail.outbox) == 1
    by_email = reloaded(by_email)
    assert (by_email.status, by_email.attempts) == (Status.SENT, 1)


def test_a_borrower_who_became_bankrupt_after_the_issue_gets_no_email_and_the_refusal_is_recorded(issue):
    notice, by_email = issue()
    Borrower.objects.filter(pk=notice.borrower_id).update(is_bankrupt=True)

    assert email_delivery_send(by_email.pk, now=DAYTIME) == "blocked"

    assert mail.outbox == []
    by_email = reloaded(by_email)
    assert (by_email.status, by_email.status_reason, by_email.attempts) == (
        Status.BLOCKED,
        "contact.hold_bankruptcy",
        0,
    )
    attempt = ContactAttempt.objects.get(case=notice.case)
    assert (attempt.channel, attempt.decision, attempt.rule, attempt.note, attempt.is_automatic) == (
        "email",
        ContactAttempt.Decision.BLOCKED,
        "contact.hold_bankruptcy",
        f"notice:{notice.reference}",
        True,
    )
    assert attempt.attempted_at == DAYTIME
    assert notice.case.events.filter(kind=CaseEvent.Kind.CONTACT_BLOCKED).count() == 1
    # Blocked for good: neither a retried task nor the sweep sends it.
    assert email_delivery_send(by_email.pk, now=DAYTIME + minutes(5)) == "already blocked"
    assert email_deliveries_due(now=DAYTIME + minutes(5)) == {}
    assert mail.outbox == []


def test_an_email_for_a_case_closed_before_sending_is_cancelled(issue):
    notice, by_email = issue()
    case_close(case=notice.case, reason=CloseReason.CURED, on=RUN_DATE + datetime.timedelta(days=1))

    assert email_delivery_send(by_email.pk, now=DAYTIME) == "cancelled"

    by_email = reloaded(by_email)
    assert (by_email.status, by_email.status_reason) == (
        Status.CANCELLED,
        "The case closed before the e-mail was sent.",
    )
    assert mail.outbox == []
    assert not ContactAttempt.objects.filter(case=notice.case).exists()
    assert email_deliveries_due(now=DAYTIME) == {}


# ---------------------------------------------------------------------------------------------------------
# A real SMTP server on loopback


class CollectingHandler:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    handler = CollectingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    yield handler
    controller.stop()


def test_a_notice_email_reaches_a_real_smtp_server_with_the_pdf_attached(issue, english_borrower, smtp_server):
    notice, by_email = issue(english_borrower)

    assert email_delivery_send(by_email.pk, now=DAYTIME) == "sent"

    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["li.lei@example.com"]
    received = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert received["To"] == "li.lei@example.com"
    # Django folds the encoded subject onto a continuation line, which the parser keeps as a leading space.
    assert received["Subject"].strip() == f"Formal collection notice (催缴单), reference {notice.reference}"
    assert received["Message-ID"] == reloaded(by_email).message_id
    assert received["Message-ID"].startswith(f"<notice-{notice.reference}@")
    assert received.get_body(preferencelist=("plain",)).get_content().startswith("Dear Li Lei,")
    assert notice.reference in received.get_body(preferencelist=("html",)).get_content()
    [attachment] = list(received.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content_type()) == (
        f"{notice.reference}.pdf",
        "application/pdf",
    )
    content = attachment.get_content()
    assert hashlib.sha256(content).hexdigest() == notice.sha256 == hashlib.sha256(stored_pdf(notice)).hexdigest()
    assert reloaded(by_email).status == Status.SENT


def test_an_unreachable_smtp_server_is_a_transient_error(issue, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    _notice, by_email = issue()

    assert email_delivery_send(by_email.pk, now=DAYTIME) == "retry"

    by_email = reloaded(by_email)
    assert (by_email.status, by_email.attempts, by_email.next_attempt_at) == (
        Status.QUEUED,
        1,
        DAYTIME + minutes(5),
    )
    assert by_email.status_reason.startswith("ConnectionRefusedError: ")


# ---------------------------------------------------------------------------------------------------------
# Bounces


@pytest.fixture
def sent_notice(issue):
    notice, by_email = issue()
    assert email_delivery_send(by_email.pk, now=DAYTIME) == "sent"
    return notice, by_email


def test_a_bounce_marks_the_sent_email_bounced_on_the_timeline_and_in_the_audit_trail(sent_notice, supervisor):
    notice, by_email = sent_notice
    events_before = notice.case.events.count()

    bounced = email_bounce_record(reference=notice.reference, reason=" 550 mailbox unavailable ", actor=supervisor)

    assert bounced.pk == by_email.pk
    by_email = reloaded(by_email)
    assert (by_email.status, by_email.status_reason) == (Status.BOUNCED, "550 mailbox unavailable")
    detail = {
        "notice": notice.reference,
        "delivery": by_email.pk,
        "channel": "email",
        "status": "bounced",
        "reason": "550 mailbox unavailable",
    }
    [event] = notice.case.events.order_by("pk")[events_before:]
    assert (event.kind, event.actor, event.detail) == (CaseEvent.Kind.NOTICE, supervisor, detail)
    audit = AuditEvent.objects.get(event="notice.bounced")
    assert (audit.actor, audit.subject_type, audit.subject_id, audit.detail) == (
        supervisor,
        "notices.notice",
        str(notice.pk),
        detail,
    )


def test_only_a_sent_email_can_bounce(issue, sent_notice):
    queued_notice, queued = issue(BorrowerFactory(email="other@example.com"), days_past_due=16)

    with pytest.raises(DomainError) as caught:
        email_bounce_record(reference=queued_notice.reference, reason="550 mailbox unavailable")
    assert caught.value.code == "delivery.not_sent"
    assert caught.value.message == f"Notice {queued_notice.reference} has no sent e-mail to mark as bounced."

    sent, _by_email = sent_notice
    email_bounce_record(reference=sent.reference, reason="550 mailbox unavailable")
    with pytest.raises(DomainError) as twice:
        email_bounce_record(reference=sent.reference, reason="550 mailbox unavailable")
    assert twice.value.code == "delivery.not_sent"
    assert AuditEvent.objects.filter(event="notice.bounced").count() == 1
    assert reloaded(queued).status == Status.QUEUED


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_bounce_needs_the_reason_the_mail_system_gave(sent_notice, reason):
    notice, by_email = sent_notice

    with pytest.raises(DomainError) as caught:
        email_bounce_record(reference=notice.reference, reason=reason)

    assert caught.value.code == "delivery.reason_missing"
    assert reloaded(by_email).status == Status.SENT
    assert not AuditEvent.objects.filter(event="notice.bounced").exists()


def test_the_notice_bounced_command_records_a_bounce(sent_notice):
    notice, by_email = sent_notice
    out = io.StringIO()

    call_command("notice_bounced", notice.reference, "--reason", "550 mailbox unavailable", stdout=out)

    assert out.getvalue() == f"{notice.reference}: e-mail marked as bounced.\n"
    by_email = reloaded(by_email)
    assert (by_email.status, by_email.status_reason) == (Status.BOUNCED, "550 mailbox unavailable")


def test_the_notice_bounced_command_refuses_an_unknown_reference(sent_notice):
    with pytest.raises(CommandError) as caught:
        call_command("notice_bounced", "CN-2026-999999", "--reason", "550 mailbox unavailable", stdout=io.StringIO())

    assert str(caught.value) == "Notice CN-2026-999999 has no sent e-mail to mark as bounced."
    assert not AuditEvent.objects.filter(event="notice.bounced").exists()
