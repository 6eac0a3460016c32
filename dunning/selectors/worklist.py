"""The worklist: a case's place in it is its priority; pages follow on from the last row shown (keyset
pagination), so page 2,000 costs what page 1 does and nothing ever counts the whole list."""

import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from creditops.core.dates import business_today
from creditops.core.parsing import parse_id

from ..models import Callback, CollectionCase, PromiseToPay
from . import cases_visible_to

WORKLIST_PAGE_SIZE = 50


def worklist_cases(user, *, today: datetime.date | None = None) -> QuerySet[CollectionCase]:
    """Open cases in the user's scope, highest priority first, with what each row shows."""
    today = today or business_today()
    due_today = PromiseToPay.objects.due_on(today).filter(case=OuterRef("pk"))
    return (
        cases_visible_to(user)
        .filter(is_open=True)
        .select_related("loan__product", "borrower", "stage", "assigned_to")
        .annotate(promise_due_today=Exists(due_today))
        .order_by("-priority_score", "id")
    )


def worklist_page(cases: QuerySet, *, after: str = "", size: int | None = None) -> tuple[list, str]:
    """One page of `cases` (ordered by -priority_score, id) after the cursor "priority:id", and the cursor
    of the next page ("" on the last)."""
    size = size or WORKLIST_PAGE_SIZE
    priority, case_id = parse_cursor(after)
    if case_id is not None:
        # The redundant `priority_score <= p` gives the index scan a start; the OR alone would not.
        cases = cases.filter(priority_score__lte=priority).filter(
            Q(priority_score__lt=priority) | Q(priority_score=priority, id__gt=case_id)
        )
    rows = list(cases[: size + 1])
    if len(rows) <= size:
        return rows, ""
    last = rows[size - 1]
    return rows[:size], f"{last.priority_score}:{last.pk}"


def parse_cursor(cursor: str) -> tuple[int, int | None]:
    """ "priority:id" → (priority, id); anything else → (0, None), the first page."""
    priority, _sep, case_id = cursor.partition(":")
    priority, case_id = parse_id(priority), parse_id(case_id)
    if priority is None or case_id is None:
        return 0, None
    return priority, case_id


def worklist_counts(user, *, today: datetime.date | None = None) -> dict[str, int]:
    """The figures above the worklist: one pass over the user's open cases for three of them (a
    supervisor's scope is half the book, where separate COUNTs would each scan it), one for promises."""
    today = today or business_today()
    open_cases = cases_visible_to(user).filter(is_open=True)
    counts = open_cases.aggregate(
        open=Count("pk"),
        broken_promises=Count("pk", filter=Q(broken_promises__gt=0)),
        new_today=Count("pk", filter=Q(opened_on=today)),
    )
    counts["promises_due_today"] = PromiseToPay.objects.due_on(today).filter(case__in=open_cases).count()
    return counts


def worklist_next(cases: QuerySet, case: CollectionCase) -> int | None:
    """The id of the case after `case` in the worklist `cases` (ordered by -priority_score, id): the "next case"
    button walks the list the collector came from, filters and all."""
    after = cases.filter(priority_score__lte=case.priority_score).filter(
        Q(priority_score__lt=case.priority_score) | Q(priority_score=case.priority_score, id__gt=case.pk)
    )
    return after.values_list("pk", flat=True).first()


CALLBACKS_SHOWN = 20


def callbacks_due(user, *, now=None) -> list[Callback]:
    """The user's pending callbacks due by the end of today (the lender's day), earliest first: the top of
    the collector's worklist."""
    now = now or timezone.now()
    end_of_today = timezone.localtime(now).replace(hour=23, minute=59, second=59, microsecond=0)
    return list(
        Callback.objects.filter(
            status=Callback.Status.PENDING, due_at__lte=end_of_today,
            case__in=cases_visible_to(user).filter(is_open=True, assigned_to=user),
        )
        .select_related("case__loan__product", "case__borrower")
        .order_by("due_at", "id")[:CALLBACKS_SHOWN]
    )  # fmt: skip
