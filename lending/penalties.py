"""The nightly penalty accrual: the rule of lending/penalty_rule.py as set-based SQL over the whole book
(a few INSERT … SELECT and UPDATE statements, no Python loop over loans), and the pauses that stop it."""

import datetime
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Case, DecimalField, F, Max, Q, Sum, Value, When
from django.db.models.functions import Cast, Greatest, Round
from django.utils import timezone

from creditops.core.db import DaysBetween, insert_from_select, jit_off
from creditops.core.money import ZERO

from .delinquency import delinquency_refresh
from .models import GraceRule, Installment, Loan, Payment, PenaltyBase, PenaltyEntry, PenaltyPause
from .penalty_replay import penalty_replay

ONE_DAY = datetime.timedelta(days=1)
EXACT_FIELD = DecimalField(max_digits=24, decimal_places=8)
MONEY_FIELD = DecimalField(max_digits=18, decimal_places=2)


def _unpaid(part):
    return F(f"{part}_amount") - F(f"{part}_paid_amount") - F(f"{part}_adjusted_amount")


def _base_expression():
    principal, interest, fee = _unpaid("principal"), _unpaid("interest"), _unpaid("fee")
    base = Case(
        When(loan__penalty_base=PenaltyBase.PRINCIPAL, then=principal),
        When(loan__penalty_base=PenaltyBase.PRINCIPAL_INTEREST, then=principal + interest),
        default=principal + interest + fee,
        output_field=MONEY_FIELD,
    )
    compounding = Case(When(loan__penalty_compounds=True, then=_unpaid("penalty")), default=Value(ZERO))
    return base + compounding


def _chargeable(day: datetime.date):
    """Installments charged on `day`, annotated with days, base and exact amount (the rule above).
    Driven by the loans the day's delinquency refresh found overdue (their partial index) and each one's
    unpaid installments (theirs): the planner cannot misjudge that as a scan of every installment."""
    late = DaysBetween(Value(day), F("effective_due_date"))
    grace = F("loan__grace_days")
    days = Case(
        When(Q(loan__penalty_grace_rule=GraceRule.CHARGED_BACK) & Q(late_days=grace + 1), then=grace + 1),
        default=Value(1),
    )
    # Loans not charged today: paused ones, and those with money received on `day` or later (at 01:30
    # usually none), which are replayed instead (see below) since the day is charged on the balance at its
    # start, not today's. As NOT IN (subquery) PostgreSQL reads each set once into a hash ("hashed SubPlan");
    # a NOT EXISTS was probed for each of ~250,000 installments (1.3 s at 1M loans).
    paused = PenaltyPause.objects.filter(ended_on__isnull=True).values("loan_id")
    paid_later = Payment.objects.filter(received_on__gte=day, status=Payment.Status.POSTED).values("loan_id")
    return (
        Installment.objects.filter(loan__oldest_overdue_due_date__isnull=False, loan__status=Loan.Status.ACTIVE)
        # due_date ≤ effective_due_date: the first test adds nothing but lets the unpaid-installment index
        # stop at the loan's installments due before the day, instead of reading all its future ones.
        .filter(due_date__lt=day, effective_due_date__lt=day, is_open=True, loan__penalty_daily_rate__gt=0)
        .filter(Q(penalty_accrued_on__isnull=True) | Q(penalty_accrued_on__lt=day))
        .annotate(late_days=late, base=_base_expression())
        .filter(late_days__gt=grace, base__gt=0)
        .exclude(loan_id__in=paused)
        .exclude(loan_id__in=paid_later)
        .annotate(
            days=days,
            exact=Cast(Round(F("base") * F("loan__penalty_daily_rate") * F("days"), 8), EXACT_FIELD),
        )
        .order_by()
    )


def _cost_cap_reached(day: datetime.date, chargeable):
    """Loans whose charges today would pass their cost cap (see lending/penalty_rule.py), from the day's
    charges grouped by loan. Only loans near their cap are looked at: no installment's base exceeds all
    the loan owes (at most principal + interest + fees + penalty), so a day's charges cannot exceed that
    × the daily rate × (grace days + 1), and a loan with more room than that is skipped on its own row."""
    term_days = Greatest(
        DaysBetween(F("loan__maturity_date"), F("loan__disbursed_on")), DaysBetween(Value(day), F("loan__disbursed_on"))
    )
    allowed = F("loan__principal_amount") * F("loan__penalty_cost_cap_rate") * term_days / Value(Decimal(365))
    room = allowed - F("loan__contract_cost_amount") - F("loan__penalty_accrued_amount")
    owed_at_most = F("loan__principal_amount") + F("loan__contract_cost_amount") + F("loan__penalty_accrued_amount")
    most_today = owed_at_most * F("loan__penalty_daily_rate") * (F("loan__grace_days") + 1)
    return (
        chargeable.alias(room_today=room, most_today=most_today)
        .filter(most_today__gt=F("room_today"))
        .values("loan_id")
        .annotate(today=Sum("exact"), room=Max(room, output_field=EXACT_FIELD))
        .filter(today__gt=F("room"))
    )


@transaction.atomic
def penalty_accrue(*, day: datetime.date, paused_loans: dict | None = None) -> dict:
    """Charge `day`'s penalty on the whole book (the nightly run's step, after the day's delinquency
    refresh, which says which loans are overdue). `paused_loans` maps a pause reason (plan, dispute) to a
    queryset of loan ids the collections side says are paused on that day. Running a day twice adds
    nothing: an installment charged for the day is not chosen again."""
    with jit_off():
        pauses = penalty_pauses_sync(day=day, paused_loans=paused_loans or {})
        capped = _cost_cap_reached(day, _chargeable(day))
        pauses["cost_cap"] = insert_from_select(
            PenaltyPause, ["loan", "reason", "started_on"],
            capped.values_list("loan_id", Value(PenaltyPause.Reason.COST_CAP), Value(day)),
        )  # fmt: skip
        amount = Cast(Round(F("penalty_exact_amount") + F("exact"), 2) - F("penalty_amount"), MONEY_FIELD)
        columns = [
            "loan", "installment", "accrued_on", "kind", "revision", "days", "base_amount", "daily_rate",
            "exact_amount", "amount", "created_at",
        ]  # fmt: skip
        rows = _chargeable(day).values_list(
            "loan_id", "pk", Value(day), Value(PenaltyEntry.Kind.ACCRUAL), Value(0), "days", "base",
            "loan__penalty_daily_rate", "exact", amount, Value(timezone.now()),
        )  # fmt: skip
        if connection.vendor == "postgresql":
            entries = _accrue_in_one_statement(day, columns, rows)
        else:
            entries = insert_from_select(PenaltyEntry, columns, rows)
            _book_day(day)
    return {"entries": entries, "pauses": pauses, "replayed": _replay_loans_paid_later(day)}


# The day's new entries are those of installments not yet booked for the day (penalty_accrued_on before
# it): loans first (their penalty total, and their overdue amount, which the refresh computed before the
# day's penalty), then the installments, which marks them booked.
BOOK_LOANS = """
    UPDATE lending_loan
    SET penalty_accrued_amount = lending_loan.penalty_accrued_amount + day.total,
        overdue_amount = lending_loan.overdue_amount + day.total
    FROM (
        SELECT e.loan_id, SUM(e.amount) AS total
        FROM lending_penaltyentry e JOIN lending_installment i ON i.id = e.installment_id
        WHERE e.accrued_on = %(day)s AND e.kind = 'accrual' AND e.revision = 0
          AND (i.penalty_accrued_on IS NULL OR i.penalty_accrued_on < %(day)s)
        GROUP BY e.loan_id
    ) AS day
    WHERE lending_loan.id = day.loan_id
"""
BOOK_INSTALLMENTS = """
    UPDATE lending_installment
    SET penalty_exact_amount = lending_installment.penalty_exact_amount + e.exact_amount,
        penalty_amount = lending_installment.penalty_amount + e.amount,
        penalty_accrued_on = e.accrued_on
    FROM lending_penaltyentry e
    WHERE e.installment_id = lending_installment.id AND e.accrued_on = %(day)s AND e.kind = 'accrual'
      AND e.revision = 0
      AND (lending_installment.penalty_accrued_on IS NULL OR lending_installment.penalty_accrued_on < %(day)s)
"""


# PostgreSQL: the day's entries, their installments and their loans in one statement. The chargeable set is
# computed once (the INSERT's SELECT) and its RETURNING rows drive both UPDATEs by primary key: nothing is
# read back from the entry table, and no installment needs the "not yet booked" test again (one snapshot).
# Measured at 1M loans against the three statements below: bench/README.md §9.
ACCRUE_IN_ONE_STATEMENT = """
    WITH entries AS (
        INSERT INTO lending_penaltyentry ({columns}) {select}
        RETURNING loan_id, installment_id, exact_amount, amount
    ), installments AS (
        UPDATE lending_installment
        SET penalty_exact_amount = lending_installment.penalty_exact_amount + entries.exact_amount,
            penalty_amount = lending_installment.penalty_amount + entries.amount,
            penalty_accrued_on = %s
        FROM entries
        WHERE lending_installment.id = entries.installment_id
    ), loans AS (
        UPDATE lending_loan
        SET penalty_accrued_amount = lending_loan.penalty_accrued_amount + day.total,
            overdue_amount = lending_loan.overdue_amount + day.total
        FROM (SELECT loan_id, SUM(amount) AS total FROM entries GROUP BY loan_id) AS day
        WHERE lending_loan.id = day.loan_id
    )
    SELECT COUNT(*) FROM entries
"""


def _accrue_in_one_statement(day: datetime.date, columns: list[str], rows) -> int:
    try:
        select_sql, params = rows.query.sql_with_params()
    except EmptyResultSet:
        return 0
    quote = connection.ops.quote_name
    names = ", ".join(quote(PenaltyEntry._meta.get_field(column).column) for column in columns)
    with connection.cursor() as cursor:
        # The UPDATEs join ~250,000 returned rows to 16.5 M installments and 1 M loans: by primary key, never
        # a hash of a whole table (the CTE's row estimate can tempt the planner into one); and the chargeable
        # installments are found through the unpaid-installment indexes, never by reading all 16.5 M (which
        # the planner chose once the exclusions became hashed subplans: 2.6 s against 0.5 s).
        cursor.execute("SET LOCAL enable_hashjoin = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        # The returned rows (~20 MB) and their sums by loan kept in memory, not spilled to temporary files.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(ACCRUE_IN_ONE_STATEMENT.format(columns=names, select=select_sql), [*params, day])
        count = cursor.fetchone()[0]
        for setting in ("enable_hashjoin", "enable_mergejoin", "enable_seqscan", "work_mem"):
            cursor.execute(f"RESET {setting}")
    return count


def _book_day(day: datetime.date) -> None:
    """SQLite: raise each charged installment's penalty and each loan's totals by the day's new entries
    (raw UPDATE … FROM: the ORM's correlated subqueries are far slower)."""
    with connection.cursor() as cursor:
        cursor.execute(BOOK_LOANS, {"day": day})
        cursor.execute(BOOK_INSTALLMENTS, {"day": day})


def penalty_pauses_sync(*, day: datetime.date, paused_loans: dict) -> dict:
    """Open a pause for each loan newly paused on `day` (where its terms pause for that reason) and end
    the pauses of loans no longer paused. Returns {reason: pauses opened}."""
    term_of = {
        PenaltyPause.Reason.PLAN: "penalty_pause_in_plan",
        PenaltyPause.Reason.DISPUTE: "penalty_pause_in_dispute",
    }
    opened = {}
    for reason, loan_ids in paused_loans.items():
        open_pauses = PenaltyPause.objects.filter(reason=reason, ended_on__isnull=True)
        # Ended: no longer paused, or no longer active (settled, written off) with nothing left to pause.
        no_longer = ~Q(loan_id__in=loan_ids) | ~Q(loan__status=Loan.Status.ACTIVE)
        PenaltyPause.objects.filter(pk__in=open_pauses.filter(no_longer).values("pk")).update(ended_on=day)
        newly = Loan.objects.filter(pk__in=loan_ids, status=Loan.Status.ACTIVE, **{term_of[reason]: True}).exclude(
            pk__in=open_pauses.values("loan_id")
        )
        opened[str(reason)] = insert_from_select(
            PenaltyPause, ["loan", "reason", "started_on"], newly.values_list("pk", Value(reason), Value(day))
        )
    return opened


def _replay_loans_paid_later(day: datetime.date) -> int:
    """Loans with money received on `day` or after it (posted before the day's run, or a catch-up of a
    missed day): each is charged for the day by re-playing it from the day before, so the charge is on the
    balance at the day's start and the money is allocated after it."""
    loan_ids = list(
        Payment.objects.filter(received_on__gte=day, status=Payment.Status.POSTED, loan__first_due_date__lt=day)
        .filter(Q(loan__status=Loan.Status.ACTIVE) | Q(loan__settled_on__gte=day))
        .exclude(loan__penalty_daily_rate=0)
        .values_list("loan_id", flat=True)
        .distinct()
    )
    for loan_id in loan_ids:
        penalty_replay(loan_id=loan_id, since=day - ONE_DAY, through=day)
    if loan_ids:  # the day's refresh ran before their penalty was charged
        delinquency_refresh(as_of=day, loan_ids=loan_ids)
    return len(loan_ids)
