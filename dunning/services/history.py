"""Monthly portfolio history for roll rates and vintage curves. The first run of each month records every
active loan's bucket and balance (LoanMonthPosition); with last month's positions that gives last month's
roll-rate cells, and this month's positions give this month's vintage points. Only the aggregates are kept
for good: loan positions older than the previous month are deleted."""

import datetime

from django.db.models import Count, FilteredRelation, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth

from creditops.core.dates import add_months
from creditops.core.db import insert_from_select
from creditops.core.money import ZERO
from lending.models import Installment, Loan

from ..models import LoanMonthPosition, RollRateCell, VintagePoint

Bucket = Loan.Bucket
THIRTY_PLUS = [Bucket.DPD_31_60, Bucket.DPD_61_90, Bucket.DPD_91_180, Bucket.DPD_180_PLUS]


def record_month_start(as_of: datetime.date) -> dict:
    """Write this month's history once (on the month's first run); later runs of the month change nothing."""
    month = as_of.replace(day=1)
    if LoanMonthPosition.objects.filter(month=month).exists():
        return {}
    positions = _write_positions(month, as_of)
    previous = add_months(month, -1)
    cells = _write_roll_rates(previous, month) if LoanMonthPosition.objects.filter(month=previous).exists() else 0
    points = _write_vintages(month)
    LoanMonthPosition.objects.filter(month__lt=previous).delete()
    return {"positions": positions, "roll_rate_cells": cells, "vintage_points": points}


def _write_positions(month: datetime.date, as_of: datetime.date) -> int:
    """Active loans disbursed by `as_of` with something still owed: bucket, balance (their unpaid
    instalments), the open case's team."""
    open_case = FilteredRelation("loan__cases", condition=Q(loan__cases__is_open=True))
    rows = (
        Installment.objects.filter(
            outstanding_amount__gt=0, loan__status=Loan.Status.ACTIVE, loan__disbursed_on__lte=as_of
        )
        .annotate(open_case=open_case)
        .values("loan_id", "loan__product_id", "open_case__team_id", "loan__disbursed_on", "loan__aging_bucket")
        .annotate(total=Sum("outstanding_amount"))
        .order_by()
        .values_list(
            Value(month), "loan_id", "loan__product_id", "open_case__team_id", TruncMonth("loan__disbursed_on"),
            "loan__aging_bucket", "total",
        )
    )  # fmt: skip
    columns = ["month", "loan", "product", "team", "disbursed_month", "aging_bucket", "outstanding_amount"]
    return insert_from_select(LoanMonthPosition, columns, rows)


def _write_roll_rates(previous: datetime.date, month: datetime.date) -> int:
    """Where last month's loans are now, per product, team and bucket pair, in one INSERT … SELECT."""
    now = LoanMonthPosition.objects.filter(month=month, loan_id=OuterRef("loan_id")).values("aging_bucket")[:1]
    rows = (
        LoanMonthPosition.objects.filter(month=previous)
        .annotate(to_bucket=Coalesce(Subquery(now), Value(RollRateCell.CLOSED)))
        .values("product_id", "team_id", "aging_bucket", "to_bucket")
        .annotate(loans=Count("pk"), balance=Sum("outstanding_amount"))
        .order_by()
        .values_list(Value(previous), "product_id", "team_id", "aging_bucket", "to_bucket", "loans", "balance")
    )
    columns = ["month", "product", "team", "from_bucket", "to_bucket", "loan_count", "balance_amount"]
    return insert_from_select(RollRateCell, columns, rows)


def _write_vintages(month: datetime.date) -> int:
    thirty_plus = Q(aging_bucket__in=THIRTY_PLUS)
    groups = (
        LoanMonthPosition.objects.filter(month=month)
        .values("product_id", "disbursed_month")
        .annotate(
            loans=Count("pk"), loans_30=Count("pk", filter=thirty_plus), balance=Sum("outstanding_amount"),
            balance_30=Sum("outstanding_amount", filter=thirty_plus),
        )
        .order_by()
    )  # fmt: skip
    points = [
        VintagePoint(
            month=month,
            disbursed_month=_as_date(group["disbursed_month"]),
            product_id=group["product_id"],
            months_on_book=_months_between(_as_date(group["disbursed_month"]), month),
            loan_count=group["loans"],
            loans_30_plus=group["loans_30"],
            balance_amount=group["balance"],
            balance_30_plus_amount=group["balance_30"] or ZERO,
        )
        for group in groups
    ]
    VintagePoint.objects.bulk_create(points)
    return len(points)


def _as_date(value) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


def _months_between(start: datetime.date, end: datetime.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month
