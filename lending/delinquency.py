"""Days past due and aging buckets: one rule, used both for a single loan and set-based for the book.

DPD counts from the oldest unpaid due date. An installment is overdue from the day after its due date
(it can be paid all day long). Within the product's grace days a late installment does not make the loan
delinquent (DPD 0, though it shows as overdue); once grace has passed, DPD is the full number of days
since that due date.

Payments count as the ledger stands when the figures are computed, whatever their received date. That
is right for the business date being processed; replaying an old date after later payments were posted
counts those payments too (the nightly run processes each date in order, so it does not do that).
"""

import datetime
from decimal import Decimal

from .models import Loan

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
    overdue = list(loan.installments.filter(due_date__lt=as_of, outstanding_amount__gt=0).order_by("due_date"))
    oldest = overdue[0].due_date if overdue else None
    dpd = days_past_due(oldest, as_of, loan.product.grace_days)
    return {
        "days_past_due": dpd,
        "aging_bucket": bucket_for(dpd),
        "overdue_amount": sum((item.outstanding_amount for item in overdue), Decimal("0.00")),
        "oldest_overdue_due_date": oldest,
    }
