"""Days past due and aging buckets: one rule, used both for a single loan and set-based for the book.

DPD counts from the oldest unpaid due date — the day an installment counts as due, which is its due date,
or the next business day when its product moves due dates off weekends and public holidays (the
installment's `effective_due_date`). An installment is overdue from the day after (it can be paid all
day long). Within the product's grace days a late installment does not make the loan
delinquent (DPD 0, though it shows as overdue); once grace has passed, DPD is the full number of days
since that due date.

Payments count as the ledger stands when the figures are computed, whatever their received date. That
is right for the business date being processed; replaying an old date after later payments were posted
counts those payments too (the nightly run processes each date in order, so it does not do that).
"""

import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual, IsNull

from creditops.core.db import DaysBetween
from creditops.core.money import ZERO

from .models import Installment, Loan, Product

Bucket = Loan.Bucket
# (bucket, highest DPD in it); the last bucket is open-ended.
BUCKET_UPPER_BOUNDS = [
    (Bucket.CURRENT, 0),
    (Bucket.DPD_1_30, 30),
    (Bucket.DPD_31_60, 60),
    (Bucket.DPD_61_90, 90),
    (Bucket.DPD_91_180, 180),
    (Bucket.DPD_180_PLUS, None),
]


def bucket_for(days_past_due: int) -> str:
    for bucket, upper in BUCKET_UPPER_BOUNDS:
        if upper is None or days_past_due <= upper:
            return bucket
    raise AssertionError("unreachable: the last bucket is open-ended")


def days_past_due(oldest_unpaid_due_date: datetime.date | None, as_of: datetime.date, grace_days: int) -> int:
    if oldest_unpaid_due_date is None:
        return 0
    late_by = (as_of - oldest_unpaid_due_date).days
    return late_by if late_by > grace_days else 0


def loan_delinquency(loan: Loan, as_of: datetime.date) -> dict:
    """DPD, bucket and overdue amount of one loan computed from its installments (no stored fields)."""
    overdue = list(loan.installments.filter(effective_due_date__lt=as_of, is_open=True).order_by("effective_due_date"))
    oldest = overdue[0].effective_due_date if overdue else None
    dpd = days_past_due(oldest, as_of, loan.product.grace_days)
    return {
        "days_past_due": dpd,
        "aging_bucket": bucket_for(dpd),
        "overdue_amount": sum((item.outstanding_amount for item in overdue), Decimal("0.00")),
        "oldest_overdue_due_date": oldest,
    }


@transaction.atomic
def delinquency_refresh(*, as_of: datetime.date, loan_ids: list[int] | None = None) -> int:
    """Recompute oldest overdue due date, overdue amount, DPD and bucket for every active loan as of a
    business date, set-based (a few UPDATE statements, no Python loop over loans). Only loans that are
    overdue now or were marked overdue before are written, each once; each statement is driven by an index
    on those few rows, never by a scan of the book. Returns how many loans were rewritten (see
    lending/delinquency.py for the rule). `loan_ids` limits it to those loans."""
    overdue_items = Installment.objects.filter(loan=OuterRef("pk"), effective_due_date__lt=as_of, is_open=True)
    oldest = Subquery(overdue_items.order_by("effective_due_date").values("effective_due_date")[:1])
    overdue_amount = Coalesce(
        Subquery(overdue_items.values("loan").annotate(total=Sum("outstanding_amount")).values("total")), Value(ZERO)
    )
    loans = Loan.objects.all() if loan_ids is None else Loan.objects.filter(pk__in=loan_ids)
    active = loans.filter(status=Loan.Status.ACTIVE)
    overdue_loan_ids = Installment.objects.filter(effective_due_date__lt=as_of, is_open=True).values("loan_id")
    rewritten = 0
    # Grace days differ per product, and UPDATE cannot join; products are few, so statements per product.
    for product_id, grace_days in Product.objects.values_list("pk", "grace_days"):
        figures = {
            "oldest_overdue_due_date": oldest, "overdue_amount": overdue_amount,
            **_dpd_and_bucket(as_of, grace_days, oldest),
        }  # fmt: skip
        of_product = active.filter(product_id=product_id)
        # Two statements rather than one with OR: an OR around the IN (subquery) defeats the semi-join.
        rewritten += of_product.filter(oldest_overdue_due_date__isnull=False).update(**figures)
        rewritten += of_product.filter(oldest_overdue_due_date__isnull=True, pk__in=overdue_loan_ids).update(**figures)
    # Loans no longer active (settled, written off) keep no delinquency.
    loans.exclude(status=Loan.Status.ACTIVE).filter(oldest_overdue_due_date__isnull=False).update(
        oldest_overdue_due_date=None, overdue_amount=ZERO, days_past_due=0, aging_bucket=Loan.Bucket.CURRENT
    )
    return rewritten


def _dpd_and_bucket(as_of: datetime.date, grace_days: int, oldest) -> dict:
    """UPDATE expressions for DPD and bucket from `oldest`, the oldest unpaid due date as of the business
    date (an expression: the stored column still holds yesterday's value). Bucket limits become due-date
    thresholds: DPD > n exactly when the oldest unpaid due date is before as_of - n days."""
    within_grace = Q(IsNull(oldest, True)) | Q(GreaterThanOrEqual(oldest, as_of - datetime.timedelta(days=grace_days)))
    dpd = Case(When(within_grace, then=Value(0)), default=DaysBetween(Value(as_of), oldest))
    bucket_rules = [When(within_grace, then=Value(Loan.Bucket.CURRENT))]
    for bucket, upper in BUCKET_UPPER_BOUNDS[1:-1]:
        bucket_rules.append(
            When(GreaterThanOrEqual(oldest, as_of - datetime.timedelta(days=upper)), then=Value(bucket))
        )
    bucket = Case(*bucket_rules, default=Value(BUCKET_UPPER_BOUNDS[-1][0]))
    return {"days_past_due": dpd, "aging_bucket": bucket}
