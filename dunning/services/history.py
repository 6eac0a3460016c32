"""Monthly portfolio history for roll rates and vintage curves. The first run of each month records every
active loan's bucket and balance (LoanMonthPosition); with last month's positions that gives last month's
roll-rate cells, and this month's positions give this month's vintage points. Only the aggregates are kept
for good: loan positions older than the previous month are deleted."""

import datetime

from django.db.models import Case, Count, FilteredRelation, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth

from creditops.core.dates import add_months
from creditops.core.db import insert_from_select
from creditops.core.money import ZERO
from lending.models import Installment, Loan

from ..models import LoanMonthPosition, MonthStart, RollRateCell, VintagePoint

Bucket = Loan.Bucket
THIRTY_PLUS = [Bucket.DPD_31_60, Bucket.DPD_61_90, Bucket.DPD_91_180, Bucket.DPD_180_PLUS]


def record_month_start(as_of: datetime.date) -> dict:
    """Write this month's history once (on the month's first run); later runs of the month change nothing.
    Roll rates need last month's start: a month whose start was missed gives none."""
    month = as_of.replace(day=1)
    if MonthStart.objects.filter(month=month).exists():
        return {}
    MonthStart.objects.create(month=month, as_of=as_of)
    positions = _write_positions(month, as_of)
    previous = add_months(month, -1)
    cells = _write_roll_rates(previous, month) if MonthStart.objects.filter(month=previous).exists() else 0
    points = _write_vintages(month, as_of)
    LoanMonthPosition.objects.filter(month__lt=previous).delete()
    return {"positions": positions, "roll_rate_cells": cells, "vintage_points": points}


def _write_positions(month: datetime.date, as_of: datetime.date) -> int:
    """Active loans disbursed by `as_of` with something still owed: bucket, balance (their unpaid
    instalments), the open case's team."""
    open_case = FilteredRelation("loan__cases", condition=Q(loan__cases__is_open=True))
    rows = (
        Installment.objects.filter(
            is_open=True, loan__status=Loan.Status.ACTIVE, loan__disbursed_on__lte=as_of
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
    # A loan no longer in the book: paid off (settled), written off, or closed otherwise.
    gone = Case(
        When(loan__status=Loan.Status.SETTLED, then=Value(RollRateCell.SETTLED)),
        When(loan__status=Loan.Status.WRITTEN_OFF, then=Value(RollRateCell.WRITTEN_OFF)),
        default=Value(RollRateCell.CLOSED),
    )
    rows = (
        LoanMonthPosition.objects.filter(month=previous)
        .annotate(to_bucket=Coalesce(Subquery(now), gone))
        .values("product_id", "team_id", "aging_bucket", "to_bucket")
        .annotate(loans=Count("pk"), balance=Sum("outstanding_amount"))
        .order_by()
        .values_list(Value(previous), "product_id", "team_id", "aging_bucket", "to_bucket", "loans", "balance")
    )
    columns = ["month", "product", "team", "from_bucket", "to_bucket", "loan_count", "balance_amount"]
    return insert_from_select(RollRateCell, columns, rows)


def _write_vintages(month: datetime.date, as_of: datetime.date) -> int:
    """Per product and disbursement month: the loans lent (every status) and, of them, those 30+ DPD now
    or written off; balances from the active positions."""
    thirty_plus = Q(aging_bucket__in=THIRTY_PLUS)
    balances = {
        (row["product_id"], _as_date(row["disbursed_month"])): row
        for row in LoanMonthPosition.objects.filter(month=month)
        .values("product_id", "disbursed_month")
        .annotate(loans_30=Count("pk", filter=thirty_plus), balance=Sum("outstanding_amount"),
                  balance_30=Sum("outstanding_amount", filter=thirty_plus))
        .order_by()
    }  # fmt: skip
    lent = (
        Loan.objects.filter(disbursed_on__lte=as_of)
        .values("product_id", disbursed_month=TruncMonth("disbursed_on"))
        .annotate(loans=Count("pk"), written_off=Count("pk", filter=Q(status=Loan.Status.WRITTEN_OFF)))
        .order_by()
    )
    points = []
    for group in lent:
        disbursed_month = _as_date(group["disbursed_month"])
        active = balances.get((group["product_id"], disbursed_month), {})
        points.append(VintagePoint(
            month=month, disbursed_month=disbursed_month, product_id=group["product_id"],
            months_on_book=_months_between(disbursed_month, month), loan_count=group["loans"],
            loans_30_plus=active.get("loans_30", 0) + group["written_off"],
            balance_amount=active.get("balance") or ZERO, balance_30_plus_amount=active.get("balance_30") or ZERO,
        ))  # fmt: skip
    VintagePoint.objects.bulk_create(points)
    return len(points)


def _as_date(value) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


def _months_between(start: datetime.date, end: datetime.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month
