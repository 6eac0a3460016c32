"""Counting a finished day's collections work into DailyActivity, once per day: by the next nightly run,
or on demand when a dashboard asks for a day nobody counted. Each count is one grouped query over that
day's rows (contacts, promises, payments, notices), on an index of its date."""

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from creditops.core.money import ZERO
from dunning.models import CloseReason, CollectionCase, ContactAttempt, PromiseToPay
from lending.imports.bulk import chunked, one_of
from lending.models import Payment, PaymentAllocation, PenaltyEntry
from notices.models import Notice, NoticeDelivery

from .models import ActivityDay, DailyActivity

Outcome = ContactAttempt.Outcome
# A contact that reached the borrower (not a third party, not voicemail).
RIGHT_PARTY_OUTCOMES = [Outcome.REACHED, Outcome.PROMISE_TO_PAY, Outcome.REFUSED, Outcome.DISPUTE_RAISED,
                        Outcome.CALL_BACK]  # fmt: skip
DELIVERED = [NoticeDelivery.Status.SENT, NoticeDelivery.Status.PRINTED]
UNDELIVERED = [NoticeDelivery.Status.FAILED, NoticeDelivery.Status.BOUNCED]


def activity_record(as_of: datetime.date, *, recount: bool = False) -> int:
    """Count `as_of`'s work (a finished day) unless it was counted already; `recount` replaces an earlier
    count (payments reversed since, bank files posted late, deliveries finished later). Returns the rows
    written."""
    try:
        with transaction.atomic():
            day, created = ActivityDay.objects.select_for_update().get_or_create(as_of=as_of)
            if not created and not recount:
                return 0
            DailyActivity.objects.filter(as_of=as_of).delete()
            rows = activity_count(as_of)
            DailyActivity.objects.bulk_create(
                DailyActivity(as_of=as_of, product_id=product, team_id=team, collector_id=collector, **figures)
                for (product, team, collector), figures in rows.items()
            )
            if not created:
                ActivityDay.objects.filter(pk=day.pk).update(computed_at=timezone.now())
    except IntegrityError:  # being counted by someone else right now
        return 0
    return len(rows)


def activity_count(as_of: datetime.date) -> dict:
    """The day's figures per (product, team, collector), computed now (today's, which is not stored)."""
    rows: dict[tuple, dict] = defaultdict(dict)

    def add(queryset, keys):
        for row in queryset:
            key = tuple(row.pop(name) for name in keys)
            for name, value in row.items():
                rows[key][name] = rows[key].get(name, 0) + (value or 0)

    start = timezone.make_aware(datetime.datetime.combine(as_of, datetime.time.min))
    end = start + datetime.timedelta(days=1)
    allowed, blocked = Q(decision=ContactAttempt.Decision.ALLOWED), Q(decision=ContactAttempt.Decision.BLOCKED)
    contacts = ContactAttempt.objects.filter(attempted_at__gte=start, attempted_at__lt=end, is_automatic=False)
    add(
        contacts.values("loan__product_id", "case__team_id", "actor_id").annotate(
            cases_worked=Count("case", distinct=True), contacts=Count("pk", filter=allowed),
            right_party_contacts=Count("pk", filter=allowed & Q(outcome__in=RIGHT_PARTY_OUTCOMES)),
            blocked_contacts=Count("pk", filter=blocked),
        ).order_by(),
        ["loan__product_id", "case__team_id", "actor_id"],
    )  # fmt: skip
    promise_keys = ["case__loan__product_id", "case__team_id", "created_by_id"]
    add(
        PromiseToPay.objects.filter(made_on=as_of).values(*promise_keys).annotate(promises_made=Count("pk")).order_by(),
        promise_keys,
    )
    add(
        PromiseToPay.objects.filter(evaluated_on=as_of).values(*promise_keys).annotate(
            promises_kept=Count("pk", filter=Q(status=PromiseToPay.Status.KEPT)),
            promises_broken=Count("pk", filter=Q(status__in=[PromiseToPay.Status.BROKEN,
                                                             PromiseToPay.Status.PARTIALLY_KEPT])),
        ).order_by(),
        promise_keys,
    )  # fmt: skip
    add(_collected(as_of), ["product", "team", "collector"])
    add(_penalty_charged(as_of), ["product", "team", "collector"])
    add(
        Notice.objects.filter(issued_on=as_of, status=Notice.Status.ISSUED)
        .values("loan__product_id", "case__team_id", "case__assigned_to_id")
        .annotate(
            notices_issued=Count("pk", distinct=True),
            notices_delivered=Count("pk", filter=Q(deliveries__status__in=DELIVERED), distinct=True),
            notices_failed=Count("pk", filter=Q(deliveries__status__in=UNDELIVERED), distinct=True),
        )
        .order_by(),
        ["loan__product_id", "case__team_id", "case__assigned_to_id"],
    )
    for figures in rows.values():
        for money in ("amount_collected", "penalty_charged", "penalty_collected"):
            figures.setdefault(money, ZERO)
    return rows


def _collected(as_of: datetime.date) -> list[dict]:
    """The day's posted payments on loans in collection: the money, and the part of it that paid penalty."""
    received = Payment.objects.filter(received_on=as_of, status=Payment.Status.POSTED)
    money = received.values("loan_id").annotate(total=Sum("amount")).order_by().values_list("loan_id", "total")
    penalty = (
        PaymentAllocation.objects.filter(payment__in=received)
        .values("payment__loan_id")
        .annotate(total=Sum("penalty_amount"))
        .order_by()
        .values_list("payment__loan_id", "total")
    )
    return [
        *_by_case_of_loan(as_of, dict(money), "amount_collected"),
        *_by_case_of_loan(as_of, dict(penalty), "penalty_collected"),
    ]


def _penalty_charged(as_of: datetime.date) -> list[dict]:
    """The penalty charged for the day (net of removals of that day made since), by the loan's case."""
    charged = (
        PenaltyEntry.objects.filter(accrued_on=as_of)
        .values("loan_id")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("loan_id", "total")
    )
    return _by_case_of_loan(as_of, dict(charged), "penalty_charged")


def _by_case_of_loan(as_of: datetime.date, per_loan: dict[int, Decimal], figure: str) -> list[dict]:
    """Amounts per loan summed by the team and collector of the loan's case that day: the case open that
    day, or — for recoveries after a write-off — the case the write-off closed."""
    open_that_day = Q(opened_on__lte=as_of) & (Q(closed_on__isnull=True) | Q(closed_on__gte=as_of))
    written_off = Q(close_reason=CloseReason.WRITTEN_OFF, closed_on__lte=as_of)
    rows: dict[tuple, Decimal] = defaultdict(Decimal)
    counted: set[int] = set()
    for loan_ids in chunked(sorted(per_loan)):
        cases = (
            CollectionCase.objects.filter(one_of("loan_id", loan_ids))
            .filter(open_that_day | written_off)
            .order_by("loan_id", "-opened_on", "-pk")  # a loan's latest case first: the one that counts
            .values_list("loan_id", "loan__product_id", "team_id", "assigned_to_id")
        )
        for loan_id, product, team, collector in cases:
            if loan_id not in counted:
                counted.add(loan_id)
                rows[(product, team, collector)] += per_loan[loan_id] or ZERO
    return [
        {"product": product, "team": team, "collector": collector, figure: amount}
        for (product, team, collector), amount in rows.items()
    ]
