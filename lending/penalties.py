"""The nightly penalty accrual: the rule of lending/penalty_rule.py as set-based SQL over the whole book
(a few INSERT … SELECT and UPDATE statements, no Python loop over loans), and the pauses that stop it."""

import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, DecimalField, Exists, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Cast, Coalesce, Greatest, Round
from django.utils import timezone

from creditops.core.db import DaysBetween, insert_from_select
from creditops.core.money import ZERO

from .models import GraceRule, Installment, Loan, Payment, PenaltyBase, PenaltyEntry, PenaltyPause
from .penalty_replay import penalty_replay

EXACT_FIELD = DecimalField(max_digits=24, decimal_places=8)
MONEY_FIELD = DecimalField(max_digits=18, decimal_places=2)


def _unpaid(part):
    return F(f"{part}_amount") - F(f"{part}_paid_amount")


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
    """Installments charged on `day`, annotated with days, base and exact amount (the rule above)."""
    late = DaysBetween(Value(day), F("due_date"))
    grace = F("loan__product__grace_days")
    days = Case(
        When(Q(loan__penalty_grace_rule=GraceRule.CHARGED_BACK) & Q(late_days=grace + 1), then=grace + 1),
        default=Value(1),
    )
    paused = PenaltyPause.objects.filter(loan=OuterRef("loan_id"), ended_on__isnull=True)
    # A loan with money received after `day` (a catch-up of a missed date) is replayed instead (see below).
    paid_later = Payment.objects.filter(loan=OuterRef("loan_id"), received_on__gt=day, status=Payment.Status.POSTED)
    return (
        Installment.objects.filter(due_date__lt=day, outstanding_amount__gt=0, loan__status=Loan.Status.ACTIVE)
        .filter(Q(penalty_accrued_on__isnull=True) | Q(penalty_accrued_on__lt=day), loan__penalty_daily_rate__gt=0)
        .annotate(late_days=late, base=_base_expression())
        .filter(late_days__gt=grace, base__gt=0)
        .exclude(Exists(paused))
        .exclude(Exists(paid_later))
        .annotate(
            days=days,
            exact=Cast(Round(F("base") * F("loan__penalty_daily_rate") * F("days"), 8), EXACT_FIELD),
        )
    )


def _cost_cap_reached(day: datetime.date, chargeable):
    """Loans whose charges today would pass their cost cap (see the module docstring)."""
    todays = chargeable.filter(loan_id=OuterRef("pk")).values("loan_id").annotate(total=Sum("exact")).values("total")
    term_days = Greatest(DaysBetween(F("maturity_date"), F("disbursed_on")), DaysBetween(Value(day), F("disbursed_on")))
    allowed = F("principal_amount") * F("penalty_cost_cap_rate") * term_days / Value(Decimal(365))
    return (
        Loan.objects.filter(pk__in=chargeable.values("loan_id"))
        .annotate(today=Subquery(todays, output_field=EXACT_FIELD))
        .filter(Q(today__gt=allowed - F("contract_cost_amount") - F("penalty_accrued_amount")))
    )


@transaction.atomic
def penalty_accrue(*, day: datetime.date, paused_loans: dict | None = None) -> dict:
    """Charge `day`'s penalty on the whole book (the nightly run's step). `paused_loans` maps a pause
    reason (plan, dispute) to a queryset of loan ids the collections side says are paused on that day.
    Running a day twice adds nothing: an installment charged for the day is not chosen again."""
    pauses = penalty_pauses_sync(day=day, paused_loans=paused_loans or {})
    chargeable = _chargeable(day)
    capped = _cost_cap_reached(day, chargeable)
    pauses["cost_cap"] = insert_from_select(
        PenaltyPause, ["loan", "reason", "started_on"],
        capped.values_list("pk", Value(PenaltyPause.Reason.COST_CAP), Value(day)),
    )  # fmt: skip
    stamp = timezone.now()  # marks the rows this run inserts, for _book_day
    amount = Cast(Round(F("penalty_exact_amount") + F("exact"), 2) - F("penalty_amount"), MONEY_FIELD)
    columns = [
        "loan", "installment", "accrued_on", "kind", "revision", "days", "base_amount", "daily_rate",
        "exact_amount", "amount", "created_at",
    ]  # fmt: skip
    rows = _chargeable(day).values_list(
        "loan_id", "pk", Value(day), Value(PenaltyEntry.Kind.ACCRUAL), Value(0), "days", "base",
        "loan__penalty_daily_rate", "exact", amount, Value(stamp),
    )  # fmt: skip
    entries = insert_from_select(PenaltyEntry, columns, rows)
    _book_day(day, stamp)
    return {"entries": entries, "pauses": pauses, "replayed": _replay_loans_paid_later(day)}


def _replay_loans_paid_later(day: datetime.date) -> int:
    """A catch-up of a missed day meets money received after it: those few loans are charged for the day
    by re-playing it (their balance at the end of the day is not today's)."""
    loan_ids = (
        Payment.objects.filter(received_on__gt=day, status=Payment.Status.POSTED, loan__first_due_date__lt=day)
        .filter(Q(loan__status=Loan.Status.ACTIVE) | Q(loan__settled_on__gt=day))
        .exclude(loan__penalty_daily_rate=0)
        .values_list("loan_id", flat=True)
        .distinct()
    )
    loan_ids = list(loan_ids)
    for loan_id in loan_ids:
        penalty_replay(loan_id=loan_id, since=day, through=day)
    return len(loan_ids)


def _book_day(day: datetime.date, stamp) -> None:
    """Raise each charged installment's penalty and each loan's penalty total by the entries just made."""
    todays = PenaltyEntry.objects.filter(accrued_on=day, kind=PenaltyEntry.Kind.ACCRUAL, created_at=stamp)
    of_installment = todays.filter(installment=OuterRef("pk"))
    Installment.objects.filter(pk__in=todays.values("installment_id")).update(
        penalty_exact_amount=F("penalty_exact_amount") + Subquery(of_installment.values("exact_amount")[:1]),
        penalty_amount=F("penalty_amount") + Subquery(of_installment.values("amount")[:1]),
        penalty_accrued_on=day,
    )
    per_loan = todays.filter(loan=OuterRef("pk")).values("loan").annotate(total=Sum("amount")).values("total")
    Loan.objects.filter(pk__in=todays.values("loan_id")).update(
        penalty_accrued_amount=F("penalty_accrued_amount") + Coalesce(Subquery(per_loan), Value(ZERO))
    )


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
        open_pauses.exclude(loan_id__in=loan_ids).update(ended_on=day)
        newly = Loan.objects.filter(pk__in=loan_ids, status=Loan.Status.ACTIVE, **{term_of[reason]: True}).exclude(
            pk__in=open_pauses.values("loan_id")
        )
        opened[reason] = insert_from_select(
            PenaltyPause, ["loan", "reason", "started_on"], newly.values_list("pk", Value(reason), Value(day))
        )
    return opened
