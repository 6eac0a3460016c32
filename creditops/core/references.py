"""Sequential human references per prefix and year, allocated under a row lock (no gaps, no duplicates)."""

from django.db import IntegrityError, transaction

from .models import ReferenceCounter


def format_reference(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-{year}-{number:06d}"


@transaction.atomic
def reference_allocate_block(*, prefix: str, year: int, count: int = 1) -> int:
    """Reserve `count` consecutive numbers and return the first. Called inside the transaction that uses
    the numbers, there are no gaps: the counter row stays locked until that transaction commits, and a
    rollback returns the numbers. (The demo seeder reserves blocks ahead of writing, so a failed seed can
    leave a gap in loan references; notices must allocate inside their own transaction.)"""
    counter = _locked_counter(prefix, year)
    first = counter.last_value + 1
    counter.last_value += count
    counter.save(update_fields=["last_value"])
    return first


def reference_next(*, prefix: str, year: int) -> str:
    return format_reference(prefix, year, reference_allocate_block(prefix=prefix, year=year))


def _locked_counter(prefix: str, year: int) -> ReferenceCounter:
    try:
        return ReferenceCounter.objects.select_for_update().get(prefix=prefix, year=year)
    except ReferenceCounter.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            ReferenceCounter.objects.create(prefix=prefix, year=year)
    except IntegrityError:
        pass  # another transaction created it first; lock theirs below
    return ReferenceCounter.objects.select_for_update().get(prefix=prefix, year=year)
