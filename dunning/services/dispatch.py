"""Automatic reminders: the run creates SMS and e-mail reminder actions; this sends the pending ones
through the guardrail, in daytime (django-q2 runs it hourly). Quiet hours leave an action pending for the
next pass; a hold blocks it for good; a sent reminder completes it."""

import datetime

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from creditops.core.errors import DomainError
from creditops.core.money import format_money
from notices.sms import send_sms, sms_text

from ..models import ActionKind, Channel, ContactAttempt, DunningAction
from .cases import contact_attempt_log
from .guardrails import ContactBlockedError, contact_decide

CHANNEL_FOR_KIND = {ActionKind.SMS_REMINDER: Channel.SMS, ActionKind.EMAIL_REMINDER: Channel.EMAIL}
# Refusals that may clear later the same day: keep the action pending and try on the next pass.
RETRY_LATER_RULES = {"contact.quiet_hours", "contact.daily_connected_cap"}


def reminders_dispatch(*, now: datetime.datetime | None = None) -> dict:
    """Send every pending reminder action the guardrail allows now. Returns counts by outcome."""
    now = now or timezone.now()
    # An action with a notice kind is done by issuing that notice (the notices app delivers it).
    pending = DunningAction.objects.filter(
        status=DunningAction.Status.PENDING, kind__in=list(CHANNEL_FOR_KIND), notice_kind=""
    )
    action_ids = list(pending.order_by("created_on", "pk").values_list("pk", flat=True))
    counts = {"sent": 0, "deferred": 0, "blocked": 0, "no_address": 0, "cancelled": 0}
    for action_id in action_ids:
        # One transaction per reminder, the action row locked: two workers never send the same one, and
        # the message leaves only once the action is marked done (on commit).
        with transaction.atomic():
            action = (
                pending.select_for_update(of=("self",), skip_locked=True)
                .select_related("loan__borrower", "loan__product", "case__borrower", "case__loan__product")
                .filter(pk=action_id)
                .first()
            )
            if action is not None:
                counts[_dispatch_one(action, now)] += 1
    return counts


def _dispatch_one(action: DunningAction, now) -> str:
    channel = CHANNEL_FOR_KIND[action.kind]
    if action.case is None and not _still_due(action):
        _finish(action, DunningAction.Status.CANCELLED, now, "no_longer_due")
        return "cancelled"
    if channel == Channel.EMAIL and not action.loan.borrower.email:
        _finish(action, DunningAction.Status.DONE, now, "no_email_address")
        return "no_address"
    try:
        decision = contact_decide(case=action.case, loan=action.loan, channel=channel, at=now)
    except DomainError as error:  # no guardrail profile in force, say: never send blind
        _finish(action, DunningAction.Status.BLOCKED, now, error.code)
        return "blocked"
    if not decision.allowed and decision.rule in RETRY_LATER_RULES:
        # Decided again on the next pass; the deferral is recorded once, not every hour.
        if not action.result:
            _record(action, channel, decision, now)
            action.result = f"deferred:{decision.rule}"
            action.save(update_fields=["result"])
        return "deferred"
    attempt = _record(action, channel, decision, now)
    if not decision.allowed:
        _finish(action, DunningAction.Status.BLOCKED, now, decision.rule)
        return "blocked"
    _send(action, channel, requirements=decision.requirements)
    _finish(action, DunningAction.Status.DONE, now, f"contact:{attempt.pk}")
    return "sent"


def _still_due(action: DunningAction) -> bool:
    """A pre-due reminder is stale once the installment is paid, the loan left the book or a case opened."""
    loan = action.loan
    return (
        loan.status == loan.Status.ACTIVE
        and loan.installments.filter(due_date=action.due_date, is_open=True).exists()
        and not loan.cases.filter(is_open=True).exists()
    )


def _record(action, channel, decision, now) -> ContactAttempt:
    """The guardrail's decision on an automatic contact, on the case timeline when there is a case."""
    if action.case is None:
        return ContactAttempt.objects.create(
            case=None, borrower_id=action.loan.borrower_id, loan=action.loan, channel=channel,
            phone_number=action.loan.borrower.phone if channel == Channel.SMS else "",
            outcome=ContactAttempt.Outcome.SENT if decision.allowed else "",
            decision=ContactAttempt.Decision.ALLOWED if decision.allowed else ContactAttempt.Decision.BLOCKED,
            rule=decision.rule, profile=decision.profile, note=action.get_kind_display(), is_automatic=True,
            attempted_at=now,
        )  # fmt: skip
    try:
        return contact_attempt_log(
            case=action.case, channel=channel, outcome=ContactAttempt.Outcome.SENT, actor=None, at=now,
            automatic=True, note=action.get_kind_display(),
        )  # fmt: skip
    except ContactBlockedError as refusal:
        return refusal.attempt


def _finish(action, status, now, result):
    action.status, action.completed_at, action.result = status, now, result[:200]
    action.save(update_fields=["status", "completed_at", "result"])


def reminder_text(action: DunningAction, *, opt_out: bool) -> tuple[str, str]:
    """Subject and body in the borrower's language (templates/sms/<language>/), with an opt-out line where
    the profile requires one. The e-mail reminder carries the same text as the SMS."""
    loan, borrower = action.loan, action.loan.borrower
    language = borrower.preferred_language
    context = {"name": borrower.name, "loan": loan.reference, "opt_out": opt_out}
    with translation.override(language):
        if action.case is None:
            subject = _("Payment due on %(date)s") % {"date": action.due_date}
            body = sms_text("reminder_predue", language=language, context={**context, "due_date": action.due_date})
        else:
            subject = _("Loan %(loan)s is overdue") % {"loan": loan.reference}
            context.update(
                days=action.case.days_past_due,
                amount=format_money(action.case.overdue_amount, loan.currency),
                phone=settings.NOTICES["LENDER"]["phone"],
            )
            body = sms_text("reminder_overdue", language=language, context=context)
    return subject, body


def _send(action, channel, *, requirements):
    """Queue the message for after the commit, so a rolled-back dispatch sends nothing."""
    subject, body = reminder_text(action, opt_out="opt_out" in requirements)
    borrower = action.loan.borrower
    if channel == Channel.SMS:
        transaction.on_commit(lambda: send_sms(phone=borrower.phone, text=body))
    else:
        message = EmailMessage(subject=subject, body=body, to=[borrower.email])
        transaction.on_commit(lambda: message.send(fail_silently=False))
