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


def case_events_add(
    *, cases, kind: str, actor=None, details: dict, as_of: datetime.date | None = None, dates: dict | None = None
) -> None:
    """One timeline entry per case in one INSERT; `details` maps case id to that entry's detail, and
    `dates` (optional) to its business date when the entries are not all dated `as_of`."""
    now, as_of = timezone.now(), as_of or business_today()
    dates = dates or {}
    actor = actor if actor is not None and actor.is_authenticated else None
    CaseEvent.objects.bulk_create(
        CaseEvent(
            case=case, kind=kind, actor=actor, as_of=dates.get(case.pk, as_of), occurred_at=now,
            detail=details[case.pk],
        )
        for case in cases
    )  # fmt: skip
