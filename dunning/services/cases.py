"""The work on a case: assignment, contact attempts (through the guardrail), notes, promises to pay and
disputes. Each function checks that the actor may act on the case and leaves a timeline entry and an
audit event."""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import COLLECTOR
from accounts.services import audit_record, audit_record_many
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from creditops.core.money import format_money, positive_whole_cents
from lending.models import Borrower
from lending.selectors import loan_outstanding_amount

from ..models import (
    ApprovalRequest,
    Callback,
    CaseEvent,
    Channel,
    CollectionCase,
    ContactAttempt,
    Dispute,
    DunningAction,
    PromiseToPay,
)
from ..selectors import case_workable_by, cases_supervisable_by
from .guardrails import ContactBlockedError, contact_decide, dialled_number
from .timeline import case_event_add, case_events_add

Event = CaseEvent.Kind
NOTE_MAX_LENGTH = 2000
PROMISE_MAX_DAYS_AHEAD = 30
# A contact attempt through one of these channels completes the matching open stage action.
ACTIONS_DONE_BY_CHANNEL = {Channel.CALL: ["collector_call"], Channel.VISIT: ["field_visit"]}
PHONE_CHANNELS = (Channel.CALL, Channel.SMS)


def require_workable(case: CollectionCase, actor) -> None:
    if actor is not None and not case_workable_by(actor, case):
        raise DomainError(_("You may not work this case."), code="case.forbidden")


def require_open(case: CollectionCase) -> None:
    if not case.is_open:
        raise DomainError(_("This case is closed."), code="case.closed")


def _locked(case: CollectionCase) -> CollectionCase:
    return (
        CollectionCase.objects.select_for_update(of=("self",))
        .select_related("loan__product", "borrower")
        .get(pk=case.pk)
    )


def case_assign(*, case: CollectionCase, collector: User, actor, reason: str = "") -> CollectionCase:
    """Give a case to a collector (supervisors of the case's team, or administrators)."""
    cases_reassign(case_ids=[case.pk], collector=collector, actor=actor, reason=reason)
    return CollectionCase.objects.get(pk=case.pk)


def pending_approvals_follow(*, case_ids, team_id) -> int:
    """Requests still waiting on cases that moved to another team move with them: the team's supervisor
    decides them, and the inbox reads them from the team's index (ApprovalRequest.team)."""
    pending = ApprovalRequest.objects.filter(case__in=case_ids, status=ApprovalRequest.Status.PENDING)
    return pending.update(team_id=team_id)


@transaction.atomic
def cases_reassign(*, case_ids: list[int], collector: User, actor, reason: str = "") -> int:
    """Give cases to a collector: all or nothing, in a fixed number of statements however many cases.
    A case keeps its team when the collector is in it, and otherwise moves to the collector's first team."""
    ids = sorted(set(case_ids))
    if not collector.is_active or not collector.groups.filter(name=COLLECTOR).exists():
        raise DomainError(_("%(user)s is not an active collector.") % {"user": collector}, code="case.not_collector")
    teams = list(collector.teams.order_by("pk").values_list("pk", flat=True))
    if not teams:
        raise DomainError(_("%(user)s is in no team.") % {"user": collector}, code="case.collector_no_team")
    cases = list(CollectionCase.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    if len(cases) != len(ids):
        raise DomainError(_("Some of the selected cases do not exist."), code="case.not_found")
    if actor is not None and cases_supervisable_by(actor).filter(pk__in=ids).count() != len(ids):
        raise DomainError(_("Only the team's supervisor may reassign this case."), code="case.forbidden")
    for case in cases:
        require_open(case)
    staying = [case.pk for case in cases if case.team_id in teams]
    moving = [case.pk for case in cases if case.team_id not in teams]
    CollectionCase.objects.filter(pk__in=staying).update(assigned_to=collector)
    CollectionCase.objects.filter(pk__in=moving).update(assigned_to=collector, team_id=teams[0])
    pending_approvals_follow(case_ids=moving, team_id=teams[0])
    details = {
        case.pk: {
            "from": case.assigned_to_id,
            "to": collector.pk,
            "team": case.team_id if case.pk in staying else teams[0],
            "reason": reason,
        }
        for case in cases
    }
    case_events_add(cases=cases, kind=Event.ASSIGNED, actor=actor, details=details)
    audit_record_many(actor=actor, event="case.assigned", subjects=cases, details=details)
    return len(cases)


@transaction.atomic
def case_note_add(*, case: CollectionCase, text: str, actor) -> CaseEvent:
    require_workable(case, actor)
    text = (text or "").strip()
    if not text:
        raise DomainError(_("The note is empty."), code="note.empty")
    if len(text) > NOTE_MAX_LENGTH:
        raise DomainError(
            _("A note may have at most %(max)d characters.") % {"max": NOTE_MAX_LENGTH}, code="note.too_long"
        )
    return case_event_add(case=case, kind=Event.NOTE, actor=actor, detail={"text": text})


def contact_attempt_log(
    *,
    case: CollectionCase,
    channel: str,
    outcome: str,
    actor,
    at: datetime.datetime | None = None,
    target_contact=None,
    note: str = "",
    automatic: bool = False,
    promise: tuple | None = None,
    call_back_at: datetime.datetime | None = None,
) -> ContactAttempt:
    """Ask the guardrail, then record the attempt. A refused attempt is recorded as blocked (committed) and
    ContactBlockedError is raised, so callers show the refusal and nothing pretends the contact happened.
    `promise` (amount, pay-by date) is the promise the borrower made on this contact, and `call_back_at`
    the time they asked to be called back: each checked before anything is written, and recorded with the
    attempt in one transaction, or none is."""
    if promise is not None:
        promise = promise_validate(*promise, made_on=business_today(), loan=case.loan)
    at = at or timezone.now()
    if outcome == ContactAttempt.Outcome.CALL_BACK:
        callback_validate(case=case, call_back_at=call_back_at, asked_at=at)
    if channel not in Channel.values:
        raise DomainError(_("Unknown channel %(channel)r.") % {"channel": channel}, code="contact.channel_invalid")
    if outcome and outcome not in ContactAttempt.Outcome.values:
        raise DomainError(_("Unknown outcome %(outcome)r.") % {"outcome": outcome}, code="contact.outcome_invalid")
    with transaction.atomic():
        require_workable(case, actor)
        # The borrower row lock serialises contacts with one borrower, so two collectors cannot both take
        # the last call a daily cap allows.
        Borrower.objects.select_for_update().filter(pk=case.borrower_id).first()
        case = _locked(case)
        require_open(case)
        decision = contact_decide(case=case, channel=channel, at=at, target_contact=target_contact)
        attempt = contact_decision_record(
            case=case, channel=channel, decision=decision, outcome=outcome, actor=actor, at=at, note=note,
            automatic=automatic, target_contact=target_contact,
        )  # fmt: skip
        if decision.allowed and promise is not None:
            promise_record(case=case, amount=promise[0], promised_for=promise[1], actor=actor, contact=attempt)
        if decision.allowed and outcome == ContactAttempt.Outcome.CALL_BACK:
            _callback_record(case=case, due_at=call_back_at, attempt=attempt, actor=actor)
    if not decision.allowed:
        raise ContactBlockedError(decision, attempt)
    attempt.requirements = decision.requirements  # what the contact must carry (e.g. an opt-out line)
    return attempt


def contact_decision_record(
    *, case, channel, decision, outcome, actor, at, note="", automatic=False, target_contact=None
) -> ContactAttempt:
    """Record a contact the guardrail has decided (allowed or blocked) on the case, its timeline and, when
    blocked, the audit trail. contact_attempt_log decides and records; automatic senders that decided
    earlier (a notice, an e-mail) record their decision here."""
    attempt = ContactAttempt.objects.create(
        case=case, borrower_id=case.borrower_id, loan_id=case.loan_id, channel=channel,
        target_contact=target_contact, outcome=outcome if decision.allowed else "",
        phone_number=dialled_number(case.borrower, target_contact) if channel in PHONE_CHANNELS else "",
        decision=ContactAttempt.Decision.ALLOWED if decision.allowed else ContactAttempt.Decision.BLOCKED,
        rule=decision.rule, profile=decision.profile, note=note, is_automatic=automatic,
        actor=actor if actor is not None and actor.is_authenticated else None, attempted_at=at,
    )  # fmt: skip
    detail = {
        "attempt": attempt.pk, "channel": channel, "outcome": attempt.outcome, "rule": decision.rule,
        "third_party": target_contact.pk if target_contact else None,
        "requirements": list(decision.requirements),
    }  # fmt: skip
    if decision.allowed:
        case.last_contact_at = at
        case.save(update_fields=["last_contact_at"])
        case_event_add(case=case, kind=Event.CONTACT, actor=actor, detail=detail)
        _complete_actions_for(case, channel, attempt, actor)
        if channel == Channel.CALL and not automatic:
            _complete_callbacks(case, attempt)
    else:
        case_event_add(case=case, kind=Event.CONTACT_BLOCKED, actor=actor, detail=detail)
        audit_record(actor=actor, event="contact.blocked", subject=attempt, detail=detail)
    return attempt


CALLBACK_MAX_DAYS_AHEAD = 14


def callback_validate(*, case: CollectionCase, call_back_at: datetime.datetime | None, asked_at) -> None:
    """A callback needs a time, ahead and within two weeks, inside the borrower's contact hours (whether
    the call may then be made is decided again when it is made)."""
    if call_back_at is None:
        raise DomainError(_("Say when the borrower asked to be called back."), code="callback.time_missing")
    if not asked_at < call_back_at <= asked_at + datetime.timedelta(days=CALLBACK_MAX_DAYS_AHEAD):
        message = _("A callback must be later today or within %(days)d days.") % {"days": CALLBACK_MAX_DAYS_AHEAD}
        raise DomainError(message, code="callback.time_invalid")
    then = contact_decide(case=case, channel=Channel.CALL, at=call_back_at)
    if then.rule == "contact.quiet_hours":
        raise DomainError(then.message, code="callback.quiet_hours")


def _callback_record(*, case, due_at, attempt, actor) -> Callback:
    callback = Callback.objects.create(
        case=case, due_at=due_at, asked_in=attempt, created_by=actor if actor and actor.is_authenticated else None
    )
    detail = {"callback": callback.pk, "at": due_at.isoformat()}
    case_event_add(case=case, kind=Event.CALLBACK, actor=actor, detail=detail)
    return callback


def _complete_callbacks(case, attempt):
    """A call that went ahead answers every callback the case was waiting for (a new "call me back" on it
    arranges the next one)."""
    case.callbacks.filter(status=Callback.Status.PENDING).update(status=Callback.Status.DONE, done_by=attempt)


def _complete_actions_for(case, channel, attempt, actor):
    kinds = ACTIONS_DONE_BY_CHANNEL.get(channel, [])
    if not kinds:
        return
    pending = DunningAction.objects.filter(case=case, kind__in=kinds, status=DunningAction.Status.PENDING)
    for action in pending:
        action.status = DunningAction.Status.DONE
        action.completed_at = attempt.attempted_at
        action.result = f"contact:{attempt.pk}"
        action.save(update_fields=["status", "completed_at", "result"])
        case_event_add(
            case=case, kind=Event.ACTION_DONE, actor=actor, detail={"action": action.pk, "kind": action.kind}
        )


@transaction.atomic
def promise_record(
    *,
    case: CollectionCase,
    amount,
    promised_for: datetime.date,
    actor,
    contact: ContactAttempt | None = None,
    made_on: datetime.date | None = None,
) -> PromiseToPay:
    """A promise to pay `amount` by `promised_for`. One pending promise per case: a new one replaces it."""
    require_workable(case, actor)
    case = _locked(case)
    require_open(case)
    made_on = made_on or business_today()
    amount, promised_for = promise_validate(amount, promised_for, made_on=made_on, loan=case.loan)
    case.promises.filter(status=PromiseToPay.Status.PENDING).update(
        status=PromiseToPay.Status.CANCELLED, evaluated_on=made_on
    )
    promise = PromiseToPay.objects.create(
        case=case, amount=amount, promised_for=promised_for, made_on=made_on, contact=contact,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )  # fmt: skip
    case.status = case.status_from_facts()
    case.save(update_fields=["status"])
    detail = {"promise": promise.pk, "amount": str(amount), "promised_for": promised_for.isoformat()}
    case_event_add(case=case, kind=Event.PROMISE, actor=actor, detail=detail, as_of=made_on)
    audit_record(actor=actor, event="promise.recorded", subject=promise, detail=detail)
    return promise


def promise_validate(amount, promised_for: datetime.date, *, made_on: datetime.date, loan) -> tuple:
    """The promise's amount in whole cents and its date, or the DomainError saying what is wrong. A
    borrower can promise at most what the loan owes in all (due or not)."""
    amount = positive_whole_cents(
        amount,
        code="promise.amount_invalid",
        message=_("The promised amount must be a positive number in whole cents."),
    )
    owed = loan_outstanding_amount(loan.pk)
    if amount > owed:
        message = _("The promised amount %(amount)s is more than the loan owes in all (%(owed)s).")
        raise DomainError(
            message % {"amount": format_money(amount, loan.currency), "owed": format_money(owed, loan.currency)},
            code="promise.amount_over_owed",
            detail={"amount": str(amount), "owed": str(owed)},
        )
    if promised_for < made_on:
        raise DomainError(_("The promised date cannot be in the past."), code="promise.date_past")
    if promised_for > made_on + datetime.timedelta(days=PROMISE_MAX_DAYS_AHEAD):
        raise DomainError(
            _("A promise may be at most %(days)d days ahead.") % {"days": PROMISE_MAX_DAYS_AHEAD},
            code="promise.date_too_far",
        )
    return amount, promised_for


@transaction.atomic
def dispute_raise(*, case: CollectionCase, reason: str, actor) -> Dispute:
    """The borrower disputes the debt: all contact and notices on the case pause until it is resolved."""
    require_workable(case, actor)
    case = _locked(case)
    require_open(case)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say what the borrower disputes."), code="dispute.reason_missing")
    if case.disputes.filter(status=Dispute.Status.OPEN).exists():
        raise DomainError(_("This case already has an open dispute."), code="dispute.already_open")
    dispute = Dispute.objects.create(
        case=case, reason=reason, raised_at=timezone.now(),
        raised_by=actor if actor is not None and actor.is_authenticated else None,
    )  # fmt: skip
    case.status = case.status_from_facts()
    case.save(update_fields=["status"])
    case_event_add(case=case, kind=Event.DISPUTE_RAISED, actor=actor, detail={"dispute": dispute.pk, "reason": reason})
    audit_record(actor=actor, event="dispute.raised", subject=dispute, detail={"case": case.pk})
    return dispute


@transaction.atomic
def dispute_resolve(*, dispute: Dispute, resolution: str, actor) -> Dispute:
    """Record how a dispute ended; the case returns to the ladder (the next run moves it on)."""
    case = _locked(dispute.case)
    require_workable(case, actor)
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    if dispute.status != Dispute.Status.OPEN:
        raise DomainError(_("This dispute is already resolved."), code="dispute.resolved")
    resolution = (resolution or "").strip()
    if not resolution:
        raise DomainError(_("Say how the dispute was resolved."), code="dispute.resolution_missing")
    dispute.status = Dispute.Status.RESOLVED
    dispute.resolution = resolution
    dispute.resolved_at = timezone.now()
    dispute.resolved_by = actor if actor is not None and actor.is_authenticated else None
    dispute.save(update_fields=["status", "resolution", "resolved_at", "resolved_by"])
    if case.is_open:
        case.status = case.status_from_facts()  # back to the plan, the legal hold or the promise it had
        case.save(update_fields=["status"])
    detail = {"dispute": dispute.pk, "resolution": resolution}
    case_event_add(case=case, kind=Event.DISPUTE_RESOLVED, actor=actor, detail=detail)
    audit_record(actor=actor, event="dispute.resolved", subject=dispute, detail=detail)
    return dispute


@transaction.atomic
def action_complete(*, action: DunningAction, result: str, actor) -> DunningAction:
    """Mark a stage task done by hand (a supervisor review, a field visit, an agency referral)."""
    action = DunningAction.objects.select_for_update().select_related("case").get(pk=action.pk)
    if action.case is None:
        raise DomainError(_("Automatic reminders complete themselves."), code="action.automatic")
    require_workable(action.case, actor)
    if action.status != DunningAction.Status.PENDING:
        raise DomainError(_("This action is not pending."), code="action.not_pending")
    result = (result or "").strip()
    if not result:
        raise DomainError(_("Say what was done."), code="action.result_missing")
    action.status, action.completed_at, action.result = DunningAction.Status.DONE, timezone.now(), result[:200]
    action.save(update_fields=["status", "completed_at", "result"])
    detail = {"action": action.pk, "kind": action.kind, "result": action.result}
    case_event_add(case=action.case, kind=Event.ACTION_DONE, actor=actor, detail=detail)
    audit_record(actor=actor, event="action.completed", subject=action, detail=detail)
    return action
