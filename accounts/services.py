"""Writes for accounts; `audit_record` is the one helper every other service uses to leave a trace."""

from django.db import models

from .models import AuditEvent, User


def audit_record(*, actor: User | None, event: str, subject: models.Model | None = None, detail: dict | None = None):
    """Append one audit event. `actor` None means the system (nightly run, import, seed)."""
    subject_type = subject._meta.label_lower if subject is not None else ""
    subject_id = str(subject.pk) if subject is not None else ""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        event=event,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=detail or {},
    )


def audit_record_many(*, actor: User | None, event: str, subjects, details: dict) -> None:
    """One audit event per subject in one INSERT; `details` maps subject id to that event's detail."""
    actor = actor if actor is not None and actor.is_authenticated else None
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=actor,
            event=event,
            subject_type=subject._meta.label_lower,
            subject_id=str(subject.pk),
            detail=details[subject.pk],
        )
        for subject in subjects
    )


def preferred_language_set(*, user: User, language: str) -> None:
    """Remember the language a staff member chose (the portal then opens in it on any browser)."""
    if user.preferred_language != language:
        user.preferred_language = language
        user.save(update_fields=["preferred_language"])
