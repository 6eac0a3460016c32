"""The managers' figures, read from the nightly run's portfolio snapshots and run records — never by
scanning the loan book on a page view. Every figure is for one business date and an optional product and
team (a team's figures are the loans of its open cases)."""

import datetime
import itertools
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from creditops.core.dates import add_months
from creditops.core.money import ZERO
from dunning.models import DunningRun, DunningStage, PortfolioSnapshot, RollRateCell, VintagePoint
from lending.models import Loan

Bucket = Loan.Bucket
# Delinquency thresholds as the buckets draw them: 1+ is past due at all, 30+ past 30 days, 90+ past 90.
DELINQUENT_BUCKETS = {
    "1": [Bucket.DPD_1_30, Bucket.DPD_31_60, Bucket.DPD_61_90, Bucket.DPD_91_180, Bucket.DPD_180_PLUS],
    "30": [Bucket.DPD_31_60, Bucket.DPD_61_90, Bucket.DPD_91_180, Bucket.DPD_180_PLUS],
    "90": [Bucket.DPD_91_180, Bucket.DPD_180_PLUS],
}
COMPARED_DAYS = (7, 30)
TREND_DAYS = 90


@dataclass(frozen=True)
class Scope:
    product_id: int | None = None
    team_id: int | None = None

    def rows(self, **filters) -> QuerySet[PortfolioSnapshot]:
        rows = PortfolioSnapshot.objects.filter(**filters)
        if self.product_id is not None:
            rows = rows.filter(product_id=self.product_id)
        if self.team_id is not None:
            rows = rows.filter(team_id=self.team_id)
        return rows

    @property
    def is_whole_book(self) -> bool:
        return self.product_id is None and self.team_id is None


def latest_snapshot_date() -> datetime.date | None:
    return PortfolioSnapshot.objects.order_by("-as_of").values_list("as_of", flat=True).first()


def _ratio(part, whole) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)) if whole else None


def book_figures(as_of: datetime.date, scope: Scope) -> dict | None:
    """Balances, loan counts and delinquency rates of one day's snapshot; None when there is none."""
    by_bucket = {
        row["aging_bucket"]: row
        for row in scope.rows(as_of=as_of)
        .values("aging_bucket")
        .annotate(loans=Sum("loan_count"), outstanding=Sum("outstanding_amount"), overdue=Sum("overdue_amount"))
        .order_by()
    }
    if not by_bucket:
        return None
    loans = sum(row["loans"] for row in by_bucket.values())
    outstanding = sum((row["outstanding"] for row in by_bucket.values()), ZERO)
    figures = {
        "loans": loans,
        "outstanding": outstanding,
        "overdue": sum((row["overdue"] for row in by_bucket.values()), ZERO),
    }
    for threshold, buckets in DELINQUENT_BUCKETS.items():
        rows = [by_bucket[bucket] for bucket in buckets if bucket in by_bucket]
        figures[f"rate_{threshold}_count"] = _ratio(sum(row["loans"] for row in rows), loans)
        figures[f"rate_{threshold}_balance"] = _ratio(sum((row["outstanding"] for row in rows), ZERO), outstanding)
    return figures


def run_figures(as_of: datetime.date) -> dict | None:
    """What the run of that date did to the whole book: newly delinquent loans (cases opened), cures."""
    run = DunningRun.objects.filter(as_of=as_of, status=DunningRun.Status.SUCCEEDED).only("counts").first()
    if run is None:
        return None
    closed = run.counts.get("cases_closed") or {}
    return {"new_delinquencies": run.counts.get("cases_opened", 0), "cures": closed.get("cured", 0)}


@dataclass
class Figure:
    key: str
    label: str
    kind: str  # "money", "count" or "rate"
    value: object
    change_7: object = None
    change_30: object = None


HEADLINE = [
    ("outstanding", _("Outstanding balance"), "money"),
    ("overdue", _("Overdue balance"), "money"),
    ("rate_1_count", _("1+ DPD rate (loans)"), "rate"),
    ("rate_1_balance", _("1+ DPD rate (balance)"), "rate"),
    ("rate_30_count", _("30+ DPD rate (loans)"), "rate"),
    ("rate_30_balance", _("30+ DPD rate (balance)"), "rate"),
    ("rate_90_count", _("90+ DPD rate (loans)"), "rate"),
    ("rate_90_balance", _("90+ DPD rate (balance)"), "rate"),
    ("new_delinquencies", _("New delinquencies"), "count"),
    ("cures", _("Cures"), "count"),
]


def headline(as_of: datetime.date, scope: Scope) -> list[Figure]:
    """The headline figures of `as_of`, each with its change against 7 and 30 days before (None where
    that day has no snapshot). The run's flows are for the whole book only."""
    days = {0: as_of, **{days: as_of - datetime.timedelta(days=days) for days in COMPARED_DAYS}}
    values = {offset: _day_values(day, scope) for offset, day in days.items()}
    figures = []
    for key, label, kind in HEADLINE:
        now = values[0].get(key)
        figure = Figure(key, str(label), kind, now)
        for days_before in COMPARED_DAYS:
            then = values[days_before].get(key)
            change = now - then if now is not None and then is not None else None
            setattr(figure, f"change_{days_before}", change)
        figures.append(figure)
    return figures


def _day_values(day: datetime.date, scope: Scope) -> dict:
    values = book_figures(day, scope) or {}
    if scope.is_whole_book:
        values.update(run_figures(day) or {})
    return values


def bucket_distribution(as_of: datetime.date, scope: Scope) -> list[dict]:
    """Loans and outstanding balance per aging bucket (every bucket listed, empty ones as zero)."""
    rows = {
        row["aging_bucket"]: row
        for row in scope.rows(as_of=as_of)
        .values("aging_bucket")
        .annotate(loans=Sum("loan_count"), outstanding=Sum("outstanding_amount"))
        .order_by()
    }
    loans = sum(row["loans"] for row in rows.values())
    outstanding = sum((row["outstanding"] for row in rows.values()), ZERO)
    distribution = []
    for bucket in Bucket:
        row = rows.get(bucket.value, {"loans": 0, "outstanding": ZERO})
        distribution.append({
            "bucket": bucket.value, "label": str(bucket.label), "loans": row["loans"],
            "loans_share": _ratio(row["loans"], loans), "outstanding": row["outstanding"],
            "outstanding_share": _ratio(row["outstanding"], outstanding),
        })  # fmt: skip
    return distribution


def cases_per_stage(as_of: datetime.date, scope: Scope) -> list[dict]:
    """Open cases per stage (a loan has at most one open case), in ladder order."""
    counts = dict(
        scope.rows(as_of=as_of, stage__isnull=False)
        .values("stage")
        .annotate(cases=Sum("loan_count"))
        .order_by()
        .values_list("stage", "cases")
    )
    stages = DunningStage.objects.filter(pk__in=counts).select_related("policy").order_by("policy", "start_dpd")
    return [{"stage": stage, "cases": counts[stage.pk]} for stage in stages]


def trend(end: datetime.date, scope: Scope, days: int = TREND_DAYS) -> list[dict]:
    """Per snapshot day of the last `days`: overdue balance and the 30+ rate by balance."""
    start = end - datetime.timedelta(days=days - 1)
    thirty_plus = DELINQUENT_BUCKETS["30"]
    per_day: dict[datetime.date, dict] = {}
    for row in (
        scope.rows(as_of__range=(start, end))
        .values("as_of", "aging_bucket")
        .annotate(outstanding=Sum("outstanding_amount"), overdue=Sum("overdue_amount"))
        .order_by()
    ):
        day = per_day.setdefault(row["as_of"], {"outstanding": ZERO, "overdue": ZERO, "thirty_plus": ZERO})
        day["outstanding"] += row["outstanding"]
        day["overdue"] += row["overdue"]
        if row["aging_bucket"] in thirty_plus:
            day["thirty_plus"] += row["outstanding"]
    return [
        {
            "day": day,
            "overdue": values["overdue"],
            "rate_30_balance": _ratio(values["thirty_plus"], values["outstanding"]),
        }
        for day, values in sorted(per_day.items())
    ]


# Roll rates and vintages: from the monthly history the nightly run keeps (dunning/services/history.py).
ROLL_BUCKETS = [bucket.value for bucket in Bucket]
ROLL_TARGETS = [*ROLL_BUCKETS, RollRateCell.CLOSED]
FLOW_MONTHS = 6
VINTAGES_SHOWN = 12


def _scoped(queryset, scope: Scope):
    if scope.product_id is not None:
        queryset = queryset.filter(product_id=scope.product_id)
    if scope.team_id is not None and hasattr(queryset.model, "team_id"):
        queryset = queryset.filter(team_id=scope.team_id)
    return queryset


def roll_rate_month(as_of: datetime.date) -> datetime.date | None:
    """The latest month whose roll rates are complete by `as_of` (its next month has started)."""
    return (
        RollRateCell.objects.filter(month__lt=as_of.replace(day=1))
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )


def roll_rate_matrix(month: datetime.date, scope: Scope) -> list[dict]:
    """Per bucket at the start of `month`: its balance then, the share of it in each bucket (or closed) at
    the start of the next month, and the summary: cured, stayed, rolled forward."""
    cells = (
        _scoped(RollRateCell.objects.filter(month=month), scope)
        .values("from_bucket", "to_bucket")
        .annotate(balance=Sum("balance_amount"))
    )
    balances: dict[str, dict[str, Decimal]] = {}
    for cell in cells:
        balances.setdefault(cell["from_bucket"], {})[cell["to_bucket"]] = cell["balance"]
    matrix = []
    for start in ROLL_BUCKETS:
        row = balances.get(start, {})
        total = sum(row.values(), ZERO)
        shares = {target: _ratio(row.get(target, ZERO), total) for target in ROLL_TARGETS}
        position = ROLL_BUCKETS.index(start)
        matrix.append({
            "bucket": start, "label": str(Bucket(start).label), "balance": total,
            "shares": [shares[target] for target in ROLL_TARGETS],
            "cured": shares["current"] if start != Bucket.CURRENT else None,
            "stayed": shares[start],
            "rolled_forward": _ratio(sum((row.get(t, ZERO) for t in ROLL_BUCKETS[position + 1:]), ZERO), total),
        })  # fmt: skip
    return matrix


def flow_rates(as_of: datetime.date, scope: Scope, months: int = FLOW_MONTHS) -> list[dict]:
    """For each of the last `months` complete months: the share of each bucket's balance that moved on
    to the next bucket by the month's end (current → 1–30, 1–30 → 31–60, …)."""
    last = roll_rate_month(as_of)
    if last is None:
        return []
    wanted = [add_months(last, -offset) for offset in range(months - 1, -1, -1)]
    cells = (
        _scoped(RollRateCell.objects.filter(month__in=wanted), scope)
        .values("month", "from_bucket", "to_bucket")
        .annotate(balance=Sum("balance_amount"))
    )
    totals: dict[tuple, Decimal] = {}
    moved: dict[tuple, Decimal] = {}
    for cell in cells:
        key = (cell["month"], cell["from_bucket"])
        totals[key] = totals.get(key, ZERO) + cell["balance"]
        following = ROLL_BUCKETS.index(cell["from_bucket"]) + 1
        if following < len(ROLL_BUCKETS) and cell["to_bucket"] == ROLL_BUCKETS[following]:
            moved[key] = cell["balance"]
    return [
        {"month": month, "rates": [_ratio(moved.get((month, start), ZERO), totals.get((month, start), ZERO))
                                   for start in ROLL_BUCKETS[:-1]]}
        for month in wanted if any((month, start) in totals for start in ROLL_BUCKETS)
    ]  # fmt: skip


def flow_labels() -> list[str]:
    return [f"{Bucket(start).label} → {Bucket(end).label}" for start, end in itertools.pairwise(ROLL_BUCKETS)]


def vintage_curves(scope: Scope, vintages: int = VINTAGES_SHOWN) -> list[dict]:
    """30+ DPD rate (loans) by months on book for the latest `vintages` origination months."""
    points = (
        _scoped(VintagePoint.objects.all(), scope)
        .values("disbursed_month", "months_on_book")
        .annotate(loans=Sum("loan_count"), late=Sum("loans_30_plus"))
    )
    curves: dict[datetime.date, dict[int, Decimal | None]] = {}
    for point in points:
        curves.setdefault(point["disbursed_month"], {})[point["months_on_book"]] = _ratio(point["late"], point["loans"])
    latest = sorted(curves, reverse=True)[:vintages]
    return [{"vintage": month, "points": sorted(curves[month].items())} for month in sorted(latest)]
