"""Reads for the audit-trail screens."""

from django.db.models import Q, QuerySet

from dunning.models import ContactAttempt

from .models import AuditEvent

# The screen's categories: which events each one gathers.
REVEAL_EVENTS = ["personal_data.revealed", "personal_data.viewed"]
# Every export the portal records (add new export events here, so the filter stays on the event index).
EXPORT_EVENTS = ["audit.exported", "dashboard.exported", "admin.exported"]
APPROVAL_EVENTS = ["approval.requested", "approval.decided"]
BLOCKED_CONTACT_EVENTS = ["contact.blocked"]


# Both audit screens list newest first by their time and id, a page at a time after the last row shown:
# every filter then reads an index in that order (the time's alone, the event's, the actor's), and a
# date range is one index range instead of a walk from the newest row back to the range.
def audit_events() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor").order_by("-created_at", "-id")


def blocked_contacts() -> QuerySet[ContactAttempt]:
    return (
        ContactAttempt.objects.filter(decision=ContactAttempt.Decision.BLOCKED)
        .select_related("actor", "loan", "borrower")
        .order_by("-attempted_at", "-id")
    )


def older_than(rows, time_field: str, before: int):
    """The rows after row `before` in the order (time desc, id desc); none if that row does not exist."""
    moment = rows.model.objects.filter(pk=before).values_list(time_field, flat=True).first()
    if moment is None:
        return rows.none()
    # The redundant `time <= moment` gives the index scan its start; the OR alone would not.
    older = Q(**{f"{time_field}__lt": moment}) | Q(**{time_field: moment, "pk__lt": before})
    return rows.filter(**{f"{time_field}__lte": moment}).filter(older)
