"""The case timeline: every service that changes a case appends here."""

import datetime

from django.utils import timezone

from creditops.core.dates import business_today

from ..models import CaseEvent, CollectionCase


def case_event_add(
    *,
    case: CollectionCase,
    kind: str,
    actor=None,
    detail: dict | None = None,
    as_of: datetime.date | None = None,
) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        as_of=as_of or business_today(),
        occurred_at=timezone.now(),
        detail=detail or {},
    )
