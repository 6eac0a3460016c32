"""The managers' figures, read from the nightly run's portfolio snapshots and run records — never by
scanning the loan book on a page view. Every figure is for one business date and an optional product and
team (a team's figures are the loans of its open cases)."""

import datetime
import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections, transaction
from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Team, User
from creditops.core.dates import add_months, business_today
from creditops.core.money import ZERO, to_money
from dunning.models import (
    ApprovalRequest,
    CloseReason,
    CollectionCase,
    ContactAttempt,
    Dispute,
    DunningRun,
    DunningStage,
    PortfolioSnapshot,
    RollRateCell,
    VintagePoint,
)
from lending.models import Component, LedgerEntry, LedgerEntryLine, Loan, PaymentAllocation

from .models import ActivityDay, DailyActivity
from .services import activity_count, activity_record

Bucket = Loan.Bucket
# Delinquency thresholds as the buckets draw them: 1+ is past due at all, 30+ past 30 days, 90+ past 90.
DELINQUENT_BUCKETS = {
    "1": [Bucket.DPD_1_30, Bucket.DPD_31_60, Bucket.DPD_61_90, Bucket.DPD_91_180, Bucket.DPD_180_PLUS],
    "30": [Bucket.DPD_31_60, Bucket.DPD_61_90, Bucket.DPD_91_180, Bucket.DPD_180_PLUS],
    "90": [Bucket.DPD_91_180, Bucket.DPD_180_PLUS],
}
COMPARED_DAYS = (7, 30)
TREND_DAYS = 90
PERFORMANCE_DAYS = 30


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


def latest_snapshot_date(on_or_before: datetime.date | None = None) -> datetime.date | None:
    snapshots = PortfolioSnapshot.objects.all()
    if on_or_before is not None:
        snapshots = snapshots.filter(as_of__lte=on_or_before)
    return snapshots.order_by("-as_of").values_list("as_of", flat=True).first()


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


def run_figures(start: datetime.date, end: datetime.date | None = None) -> dict | None:
    """What the runs from `start` to `end` (default: that one day) did to the whole book: newly delinquent
    loans (cases opened) and cures (cases closed because nothing is overdue, or the loan was paid off)."""
    runs = list(
        DunningRun.objects.filter(as_of__range=(start, end or start), status=DunningRun.Status.SUCCEEDED).only("counts")
    )
    if not runs:
        return None
    closed = [run.counts.get("cases_closed") or {} for run in runs]
    return {
        "new_delinquencies": sum(run.counts.get("cases_opened", 0) for run in runs),
        "cures": sum(day.get("cured", 0) + day.get("settled", 0) for day in closed),
    }


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
    ("amount_collected", _("Amount recovered"), "money"),
    ("penalty_charged", _("Penalty charged"), "money"),
    ("penalty_collected", _("Penalty collected"), "money"),
    ("promises_made", _("Promises made"), "count"),
    ("promise_kept_rate", _("Promises kept (of those due)"), "rate"),
    ("notices_issued", _("Notices issued"), "count"),
    ("notices_delivered", _("Notices delivered"), "count"),
    ("notices_failed", _("Notices failed"), "count"),
]
# What changed debts without money, and money received after a write-off: read from the ledger for a period
# (the dashboard's chosen period, the report's month), each an indexed query over that period's entries.
ENTRY_HEADLINE = [
    ("penalty_waived", _("Penalty waived"), "money"),
    ("written_off", _("Amount written off"), "money"),
    ("recovered_principal", _("Recovered after write-off: principal"), "money"),
    ("recovered_other", _("Recovered after write-off: interest, fees and penalty"), "money"),
    ("settlements_discounted", _("Settlements paid with discount"), "count"),
    ("settlement_discount", _("Discount granted in settlements"), "money"),
]
HEADLINE += ENTRY_HEADLINE
ENTRY_FIGURES = {key for key, _label, _kind in ENTRY_HEADLINE}


ACTIVITY_HEADLINE = {
    "amount_collected", "penalty_charged", "penalty_collected", "promises_made", "promise_kept_rate", "notices_issued",
    "notices_delivered", "notices_failed",
}  # fmt: skip


def headline(as_of: datetime.date, scope: Scope, period_days: int = PERFORMANCE_DAYS) -> list[Figure]:
    """The headline figures of `as_of`, each with its change against 7 and 30 days before (None where
    that day has no figure). The run's flows are for the whole book only. Today's activity is not over:
    it is labelled "so far" and not compared with whole days. Waivers, write-offs, recoveries and
    settlements are for the period of `period_days` ending on the day (the activity tables' period),
    compared with the same period ending 7 and 30 days before; their labels name the period."""
    days = {0: as_of, **{days: as_of - datetime.timedelta(days=days) for days in COMPARED_DAYS}}
    values = {offset: _day_values(day, day, day, scope) for offset, day in days.items()}
    periods = {offset: (day - datetime.timedelta(days=period_days - 1), day) for offset, day in days.items()}
    for offset, figures in entry_totals(periods, scope).items():
        values[offset].update(figures)
    day_running = as_of >= business_today()
    start, end = (f"{day:%Y-%m-%d}" for day in periods[0])
    figures = []
    for key, label, kind in HEADLINE:
        partial = day_running and (key in ACTIVITY_HEADLINE or key in ENTRY_FIGURES)
        if key in ENTRY_FIGURES:
            text = (
                _("%(figure)s, %(start)s to %(end)s (today so far)")
                if partial
                else _("%(figure)s, %(start)s to %(end)s")
            )
            shown = str(text % {"figure": label, "start": start, "end": end})
        else:
            shown = str(_("%(figure)s, today so far") % {"figure": label}) if partial else str(label)
        figure = Figure(key, shown, kind, values[0].get(key))
        if not partial:
            for days_before in COMPARED_DAYS:
                setattr(figure, f"change_{days_before}", _change(figure.value, values[days_before].get(key)))
        figures.append(figure)
    return figures


def period_headline(start: datetime.date, end: datetime.date, scope: Scope) -> list[Figure]:
    """The headline for a period (the monthly report): the book at its last snapshot, the runs' flows, the
    activity and the ledger's entries summed over the period, each compared with the period of the same
    length before it."""
    length = (end - start).days + 1
    before_start, before_end = start - datetime.timedelta(days=length), start - datetime.timedelta(days=1)
    now = _day_values(latest_snapshot_date(on_or_before=end), start, end, scope)
    then = _day_values(latest_snapshot_date(on_or_before=before_end), before_start, before_end, scope)
    entries = entry_totals({"now": (start, end), "then": (before_start, before_end)}, scope)
    now.update(entries["now"])
    then.update(entries["then"])
    return [
        Figure(key, str(label), kind, now.get(key), change_30=_change(now.get(key), then.get(key)))
        for key, label, kind in HEADLINE
    ]


def _change(now, then):
    return now - then if now is not None and then is not None else None


def _day_values(book_day: datetime.date | None, start: datetime.date, end: datetime.date, scope: Scope) -> dict:
    """The book as of `book_day` (its snapshot), and the flows and activity from `start` to `end`."""
    values = (book_figures(book_day, scope) if book_day else None) or {}
    if scope.is_whole_book:
        values.update(run_figures(start, end) or {})
    values.update(activity_totals(start, end, scope))
    return values


Kind = LedgerEntry.Kind
# Entries that waive debt: their lines' penalty part is the penalty waived (net of waivers taken back, which
# are entries of the same kind, and of a re-play's re-applied lines, which are lines of the same entries).
WAIVING_KINDS = [Kind.WAIVER, Kind.SETTLEMENT_DISCOUNT]
# The entries the figures read: waivers of penalty (a waiver names the one part it waives), settlement
# discounts (every part) and write-offs.
COUNTED_ENTRIES = Q(kind=Kind.WAIVER, component=Component.PENALTY) | Q(
    kind__in=[Kind.SETTLEMENT_DISCOUNT, Kind.WRITE_OFF, Kind.WRITE_OFF_UNDO]
)


def _case_of_team(scope: Scope, loan: str, day: str):
    """Rows whose loan (the path `loan`) had a case of the scope's team that day (the path `day`): open
    that day, or closed by the loan's write-off before it (as activity is attributed: services.py)."""
    on_the_day = Q(opened_on__lte=OuterRef(day)) & (Q(closed_on__isnull=True) | Q(closed_on__gte=OuterRef(day)))
    written_off = Q(close_reason=CloseReason.WRITTEN_OFF, closed_on__lte=OuterRef(day))
    return Exists(
        CollectionCase.objects.filter(loan_id=OuterRef(loan), team_id=scope.team_id).filter(on_the_day | written_off)
    )


def _entry_rows(queryset, scope: Scope, loan: str, day: str, group: list[str]):
    """`queryset` within the scope, grouped by `group`. A team's rows are told apart by a test in the
    grouping (`in_team`, an index probe of the loan's cases per row), not a filter: as a filter PostgreSQL
    would join it by hashing every case of the team ever opened."""
    if scope.product_id is not None:
        queryset = queryset.filter(**{f"{loan}__product_id": scope.product_id})
    if scope.team_id is not None:
        queryset = queryset.annotate(in_team=_case_of_team(scope, loan, day))
        group = [*group, "in_team"]
    return queryset.values(*group)


def entry_totals(periods: dict, scope: Scope) -> dict[object, dict]:
    """For each period {key: (start, end)}: penalty waived (waiver and settlement-discount lines, by the
    entry's effective date), written off (write-off entries, less those undone, on the day of the undo),
    recoveries (allocations of money received
    after a write-off, by the day received; principal and the rest apart, net of reversals and of an
    undone write-off, which re-plays them as ordinary payments) and settlements paid with discount (their
    discount entries: how many, and what they waived, net of discounts taken back when a payment of the
    settlement was reversed, by the day each was effective — over time, the discounts that stand).

    One grouped query whatever the number of periods (a row per day and kind, summed into the periods
    here), driven by LedgerEntry's (kind, effective_on) index over the days from the earliest start to the
    latest end, so its cost follows those days' entries and never the history before them. A recovery is
    found through its recovery entry (dated the day the money was received: PaymentAllocation has no index
    on is_recovery). What an entry's lines waived of penalty, and what a recovery's payment paid, are
    subqueries inside the sums: an index probe per entry, which PostgreSQL cannot turn into a join reading
    every line or allocation ever written. A write-off's and a discount's own amount is what their lines
    sum to (a re-play never adds lines to them)."""
    first = min(start for start, _end in periods.values())
    last = max(end for _start, end in periods.values())
    recovery = Q(kind=Kind.RECOVERY, reverses__isnull=True)  # the entry a recovered payment made
    entries = _entry_rows(
        LedgerEntry.objects.filter(COUNTED_ENTRIES | recovery, effective_on__range=(first, last)),
        scope, "loan", "effective_on", ["effective_on", "kind"],
    )  # fmt: skip
    money = LedgerEntryLine._meta.get_field("penalty_amount")
    penalty = Subquery(
        LedgerEntryLine.objects.filter(entry=OuterRef("pk"))
        .order_by()
        .values("entry")
        .annotate(total=Sum("penalty_amount"))
        .values("total"),
        output_field=money,
    )

    def recovered(expression):
        return Subquery(
            PaymentAllocation.objects.filter(payment=OuterRef("payment_id"), is_recovery=True)
            .order_by()
            .values("payment")
            .annotate(total=Sum(expression))
            .values("total"),
            output_field=money,
        )

    discount = Q(kind=Kind.SETTLEMENT_DISCOUNT)
    per_day = entries.annotate(
        penalty_total=Sum(penalty, filter=Q(kind__in=WAIVING_KINDS)),
        entries_total=Sum("amount"),
        # A discount taken back (a payment of the settlement reversed) is an entry of the same kind that
        # reverses it, with the opposite amount: net by the day each was effective, as the penalty.
        discounts_granted=Count("pk", filter=discount & Q(reverses__isnull=True)),
        discounts_taken_back=Count("pk", filter=discount & Q(reverses__isnull=False)),
        # An undone write-off counts no more: the day of the undo takes back what it wrote off.
        undone_total=Sum("reverses__amount", filter=Q(kind=Kind.WRITE_OFF_UNDO)),
        principal_total=Sum(recovered(F("principal_amount")), filter=Q(kind=Kind.RECOVERY)),
        other_total=Sum(
            recovered(F("interest_amount") + F("fee_amount") + F("penalty_amount")), filter=Q(kind=Kind.RECOVERY)
        ),
    ).order_by()  # fmt: skip
    with _no_jit(per_day.db):
        rows = list(per_day)
    totals = {key: dict.fromkeys(ENTRY_FIGURES, ZERO) | {"settlements_discounted": 0} for key in periods}
    for row in rows:
        if row.get("in_team") is False:  # the scope's team held no case of the loan that day
            continue
        kind = row["kind"]
        figures = {
            "penalty_waived": row["penalty_total"],
            "written_off": row["entries_total"] if kind == Kind.WRITE_OFF else -(row["undone_total"] or 0),
            "settlements_discounted": row["discounts_granted"] - row["discounts_taken_back"],
            "settlement_discount": row["entries_total"] if kind == Kind.SETTLEMENT_DISCOUNT else 0,
            "recovered_principal": row["principal_total"],
            "recovered_other": row["other_total"],
        }
        for key, (start, end) in periods.items():
            if start <= row["effective_on"] <= end:
                for figure, value in figures.items():
                    totals[key][figure] += value or 0
    for figures in totals.values():
        for figure in ENTRY_FIGURES - {"settlements_discounted"}:
            figures[figure] = _money(figures[figure])
    return totals


@contextmanager
def _no_jit(using: str):
    """No JIT compilation on PostgreSQL for the statement run inside: the per-entry subqueries make its
    estimated cost look high, and compiling it cost more than running it (measured: 0.22 of 0.36 s for a
    year of entries). One statement more, SET LOCAL, in a transaction of its own (or the caller's, to its
    end: JIT only speeds up, never changes, what a statement returns)."""
    if connections[using].vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=using, savepoint=False):
        with connections[using].cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def _money(value) -> Decimal:
    """A sum of money to the cent (SQLite sums decimals in binary floats), zero for no rows."""
    return ZERO if value is None else to_money(value)


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
    recovered = recoveries_per_day(start, end, scope)
    return [
        {
            "day": day,
            "overdue": values["overdue"],
            "rate_30_balance": _ratio(values["thirty_plus"], values["outstanding"]),
            "recovered": recovered.get(day, ZERO),
        }
        for day, values in sorted(per_day.items())
    ]


def recoveries_per_day(start: datetime.date, end: datetime.date, scope: Scope) -> dict[datetime.date, Decimal]:
    """Money collected on loans in collection, per day: stored days (counting those missing once), and
    today live."""
    today = business_today()
    last_finished = min(end, today - datetime.timedelta(days=1))
    _count_missing_days(start, last_finished)
    rows = DailyActivity.objects.filter(as_of__range=(start, last_finished))
    if scope.product_id is not None:
        rows = rows.filter(product_id=scope.product_id)
    if scope.team_id is not None:
        rows = rows.filter(team_id=scope.team_id)
    per_day = dict(
        rows.values("as_of").annotate(total=Sum("amount_collected")).order_by().values_list("as_of", "total")
    )
    if start <= today <= end:
        per_day[today] = activity_totals(today, today, scope)["amount_collected"]
    return per_day


def team_performance(collectors: list[dict]) -> list[dict]:
    """The collector table rolled up per team (a collector in two teams counts in the first, by name)."""
    first_team: dict[int, int] = {}
    memberships = Team.members.through.objects.filter(user_id__in=[row["collector"].pk for row in collectors])
    for user_id, team_id in memberships.order_by("team__name").values_list("user_id", "team_id"):
        first_team.setdefault(user_id, team_id)
    team_by_id = Team.objects.in_bulk(set(first_team.values()))
    teams: dict[int, dict] = {}
    for row in collectors:
        team = team_by_id.get(first_team.get(row["collector"].pk))
        if team is None:
            continue
        merged = teams.setdefault(team.pk, {"team": team, **dict.fromkeys(ACTIVITY_FIELDS, 0)})
        for name in ACTIVITY_FIELDS:
            merged[name] += row[name] or 0
    for merged in teams.values():
        merged["kept_rate"] = _ratio(merged["promises_kept"], merged["promises_kept"] + merged["promises_broken"])
    return sorted(teams.values(), key=lambda merged: merged["team"].name)


# Roll rates and vintages: from the monthly history the nightly run keeps (dunning/services/history.py).
ROLL_BUCKETS = [bucket.value for bucket in Bucket]
ROLL_TARGETS = [*ROLL_BUCKETS, RollRateCell.SETTLED, RollRateCell.WRITTEN_OFF, RollRateCell.CLOSED]
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
        # Paid off counts as cured; written off as rolled forward (the last step of the ladder).
        cured = row.get(Bucket.CURRENT, ZERO) + row.get(RollRateCell.SETTLED, ZERO)
        worse = sum((row.get(t, ZERO) for t in [*ROLL_BUCKETS[position + 1 :], RollRateCell.WRITTEN_OFF]), ZERO)
        matrix.append({
            "bucket": start, "label": str(Bucket(start).label), "balance": total,
            "shares": [shares[target] for target in ROLL_TARGETS],
            "cured": _ratio(cured, total) if start != Bucket.CURRENT else None,
            "stayed": shares[start],
            "rolled_forward": _ratio(worse, total),
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


GONE_LABELS = {
    RollRateCell.SETTLED: pgettext_lazy("roll rate", "Paid off"),
    RollRateCell.WRITTEN_OFF: pgettext_lazy("roll rate", "Written off"),
    RollRateCell.CLOSED: pgettext_lazy("roll rate", "Closed otherwise"),
}


def roll_target_labels() -> list[str]:
    return [str(Bucket(target).label if target in Bucket.values else GONE_LABELS[target]) for target in ROLL_TARGETS]


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


# Activity: stored per finished day (DailyActivity), today's counted live.
ACTIVITY_FIELDS = [
    "cases_worked", "contacts", "right_party_contacts", "blocked_contacts", "promises_made", "promises_kept",
    "promises_broken", "amount_collected", "penalty_charged", "penalty_collected", "notices_issued",
    "notices_delivered", "notices_failed",
]  # fmt: skip


def activity_by_key(start: datetime.date, end: datetime.date) -> dict[tuple, dict]:
    """Activity from `start` to `end` per (product, team, collector). Finished days not yet counted are
    counted now, once, and stored; today is counted live and not stored."""
    today = business_today()
    last_finished = min(end, today - datetime.timedelta(days=1))
    _count_missing_days(start, last_finished)
    totals: dict[tuple, dict] = {}
    stored = (
        DailyActivity.objects.filter(as_of__range=(start, last_finished))
        .values("product_id", "team_id", "collector_id")
        .annotate(**{name: Sum(name) for name in ACTIVITY_FIELDS})
        .order_by()
    )
    for row in stored:
        totals[(row.pop("product_id"), row.pop("team_id"), row.pop("collector_id"))] = row
    if start <= today <= end:
        for key, figures in activity_count(today).items():
            merged = totals.setdefault(key, dict.fromkeys(ACTIVITY_FIELDS, 0))
            for name, value in figures.items():
                merged[name] = (merged[name] or 0) + value
    return totals


# A page view counts at most this many missing days (the most recent); older gaps are for the nightly
# recount or `manage.py count_activity`, so no request can be made to count years of history.
MAX_DAYS_COUNTED_ON_DEMAND = 40


def _count_missing_days(start: datetime.date, end: datetime.date) -> None:
    start = max(start, _first_activity_day() or end + datetime.timedelta(days=1))
    if end < start:
        return
    counted = set(ActivityDay.objects.filter(as_of__range=(start, end)).values_list("as_of", flat=True))
    missing = [day for day in _days(start, end) if day not in counted]
    for day in missing[-MAX_DAYS_COUNTED_ON_DEMAND:]:
        activity_record(day)


def _first_activity_day() -> datetime.date | None:
    """Nothing happened before the book's first run or its first contact (both read from an index)."""
    first_run = PortfolioSnapshot.objects.order_by("as_of").values_list("as_of", flat=True).first()
    first_contact = ContactAttempt.objects.order_by("attempted_at").values_list("attempted_at", flat=True).first()
    days = [first_run, timezone.localdate(first_contact) if first_contact else None]
    return min((day for day in days if day is not None), default=None)


def _days(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    return [start + datetime.timedelta(days=offset) for offset in range((end - start).days + 1)]


def activity_totals(start: datetime.date, end: datetime.date, scope: Scope) -> dict:
    totals = dict.fromkeys(ACTIVITY_FIELDS, 0)
    for (product, team, _collector), figures in activity_by_key(start, end).items():
        if scope.product_id not in (None, product) or scope.team_id not in (None, team):
            continue
        for name in ACTIVITY_FIELDS:
            totals[name] += figures[name] or 0
    evaluated = totals["promises_kept"] + totals["promises_broken"]
    totals["promise_kept_rate"] = _ratio(totals["promises_kept"], evaluated)
    return totals


def collector_performance(as_of: datetime.date, scope: Scope, *, days: int = PERFORMANCE_DAYS) -> list[dict]:
    """Per collector over the last `days`: cases worked, contacts, right-party contacts, promises, kept
    rate, amount collected, and the average DPD of the open cases they hold now."""
    start = as_of - datetime.timedelta(days=days - 1)
    per_collector: dict[int, dict] = {}
    for (product, team, collector), figures in activity_by_key(start, as_of).items():
        if collector is None or scope.product_id not in (None, product) or scope.team_id not in (None, team):
            continue
        merged = per_collector.setdefault(collector, dict.fromkeys(ACTIVITY_FIELDS, 0))
        for name in ACTIVITY_FIELDS:
            merged[name] += figures[name] or 0
    books = CollectionCase.objects.filter(is_open=True, assigned_to__in=per_collector)
    if scope.product_id is not None:
        books = books.filter(loan__product_id=scope.product_id)
    average_dpd = dict(books.values("assigned_to").annotate(dpd=Avg("days_past_due")).values_list("assigned_to", "dpd"))
    names = {user.pk: user for user in User.objects.filter(pk__in=per_collector)}
    rows = []
    for collector, figures in sorted(per_collector.items(), key=lambda item: names[item[0]].username):
        evaluated = figures["promises_kept"] + figures["promises_broken"]
        rows.append({"collector": names[collector], **figures, "kept_rate": _ratio(figures["promises_kept"], evaluated),
                     "average_dpd": average_dpd.get(collector)})  # fmt: skip
    return rows


def compliance_panel(as_of: datetime.date, *, days: int = PERFORMANCE_DAYS) -> dict:
    """Blocked contact attempts by rule over the last `days`, open disputes, approvals waiting by kind."""
    start = timezone.make_aware(datetime.datetime.combine(as_of - datetime.timedelta(days=days - 1), datetime.time.min))
    end = timezone.make_aware(datetime.datetime.combine(as_of + datetime.timedelta(days=1), datetime.time.min))
    blocked = (
        ContactAttempt.objects.filter(
            decision=ContactAttempt.Decision.BLOCKED, attempted_at__gte=start, attempted_at__lt=end
        )
        .values("rule")
        .annotate(attempts=Count("pk"))
        .order_by("-attempts", "rule")
    )
    waiting = (
        ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING)
        .values("kind")
        .annotate(requests=Count("pk"))
        .order_by("kind")
    )
    return {
        "blocked_by_rule": list(blocked),
        "open_disputes": Dispute.objects.filter(status=Dispute.Status.OPEN).count(),
        "approvals_waiting": [
            {"kind": str(ApprovalRequest.Kind(row["kind"]).label), "requests": row["requests"]} for row in waiting
        ],
    }
