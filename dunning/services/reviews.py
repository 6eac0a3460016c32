"""The supervisor review a stage asks for (D+30 on the standard ladder): the supervisor looks at the case
and records what happens next, from the case or from the reviews queue."""

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.services import audit_record
from creditops.core.errors import DomainError

from ..models import ActionKind, CaseEvent, DunningAction
from ..selectors import case_supervisable_by
from .cases import NOTE_MAX_LENGTH
from .timeline import case_event_add


class ReviewOutcome(models.TextChoices):
    CONTINUE = "continue", gettext_lazy("Continue the ladder")
    REASSIGN = "reassign", gettext_lazy("Give the case to another collector")
    OFFER_PLAN = "offer_plan", gettext_lazy("Offer a payment plan")
    ESCALATE = "escalate", gettext_lazy("Escalate (legal, agency or write-off)")
    HOLD = "hold", gettext_lazy("Hold: the borrower's situation needs checking")


@transaction.atomic
def review_complete(*, action: DunningAction, outcome: str, note: str, actor) -> DunningAction:
    """Record the review's outcome and note; only the case's supervisor (or an administrator) may."""
    action = DunningAction.objects.select_for_update(of=("self",)).select_related("case").get(pk=action.pk)
    if action.kind != ActionKind.SUPERVISOR_REVIEW or action.case is None:
        raise DomainError(_("This is not a supervisor review."), code="review.not_a_review")
    if actor is None or not case_supervisable_by(actor, action.case):
        raise DomainError(_("Only the team's supervisor may complete this review."), code="case.forbidden")
    if action.status != DunningAction.Status.PENDING:
        raise DomainError(_("This review is already done."), code="action.not_pending")
    if outcome not in ReviewOutcome.values:
        raise DomainError(_("Choose what happens next."), code="review.outcome_invalid")
    note = (note or "").strip()
    if not note:
        raise DomainError(_("Say what the review found."), code="review.note_missing")
    if len(note) > NOTE_MAX_LENGTH:
        message = _("A note may have at most %(max)d characters.") % {"max": NOTE_MAX_LENGTH}
        raise DomainError(message, code="note.too_long")
    action.status, action.completed_at, action.result = DunningAction.Status.DONE, timezone.now(), outcome
    action.save(update_fields=["status", "completed_at", "result"])
    detail = {"action": action.pk, "kind": action.kind, "outcome": outcome, "note": note}
    case_event_add(case=action.case, kind=CaseEvent.Kind.ACTION_DONE, actor=actor, detail=detail)
    audit_record(actor=actor, event="review.completed", subject=action, detail=detail)
    return action
