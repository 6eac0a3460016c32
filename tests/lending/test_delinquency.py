"""Days past due, aging buckets, grace days, and the set-based delinquency_refresh checked against the
per-loan rule (lending.delinquency.loan_delinquency)."""

import datetime
from decimal import Decimal

import pytest

from lending.delinquency import bucket_for, days_past_due, delinquency_refresh, loan_delinquency
from lending.models import Loan
from tests.factories import ProductFactory

from .conftest import total_owed

D = Decimal
ZERO = D("0.00")
FIRST_DUE = datetime.date(2026, 2, 15)  # the default loan's first due date; 1066.19 due each month
LEVEL = D("1066.19")

BOUNDARIES = [
    (0, "current"),
    (1, "1-30"),
    (30, "1-30"),
    (31, "31-60"),
    (60, "31-60"),
    (61, "61-90"),
    (90, "61-90"),
    (91, "91-180"),
    (180, "91-180"),
    (181, "180+"),
]


@pytest.fixture
def grace_product(db):
    return ProductFactory(code="GRACE3", grace_days=3)


def stored(loan):
    loan = Loan.objects.get(pk=loan.pk)
    return {
        "days_past_due": loan.days_past_due,
        "aging_bucket": loan.aging_bucket,
        "overdue_amount": loan.overdue_amount,
        "oldest_overdue_due_date": loan.oldest_overdue_due_date,
    }


def current():
    return {"days_past_due": 0, "aging_bucket": "current", "overdue_amount": ZERO, "oldest_overdue_due_date": None}


# -- the pure rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("dpd", "bucket"), BOUNDARIES)
def test_bucket_boundaries(dpd, bucket):
    assert bucket_for(dpd) == bucket


def test_bucket_is_open_ended():
    assert bucket_for(10_000) == "180+"


@pytest.mark.parametrize(("dpd", "bucket"), BOUNDARIES)
def test_days_past_due_counts_from_the_oldest_unpaid_due_date(dpd, bucket):
    as_of = FIRST_DUE + datetime.timedelta(days=dpd)
    assert days_past_due(FIRST_DUE, as_of, grace_days=0) == dpd
    assert bucket_for(days_past_due(FIRST_DUE, as_of, grace_days=0)) == bucket


def test_nothing_unpaid_is_never_past_due():
    assert days_past_due(None, datetime.date(2030, 1, 1), grace_days=0) == 0


def test_not_yet_due_is_not_past_due():
    assert days_past_due(FIRST_DUE, FIRST_DUE - datetime.timedelta(days=5), grace_days=0) == 0


@pytest.mark.parametrize(("late_by", "dpd"), [(0, 0), (1, 0), (3, 0), (4, 4), (40, 40)])
def test_grace_days_then_full_count(late_by, dpd):
    # Within grace the loan is not delinquent; after it, DPD is the whole time since the due date.
    assert days_past_due(FIRST_DUE, FIRST_DUE + datetime.timedelta(days=late_by), grace_days=3) == dpd


# -- delinquency_refresh against the per-loan rule -------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("dpd", "bucket", "installments_due"),
    # Overdue installments at each boundary; one due on as_of itself is not overdue yet (day 181 = Aug 15).
    [(dpd, bucket, due) for (dpd, bucket), due in zip(BOUNDARIES[1:], [1, 2, 2, 3, 3, 4, 4, 6, 6], strict=True)],
)
def test_refresh_at_each_bucket_boundary(make_loan, dpd, bucket, installments_due):
    loan = make_loan()
    as_of = FIRST_DUE + datetime.timedelta(days=dpd)
    assert delinquency_refresh(as_of=as_of) == 1
    expected = {
        "days_past_due": dpd,
        "aging_bucket": bucket,
        "overdue_amount": LEVEL * installments_due,
        "oldest_overdue_due_date": FIRST_DUE,
    }
    assert stored(loan) == expected
    assert loan_delinquency(Loan.objects.get(pk=loan.pk), as_of) == expected


@pytest.mark.django_db
def test_an_installment_due_today_is_not_overdue_yet(make_loan):
    loan = make_loan()
    assert delinquency_refresh(as_of=FIRST_DUE) == 0
    assert stored(loan) == current()
    assert loan_delinquency(Loan.objects.get(pk=loan.pk), FIRST_DUE) == current()
    assert delinquency_refresh(as_of=FIRST_DUE + datetime.timedelta(days=1)) == 1
    assert stored(loan)["overdue_amount"] == LEVEL


@pytest.mark.django_db
def test_refresh_before_anything_is_due_touches_nothing(make_loan):
    loan = make_loan()
    assert delinquency_refresh(as_of=FIRST_DUE - datetime.timedelta(days=1)) == 0
    assert stored(loan) == current()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("as_of", "dpd", "bucket"), [(datetime.date(2026, 2, 18), 0, "current"), (datetime.date(2026, 2, 19), 4, "1-30")]
)
def test_refresh_applies_the_product_grace_days(make_loan, grace_product, as_of, dpd, bucket):
    loan = make_loan(product=grace_product)
    delinquency_refresh(as_of=as_of)
    expected = {
        "days_past_due": dpd,
        "aging_bucket": bucket,
        "overdue_amount": LEVEL,
        "oldest_overdue_due_date": FIRST_DUE,
    }
    assert stored(loan) == expected
    assert loan_delinquency(Loan.objects.get(pk=loan.pk), as_of) == expected


@pytest.mark.django_db
def test_refresh_matches_loan_delinquency_across_a_mixed_book(make_loan, grace_product, post):
    as_of = datetime.date(2026, 5, 20)
    untouched = make_loan()
    part_paid = make_loan()
    post(part_paid, LEVEL + D("500.00"))
    in_grace = make_loan(product=grace_product, disbursed_on=datetime.date(2026, 1, 18))  # first due 2026-02-18
    post(in_grace, LEVEL * 3)
    paid_up = make_loan()
    post(paid_up, LEVEL * 4)
    settled = make_loan()
    post(settled, total_owed(settled))
    not_due = make_loan(disbursed_on=datetime.date(2026, 5, 1))
    interest_only = make_loan(product=ProductFactory(code="IO", repayment_method="interest_only"))
    enterprise_scale = make_loan(
        principal_amount=D("2500000.00"), term_months=60, disbursed_on=datetime.date(2025, 6, 30)
    )

    rewritten = delinquency_refresh(as_of=as_of)

    assert stored(untouched) == {
        "days_past_due": 94,  # 2026-02-15 → 2026-05-20
        "aging_bucket": "91-180",
        "overdue_amount": D("4264.76"),  # four installments of 1066.19
        "oldest_overdue_due_date": FIRST_DUE,
    }
    assert stored(part_paid) == {
        "days_past_due": 66,  # installment 1 paid, installment 2 (2026-03-15) is the oldest unpaid
        "aging_bucket": "61-90",
        "overdue_amount": D("2698.57"),  # 3 × 1066.19 − 500.00
        "oldest_overdue_due_date": datetime.date(2026, 3, 15),
    }
    assert stored(in_grace) == {
        "days_past_due": 0,  # installment 4 (2026-05-18) is 2 days late: within the product's 3 grace days
        "aging_bucket": "current",
        "overdue_amount": LEVEL,
        "oldest_overdue_due_date": datetime.date(2026, 5, 18),
    }
    assert stored(paid_up) == current()  # installments 1-4 paid, the 5th falls due on 2026-06-15
    assert stored(interest_only) == {
        "days_past_due": 94,
        "aging_bucket": "91-180",
        "overdue_amount": D("480.00"),  # four months of 120.00 interest
        "oldest_overdue_due_date": FIRST_DUE,
    }
    assert stored(enterprise_scale) == {
        "days_past_due": 294,  # 2025-07-30 → 2026-05-20
        "aging_bucket": "180+",
        "overdue_amount": D("556111.20"),  # ten installments of 55,611.12 (Jul 30 … Feb 28 … Apr 30)
        "oldest_overdue_due_date": datetime.date(2025, 7, 30),
    }
    assert stored(settled) == current()
    assert stored(not_due) == current()
    for loan in Loan.objects.all():
        assert stored(loan) == loan_delinquency(loan, as_of), loan.reference
    # The loans with something due and unpaid: untouched, part_paid, in_grace, interest_only, enterprise_scale.
    assert rewritten == 5


@pytest.mark.django_db
def test_a_curing_payment_resets_the_loan_on_the_next_refresh(make_loan, post):
    loan = make_loan()
    as_of = datetime.date(2026, 5, 20)
    delinquency_refresh(as_of=as_of)
    assert stored(loan)["days_past_due"] == 94

    post(loan, D("4264.76"), received_on=as_of)
    # The refresh, not the payment, moves the delinquency fields.
    assert stored(loan)["days_past_due"] == 94
    assert delinquency_refresh(as_of=as_of) == 1  # it was marked overdue, so it is rewritten
    assert stored(loan) == current()
    assert loan_delinquency(Loan.objects.get(pk=loan.pk), as_of) == current()
    assert delinquency_refresh(as_of=as_of) == 0  # nothing left to rewrite


@pytest.mark.django_db
def test_a_partial_cure_moves_the_oldest_due_date(make_loan, post):
    loan = make_loan()
    as_of = datetime.date(2026, 5, 20)
    delinquency_refresh(as_of=as_of)
    post(loan, LEVEL * 2, received_on=as_of)
    delinquency_refresh(as_of=as_of)
    assert stored(loan) == {
        "days_past_due": 35,  # 2026-04-15 → 2026-05-20
        "aging_bucket": "31-60",
        "overdue_amount": LEVEL * 2,
        "oldest_overdue_due_date": datetime.date(2026, 4, 15),
    }


@pytest.mark.django_db
def test_a_marked_loan_back_within_grace_returns_to_current(make_loan, grace_product, post):
    loan = make_loan(product=grace_product)
    delinquency_refresh(as_of=datetime.date(2026, 3, 1))
    assert stored(loan)["days_past_due"] == 14
    post(loan, LEVEL, received_on=datetime.date(2026, 3, 2))
    as_of = datetime.date(2026, 3, 17)  # installment 2, due 2026-03-15, is 2 days late: within grace
    delinquency_refresh(as_of=as_of)
    expected = {
        "days_past_due": 0,
        "aging_bucket": "current",
        "overdue_amount": LEVEL,
        "oldest_overdue_due_date": datetime.date(2026, 3, 15),
    }
    assert stored(loan) == expected
    assert loan_delinquency(Loan.objects.get(pk=loan.pk), as_of) == expected


@pytest.mark.django_db
def test_settled_loans_keep_no_delinquency(make_loan, post):
    loan = make_loan()
    as_of = datetime.date(2026, 5, 20)
    delinquency_refresh(as_of=as_of)
    assert stored(loan)["aging_bucket"] == "91-180"
    post(loan, total_owed(loan), received_on=as_of)
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.SETTLED
    delinquency_refresh(as_of=as_of)
    assert stored(loan) == current()
    # Even far beyond maturity, a settled loan is never past due.
    later = datetime.date(2028, 1, 1)
    delinquency_refresh(as_of=later)
    assert stored(loan) == current()
    assert loan_delinquency(Loan.objects.get(pk=loan.pk), later) == current()


@pytest.mark.django_db
def test_refresh_is_repeatable(make_loan, post):
    loans = [make_loan() for _ in range(3)]
    post(loans[1], D("100.00"))
    as_of = datetime.date(2026, 7, 1)
    delinquency_refresh(as_of=as_of)
    first = [stored(loan) for loan in loans]
    delinquency_refresh(as_of=as_of)
    assert [stored(loan) for loan in loans] == first
