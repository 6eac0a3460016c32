"""Reads for the audit-trail screens."""

from django.db.models import QuerySet

from dunning.models import ContactAttempt

from .models import AuditEvent

# The screen's categories: which events each one gathers.
REVEAL_EVENTS = ["personal_data.revealed", "personal_data.viewed"]
# Every export the portal records (add new export events here, so the filter stays on the event index).
EXPORT_EVENTS = ["audit.exported", "dashboard.exported", "admin.exported"]
APPROVAL_EVENTS = ["approval.requested", "approval.decided"]
BLOCKED_CONTACT_EVENTS = ["contact.blocked"]


def audit_events() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor").order_by("-id")


def blocked_contacts() -> QuerySet[ContactAttempt]:
    return (
        ContactAttempt.objects.filter(decision=ContactAttempt.Decision.BLOCKED)
        .select_related("actor", "loan", "borrower")
        .order_by("-id")
    )
