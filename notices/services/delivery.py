"""Delivering issued notices: e-mail (one django-q2 task per delivery, retried with back-off, sent at most
once) and bounces reported afterwards. Letters are delivered through print batches (printing.py)."""

import datetime
import logging
import smtplib
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.errors import DomainError
from dunning.models import CaseEvent, Channel, ContactAttempt, NoticeKind
from dunning.services.cases import contact_decision_record
from dunning.services.dispatch import RETRY_LATER_RULES
from dunning.services.guardrails import Decision, contact_decide
from dunning.services.timeline import case_event_add

from ..models import Notice, NoticeDelivery
from .issue import HOLDS_PASSED

Status = NoticeDelivery.Status
# Errors worth another try later: the mail server refused for now, or could not be reached. A refused
# recipient (a 5xx for the address) is permanent, like any other error: the delivery fails with the reason.
TRANSIENT_ERRORS = (smtplib.SMTPException, OSError)
PERMANENT_ERRORS = (smtplib.SMTPRecipientsRefused,)
DEFER_BY = datetime.timedelta(hours=1)
# A delivery still "sending" this long after its claim lost its worker mid-send: whether the message left
# is unknown, so it is failed for a person to check, never sent again blindly.
STALE_SENDING = datetime.timedelta(hours=1)

logger = logging.getLogger(__name__)


def email_delivery_send(delivery_id: int, *, now: datetime.datetime | None = None) -> str:
    """Send one queued e-mail delivery, if it is due. Returns the outcome. A delivery is claimed
    (status SENDING, committed) before the message leaves, so a repeated or concurrent task never sends
    a second copy: only a queued delivery is ever sent."""
    now = now or timezone.now()
    claimed = _claim(delivery_id, now)
    if isinstance(claimed, str):
        return claimed
    delivery, decision = claimed
    try:
        _email_message(delivery, opt_out="opt_out" in decision.requirements).send(fail_silently=False)
    except PERMANENT_ERRORS as error:
        _set(delivery, Status.FAILED, f"{type(error).__name__}: {error}")
        return "failed"
    except TRANSIENT_ERRORS as error:
        return _record_failure(delivery, now, f"{type(error).__name__}: {error}")
    except Exception as error:  # a bug or bad data: fail visibly with the reason rather than stay "sending"
        logger.exception("notice e-mail delivery %s failed", delivery.pk)
        _set(delivery, Status.FAILED, f"{type(error).__name__}: {error}")
        return "failed"
    _record_sent(delivery, decision, now)
    return "sent"


def _record_sent(delivery: NoticeDelivery, decision, now) -> None:
    """Sent: the delivery's status, the contact on the case (like any allowed contact) and the timeline."""
    notice = delivery.notice
    with transaction.atomic():
        NoticeDelivery.objects.filter(pk=delivery.pk).update(
            status=Status.SENT, sent_at=timezone.now(), status_reason=""
        )
        _record_contact(notice, decision, now)
        detail = {"notice": notice.reference, "delivery": delivery.pk, "channel": "email", "status": "sent"}
        case_event_add(case=notice.case, kind=CaseEvent.Kind.NOTICE, detail=detail)


def _record_contact(notice: Notice, decision, now) -> None:
    contact_decision_record(
        case=notice.case, channel=Channel.EMAIL, decision=decision, outcome=ContactAttempt.Outcome.SENT,
        actor=None, at=now, note=f"notice:{notice.reference}", automatic=True,
    )  # fmt: skip


def _claim(delivery_id: int, now) -> tuple[NoticeDelivery, Decision] | str:
    with transaction.atomic():
        delivery = (
            NoticeDelivery.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("notice__case__loan__product", "notice__case__borrower")
            .filter(pk=delivery_id, channel=NoticeDelivery.Channel.EMAIL)
            .first()
        )
        if delivery is None:
            return "busy"
        if delivery.status != Status.QUEUED:
            return f"already {delivery.status}"
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return "not due"
        notice = delivery.notice
        if not notice.case.is_open:
            _set(delivery, Status.CANCELLED, _("The case closed before the e-mail was sent."))
            return "cancelled"
        passes_holds = HOLDS_PASSED.get(notice.kind, ())
        decision = contact_decide(case=notice.case, channel=Channel.EMAIL, at=now, passes_holds=passes_holds)
        if not decision.allowed and decision.rule in RETRY_LATER_RULES:
            delivery.next_attempt_at, delivery.status_reason = now + DEFER_BY, decision.rule
            delivery.save(update_fields=["next_attempt_at", "status_reason"])
            return "deferred"
        if not decision.allowed:
            _set(delivery, Status.BLOCKED, decision.rule)
            _record_contact(notice, decision, now)  # the refusal, on the timeline and in the audit trail
            return "blocked"
        delivery.status, delivery.attempts = Status.SENDING, delivery.attempts + 1
        delivery.message_id, delivery.claimed_at = _message_id(notice), now
        delivery.save(update_fields=["status", "attempts", "message_id", "claimed_at"])
    return delivery, decision


def _record_failure(delivery: NoticeDelivery, now, reason: str) -> str:
    max_attempts = settings.NOTICES["EMAIL_MAX_ATTEMPTS"]
    if delivery.attempts >= max_attempts:
        _set(delivery, Status.FAILED, reason)
        return "failed"
    delay = datetime.timedelta(minutes=settings.NOTICES["EMAIL_RETRY_MINUTES"] * 2 ** (delivery.attempts - 1))
    NoticeDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.QUEUED, next_attempt_at=now + delay, status_reason=reason[:300]
    )
    return "retry"


def _set(delivery: NoticeDelivery, status: str, reason: str) -> None:
    NoticeDelivery.objects.filter(pk=delivery.pk).update(status=status, status_reason=reason[:300])


def _message_id(notice: Notice) -> str:
    """The same Message-ID on every try of a notice, so a mail system can drop a duplicate too."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "creditops.local"
    return f"<notice-{notice.reference}@{domain}>"


def _email_message(delivery: NoticeDelivery, *, opt_out: bool) -> EmailMultiAlternatives:
    notice = delivery.notice
    with translation.override(notice.language):
        context = {
            "n": notice.data, "kind_label": NoticeKind(notice.kind).label, "language": notice.language,
            "opt_out": opt_out,
        }  # fmt: skip
        subject = _("%(kind)s, reference %(reference)s") % {
            "kind": context["kind_label"],
            "reference": notice.reference,
        }
        text = render_to_string("notices/email/body.txt", context)
        html = render_to_string("notices/email/body.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, to=[delivery.recipient], headers={"Message-ID": delivery.message_id}
    )
    message.attach_alternative(html, "text/html")
    with notice.pdf.open("rb") as pdf:
        message.attach(f"{notice.reference}.pdf", pdf.read(), "application/pdf")
    return message


def email_deliveries_due(*, now: datetime.datetime | None = None) -> dict:
    """Send every queued e-mail delivery that is due (retries and deferrals), after failing the ones a
    worker left "sending" too long ago. Returns counts by outcome."""
    now = now or timezone.now()
    stale = NoticeDelivery.objects.filter(
        channel=NoticeDelivery.Channel.EMAIL, status=Status.SENDING, claimed_at__lt=now - STALE_SENDING
    )
    stale.update(
        status=Status.FAILED,
        status_reason=_("The worker stopped while sending: check the mail server's log before sending again."),
    )
    due = NoticeDelivery.objects.filter(channel=NoticeDelivery.Channel.EMAIL, status=Status.QUEUED).exclude(
        next_attempt_at__gt=now
    )
    counts: dict[str, int] = {}
    for delivery_id in due.order_by("pk").values_list("pk", flat=True):
        outcome = email_delivery_send(delivery_id, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@transaction.atomic
def email_bounce_record(*, reference: str, reason: str, actor=None) -> NoticeDelivery:
    """The mail system reported that the e-mail of notice `reference` bounced."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give the bounce reason the mail system reported."), code="delivery.reason_missing")
    delivery = (
        NoticeDelivery.objects.select_for_update()
        .filter(notice__reference=reference, channel=NoticeDelivery.Channel.EMAIL)
        .select_related("notice__case")
        .first()
    )
    if delivery is None or delivery.status != Status.SENT:
        raise DomainError(
            _("Notice %(reference)s has no sent e-mail to mark as bounced.") % {"reference": reference},
            code="delivery.not_sent",
        )
    delivery.status, delivery.status_reason = Status.BOUNCED, reason[:300]
    delivery.save(update_fields=["status", "status_reason"])
    detail = {"notice": reference, "delivery": delivery.pk, "channel": "email", "status": "bounced", "reason": reason}
    case_event_add(case=delivery.notice.case, kind=CaseEvent.Kind.NOTICE, actor=actor, detail=detail)
    audit_record(actor=actor, event="notice.bounced", subject=delivery.notice, detail=detail)
    return delivery
