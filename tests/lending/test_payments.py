"""payment_post and payment_reverse on the real database: waterfall, oldest-first, credit balance,
settlement, idempotency, refusals, reversal and the audit trail.

The default loan (tests/conftest.py `make_loan`) is 12,000.00 over 12 months at 12% equal installment:
installment 1 is principal 946.19 + interest 120.00 = 1066.19, installment 2 is 955.65 + 110.54.
"""

import datetime
from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from lending.models import Installment, Loan, Payment, PaymentAllocation
from lending.selectors import RECONCILE_CHECKS, ledger_mismatches
from lending.services import payment_post, payment_reverse
from tests.factories import ProductFactory, charge_penalty

from .conftest import ledger_state, next_ref, paid_by_installment, total_owed

D = Decimal
ZERO = D("0.00")
NO_MISMATCHES = {check: [] for check in RECONCILE_CHECKS}
pytestmark = pytest.mark.django_db


def installment(loan, sequence):
    return Installment.objects.get(loan=loan, sequence=sequence)


def paid(loan, sequence):
    """(penalty, fee, interest, principal) paid on one installment."""
    return paid_by_installment(loan)[sequence - 1][1:]


def allocation_rows(payment):
    return list(
        PaymentAllocation.objects.filter(payment=payment)
        .order_by("id")
        .values_list(
            "installment__sequence",
            "penalty_amount",
            "fee_amount",
            "interest_amount",
            "principal_amount",
            "is_reversal",
        )
    )


def error_code(callable_, **kwargs):
    with pytest.raises(DomainError) as caught:
        callable_(**kwargs)
    return caught.value


# -- waterfall -------------------------------------------------------------------------------------


def test_partial_payment_goes_penalty_then_fee_then_interest_then_principal(make_loan, fee_product, post):
    loan = make_loan(product=fee_product)
    first = installment(loan, 1)
    assert (first.principal_amount, first.interest_amount, first.fee_amount) == (D("946.19"), D("120.00"), D("60.00"))
    charge_penalty(loan, 1, D("25.00"))

    payment, created = post(loan, "100.00")
    assert created is True
    # 25.00 penalty + 60.00 fee + 15.00 of the 120.00 interest; no principal yet.
    assert paid(loan, 1) == (D("25.00"), D("60.00"), D("15.00"), ZERO)
    assert allocation_rows(payment) == [(1, D("25.00"), D("60.00"), D("15.00"), ZERO, False)]

    second, _ = post(loan, "1000.00")
    assert paid(loan, 1) == (D("25.00"), D("60.00"), D("120.00"), D("895.00"))
    assert allocation_rows(second) == [(1, ZERO, ZERO, D("105.00"), D("895.00"), False)]
    assert installment(loan, 1).outstanding_amount == D("51.19")
    assert paid(loan, 2) == (ZERO, ZERO, ZERO, ZERO)
    assert ledger_mismatches() == NO_MISMATCHES


def test_penalty_stops_at_what_is_owed_and_the_rest_flows_down_the_waterfall(make_loan, fee_product, post):
    loan = make_loan(product=fee_product)
    charge_penalty(loan, 1, D("25.00"))
    post(loan, "30.00")
    assert paid(loan, 1) == (D("25.00"), D("5.00"), ZERO, ZERO)


def test_custom_waterfall_principal_first(make_loan, borrower, post):
    product = ProductFactory(
        code="PFIRST", monthly_fee_rate=D("0.005"), allocation_waterfall="principal,interest,fee,penalty"
    )
    loan = make_loan(product=product)
    charge_penalty(loan, 1, D("25.00"))

    payment, _ = post(loan, "1000.00")
    # principal 946.19 first, then 53.81 of the 120.00 interest; fee and penalty wait.
    assert paid(loan, 1) == (ZERO, ZERO, D("53.81"), D("946.19"))
    assert allocation_rows(payment) == [(1, ZERO, ZERO, D("53.81"), D("946.19"), False)]

    post(loan, "100.00")
    assert paid(loan, 1) == (ZERO, D("33.81"), D("120.00"), D("946.19"))
    post(loan, "60.00")
    # 26.19 of fee finishes the fee, then 25.00 penalty, and the last 8.81 goes to installment 2's principal.
    assert paid(loan, 1) == (D("25.00"), D("60.00"), D("120.00"), D("946.19"))
    assert paid(loan, 2) == (ZERO, ZERO, ZERO, D("8.81"))


def test_oldest_installment_is_paid_first(loan, post):
    # A penalty on installment 3 does not pull the payment past installments 1 and 2.
    charge_penalty(loan, 3, D("50.00"))
    payment, _ = post(loan, "1100.00")
    assert paid(loan, 1) == (ZERO, ZERO, D("120.00"), D("946.19"))
    assert paid(loan, 2) == (ZERO, ZERO, D("33.81"), ZERO)
    assert paid(loan, 3) == (ZERO, ZERO, ZERO, ZERO)
    assert allocation_rows(payment) == [
        (1, ZERO, ZERO, D("120.00"), D("946.19"), False),
        (2, ZERO, ZERO, D("33.81"), ZERO, False),
    ]
    assert installment(loan, 1).outstanding_amount == ZERO
    assert installment(loan, 2).outstanding_amount == D("1032.38")


def test_a_payment_spanning_several_installments_settles_them_in_order(loan, post):
    payment, _ = post(loan, "2200.00")
    assert paid(loan, 1) == (ZERO, ZERO, D("120.00"), D("946.19"))
    assert paid(loan, 2) == (ZERO, ZERO, D("110.54"), D("955.65"))
    assert paid(loan, 3) == (ZERO, ZERO, D("67.62"), ZERO)  # 2200.00 − 2 × 1066.19
    assert Payment.objects.get(pk=payment.pk).unallocated_amount == ZERO
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.ACTIVE


def test_overpayment_becomes_credit_and_settles_the_loan(loan, post):
    owed = total_owed(loan)
    assert owed == D("12794.23")  # 11 × 1066.19 + 1066.14
    payment, _ = post(loan, owed + D("123.45"), received_on=datetime.date(2026, 3, 1))

    payment.refresh_from_db()
    loan.refresh_from_db()
    assert payment.unallocated_amount == D("123.45")
    assert loan.credit_balance_amount == D("123.45")
    assert loan.status == Loan.Status.SETTLED
    assert loan.settled_on == datetime.date(2026, 3, 1)
    assert list(Installment.objects.filter(loan=loan).values_list("outstanding_amount", flat=True)) == [ZERO] * 12
    assert sum(row[4] for row in allocation_rows(payment)) == D("12000.00")
    assert ledger_mismatches() == NO_MISMATCHES


def test_exact_payoff_settles_with_no_credit(loan, post):
    post(loan, "5000.00", received_on=datetime.date(2026, 2, 1))
    post(loan, total_owed(loan) - D("5000.00"), received_on=datetime.date(2026, 4, 2))
    loan.refresh_from_db()
    assert (loan.status, loan.settled_on, loan.credit_balance_amount) == (
        Loan.Status.SETTLED,
        datetime.date(2026, 4, 2),
        ZERO,
    )


def test_payment_on_a_settled_loan_only_adds_credit(loan, post):
    post(loan, total_owed(loan), received_on=datetime.date(2026, 3, 1))
    before = paid_by_installment(loan)
    extra, _ = post(loan, "10.00", received_on=datetime.date(2026, 3, 5))
    loan.refresh_from_db()
    assert paid_by_installment(loan) == before
    assert allocation_rows(extra) == []
    assert extra.unallocated_amount == D("10.00")
    assert loan.credit_balance_amount == D("10.00")
    assert (loan.status, loan.settled_on) == (Loan.Status.SETTLED, datetime.date(2026, 3, 1))


# -- idempotency -----------------------------------------------------------------------------------


def test_replaying_the_same_payment_changes_nothing(loan, post):
    payment, created = post(loan, "500.00", ref="BANK-0001")
    assert created is True
    before = ledger_state(loan)
    audit_before = AuditEvent.objects.count()

    again, created_again = post(loan, "500.00", ref="BANK-0001")
    assert created_again is False
    assert again.pk == payment.pk
    assert ledger_state(loan) == before
    assert Payment.objects.filter(source="bank-file", external_ref="BANK-0001").count() == 1
    assert AuditEvent.objects.count() == audit_before


def test_replay_accepts_an_equal_amount_written_differently(loan, post):
    payment, _ = post(loan, "500.00", ref="BANK-0002")
    again, created = post(loan, D("500"), ref="BANK-0002")
    assert (again.pk, created) == (payment.pk, False)


@pytest.mark.parametrize(
    ("amount", "received_on"),
    [(D("500.01"), datetime.date(2026, 2, 10)), (D("500.00"), datetime.date(2026, 2, 11))],
    ids=["other-amount", "other-date"],
)
def test_replay_with_other_details_is_a_conflict(loan, post, amount, received_on):
    payment, _ = post(loan, "500.00", ref="BANK-0003", received_on=datetime.date(2026, 2, 10))
    before = ledger_state(loan)
    error = error_code(post, loan=loan, amount=amount, received_on=received_on, ref="BANK-0003")
    assert error.code == "payment.duplicate_conflict"
    assert error.detail == {"payment_id": payment.pk}
    assert ledger_state(loan) == before


def test_same_reference_on_another_loan_is_a_conflict(make_loan, loan, post):
    other = make_loan()
    payment, _ = post(loan, "500.00", ref="BANK-0004")
    error = error_code(post, loan=other, amount=D("500.00"), ref="BANK-0004")
    assert error.code == "payment.duplicate_conflict"
    assert error.detail == {"payment_id": payment.pk}
    assert Payment.objects.filter(loan=other).count() == 0


def test_same_reference_from_another_source_is_another_payment(loan, post):
    first, _ = post(loan, "100.00", ref="BANK-0005", source="bank-file")
    second, created = post(loan, "100.00", ref="BANK-0005", source="alipay-file")
    assert created is True
    assert second.pk != first.pk
    assert paid(loan, 1) == (ZERO, ZERO, D("120.00"), D("80.00"))


# -- refusals --------------------------------------------------------------------------------------


def db_counts():
    return (Payment.objects.count(), PaymentAllocation.objects.count(), AuditEvent.objects.count())


@pytest.mark.parametrize("amount", [D("0"), D("0.00"), D("-5.00"), D("0.001"), D("100.005")])
def test_invalid_amounts_are_refused_and_change_nothing(loan, post, amount):
    before, counts = ledger_state(loan), db_counts()
    assert error_code(post, loan=loan, amount=amount).code == "payment.amount_invalid"
    assert ledger_state(loan) == before
    assert db_counts() == counts


def test_unknown_channel_is_refused(loan, post):
    before, counts = ledger_state(loan), db_counts()
    assert error_code(post, loan=loan, amount=D("100.00"), channel="bitcoin").code == "payment.channel_invalid"
    assert ledger_state(loan) == before
    assert db_counts() == counts


@pytest.mark.parametrize("missing", ["source", "external_ref"])
def test_missing_reference_is_refused(loan, post, missing):
    counts = db_counts()
    arguments = {"loan": loan, "amount": D("100.00"), "ref": "X-1", missing: ""}
    assert error_code(post, **arguments).code == "payment.reference_missing"
    assert db_counts() == counts


# -- reversal --------------------------------------------------------------------------------------


def test_reversal_restores_balances_and_appends_opposite_rows(loan, post):
    post(loan, "300.00")
    before = paid_by_installment(loan)
    payment, _ = post(loan, "1500.00")
    originals = allocation_rows(payment)
    assert originals == [
        (1, ZERO, ZERO, ZERO, D("766.19"), False),
        (2, ZERO, ZERO, D("110.54"), D("623.27"), False),
    ]

    reversed_payment = payment_reverse(payment=payment, reason="  bounced  ", reversed_on=datetime.date(2026, 2, 20))
    assert paid_by_installment(loan) == before
    rows = allocation_rows(payment)
    assert rows[:2] == originals
    assert rows[2:] == [
        (1, ZERO, ZERO, ZERO, D("-766.19"), True),
        (2, ZERO, ZERO, D("-110.54"), D("-623.27"), True),
    ]
    stored = Payment.objects.get(pk=payment.pk)
    assert stored.status == Payment.Status.REVERSED
    assert stored.reversed_on == datetime.date(2026, 2, 20)
    assert stored.reversal_reason == "bounced"
    assert stored.amount == D("1500.00")  # the row keeps its amount
    assert reversed_payment.status == Payment.Status.REVERSED
    assert ledger_mismatches() == NO_MISMATCHES


def test_reversing_an_older_payment_re_plays_the_later_one_as_if_the_older_never_was(loan, post):
    older, _ = post(loan, "300.00")
    later, _ = post(loan, "900.00")
    payment_reverse(payment=older, reason="wrong loan", reversed_on=datetime.date(2026, 2, 21))
    # Alone, the 900.00 pays installment 1's interest (120.00) first, then 780.00 of its principal.
    assert paid(loan, 1) == (ZERO, ZERO, D("120.00"), D("780.00"))
    assert paid(loan, 2) == (ZERO, ZERO, ZERO, ZERO)
    assert PaymentAllocation.objects.filter(payment=later, is_replay=True).exists()
    assert ledger_mismatches() == NO_MISMATCHES


def test_reversing_twice_is_refused(loan, post):
    payment, _ = post(loan, "300.00")
    payment_reverse(payment=payment, reason="bounced", reversed_on=datetime.date(2026, 2, 20))
    state = ledger_state(loan)
    error = error_code(payment_reverse, payment=payment, reason="again", reversed_on=datetime.date(2026, 2, 21))
    assert error.code == "payment.already_reversed"
    assert ledger_state(loan) == state
    assert Payment.objects.get(pk=payment.pk).reversal_reason == "bounced"


@pytest.mark.parametrize("reason", ["", "   "])
def test_reversal_needs_a_reason(loan, post, reason):
    payment, _ = post(loan, "300.00")
    state, counts = ledger_state(loan), db_counts()
    error = error_code(payment_reverse, payment=payment, reason=reason, reversed_on=datetime.date(2026, 2, 20))
    assert error.code == "payment.reason_missing"
    assert ledger_state(loan) == state
    assert db_counts() == counts
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.POSTED


def test_reversing_the_payoff_reopens_the_loan_and_takes_back_the_credit(loan, post):
    post(loan, "1000.00", received_on=datetime.date(2026, 2, 10))
    before = ledger_state(loan)
    payoff, _ = post(loan, total_owed(loan) - D("1000.00") + D("50.00"), received_on=datetime.date(2026, 3, 1))
    loan.refresh_from_db()
    assert (loan.status, loan.credit_balance_amount) == (Loan.Status.SETTLED, D("50.00"))

    payment_reverse(payment=payoff, reason="chargeback", reversed_on=datetime.date(2026, 3, 9))
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    assert loan.settled_on is None
    assert loan.credit_balance_amount == ZERO
    after = ledger_state(loan)
    assert after["installments"] == before["installments"]
    assert after["allocations"] == before["allocations"] + 2 * 12  # 12 originals, 12 reversal rows
    assert ledger_mismatches() == NO_MISMATCHES


def test_reversing_a_pure_credit_payment(loan, post):
    post(loan, total_owed(loan), received_on=datetime.date(2026, 3, 1))
    extra, _ = post(loan, "10.00", received_on=datetime.date(2026, 3, 5))
    payment_reverse(payment=extra, reason="duplicate transfer", reversed_on=datetime.date(2026, 3, 6))
    loan.refresh_from_db()
    assert loan.credit_balance_amount == ZERO
    assert (loan.status, loan.settled_on) == (Loan.Status.SETTLED, datetime.date(2026, 3, 1))
    assert ledger_mismatches() == NO_MISMATCHES


def test_replaying_a_reversed_payment_does_not_post_it_again(loan, post):
    payment, _ = post(loan, "300.00", ref="BANK-0100")
    payment_reverse(payment=payment, reason="bounced", reversed_on=datetime.date(2026, 2, 20))
    state = ledger_state(loan)
    again, created = post(loan, "300.00", ref="BANK-0100")
    assert (again.pk, created, again.status) == (payment.pk, False, Payment.Status.REVERSED)
    assert ledger_state(loan) == state


# -- audit trail -----------------------------------------------------------------------------------


def test_post_and_reverse_write_audit_events(loan, post, staff_user):
    payment, _ = post(loan, "250.00", actor=staff_user)
    assert payment.posted_by == staff_user
    posted = AuditEvent.objects.get(event="payment.posted")
    assert (posted.actor, posted.subject_type, posted.subject_id) == (staff_user, "lending.payment", str(payment.pk))
    assert posted.detail == {"loan": loan.reference, "amount": "250.00", "to_credit": "0.00"}

    payment_reverse(payment=payment, reason="bounced", reversed_on=datetime.date(2026, 2, 20), actor=staff_user)
    reversed_event = AuditEvent.objects.get(event="payment.reversed")
    assert (reversed_event.actor, reversed_event.subject_id) == (staff_user, str(payment.pk))
    assert reversed_event.detail == {"loan": loan.reference, "reason": "bounced"}


def test_system_post_is_audited_without_an_actor(loan, post):
    payment, _ = post(loan, total_owed(loan) + D("1.00"))
    event = AuditEvent.objects.get(event="payment.posted", subject_id=str(payment.pk))
    assert event.actor is None
    assert event.detail["to_credit"] == "1.00"
    assert payment.posted_by is None


def test_refused_operations_leave_no_audit_event(loan, post):
    payment, _ = post(loan, "250.00", ref=next_ref())
    count = AuditEvent.objects.count()
    with pytest.raises(DomainError):
        post(loan, "0.00")
    with pytest.raises(DomainError):
        payment_reverse(payment=payment, reason=" ", reversed_on=datetime.date(2026, 2, 20))
    assert AuditEvent.objects.count() == count


@pytest.mark.django_db
def test_a_reversal_that_reopens_installments_spends_the_credit_balance_first(loan, post):
    first, _ = post(loan, "1066.19", received_on=datetime.date(2026, 2, 10))
    rest = total_owed(loan) - Decimal("1066.19")
    overpayment, _ = post(loan, str(rest + Decimal("100.00")), received_on=datetime.date(2026, 3, 1))
    loan.refresh_from_db()
    assert (loan.status, loan.credit_balance_amount) == (Loan.Status.SETTLED, Decimal("100.00"))

    payment_reverse(payment=first, reason="bounced", reversed_on=datetime.date(2026, 3, 2))

    loan.refresh_from_db()
    overpayment.refresh_from_db()
    # The 100.00 credit now pays towards installment 1 instead of sitting beside an overdue balance.
    assert loan.credit_balance_amount == Decimal("0.00")
    assert overpayment.unallocated_amount == Decimal("0.00")
    assert total_owed(loan) - sum(i.paid_amount for i in loan.installments.all()) == Decimal("966.19")
    assert loan.status == Loan.Status.ACTIVE
    assert ledger_mismatches() == {name: [] for name in ledger_mismatches()}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"amount": Decimal("NaN")}, "payment.amount_invalid"),
        ({"amount": Decimal("Infinity")}, "payment.amount_invalid"),
        ({"source": "s" * 33}, "payment.reference_too_long"),
        ({"ref": "r" * 65}, "payment.reference_too_long"),
    ],
)
def test_unusable_input_is_a_domain_error_and_changes_nothing(loan, post, overrides, code):
    before = ledger_state(loan)
    amount = overrides.pop("amount", Decimal("100.00"))
    with pytest.raises(DomainError) as refused:
        post(loan, amount, **overrides)
    assert refused.value.code == code
    assert ledger_state(loan) == before


@pytest.mark.django_db
def test_an_overlong_reversal_reason_is_refused(loan, post):
    payment, _ = post(loan, "100.00")
    with pytest.raises(DomainError) as refused:
        payment_reverse(payment=payment, reason="x" * 201, reversed_on=datetime.date(2026, 2, 11))
    assert refused.value.code == "payment.reason_too_long"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.POSTED


@pytest.mark.django_db
def test_an_amount_that_is_not_a_number_is_a_domain_error(loan):
    before = ledger_state(loan)
    with pytest.raises(DomainError) as refused:
        payment_post(
            loan=loan, source="bank-file", external_ref=next_ref(), amount="12,00",
            received_on=datetime.date(2026, 2, 10), channel=Payment.Channel.CARD,
        )  # fmt: skip
    assert refused.value.code == "payment.amount_invalid"
    assert ledger_state(loan) == before


# -- dates: a payment is received on a day of the loan's life; a reversal between receipt and today --------


@pytest.mark.parametrize(
    ("received_on", "code"),
    [
        (datetime.date(1, 1, 1), "payment.date_before_loan"),
        (datetime.date(2026, 1, 14), "payment.date_before_loan"),  # the day before disbursement
        (datetime.date(9999, 12, 31), "payment.date_future"),
        ("tomorrow", "payment.date_future"),
    ],
)
def test_a_payment_dated_outside_the_loans_life_is_refused_and_changes_nothing(make_loan, post, received_on, code):
    loan = make_loan()  # disbursed 2026-01-15
    if received_on == "tomorrow":
        received_on = business_today() + datetime.timedelta(days=1)
    before = ledger_state(loan)
    error = error_code(post, loan=loan, amount="100.00", received_on=received_on)
    assert error.code == code
    assert error.detail["received_on"] == received_on.isoformat()
    assert ledger_state(loan) == before
    assert not Payment.objects.exists()


def test_a_payment_on_the_disbursement_day_and_one_today_are_posted(make_loan, post):
    loan = make_loan()
    assert post(loan, "10.00", received_on=loan.disbursed_on)[1] is True
    assert post(loan, "10.00", received_on=business_today())[1] is True


@pytest.mark.parametrize("offset", ["before receipt", "after today"])
def test_a_reversal_dated_before_its_payment_or_after_today_is_refused(make_loan, post, offset):
    loan = make_loan()
    payment, _created = post(loan, "500.00", received_on=datetime.date(2026, 2, 10))
    reversed_on = {
        "before receipt": datetime.date(2026, 2, 9),
        "after today": business_today() + datetime.timedelta(days=1),
    }[offset]
    before = ledger_state(loan)
    error = error_code(payment_reverse, payment=payment, reason="bank recall", reversed_on=reversed_on)
    assert error.code == "payment.reversal_date_invalid"
    assert ledger_state(loan) == before
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.POSTED


# -- booking: due dates keep the contract's day ---------------------------------------------------------


@pytest.mark.parametrize(
    ("disbursed_on", "first_due_date", "expected"),
    [
        (datetime.date(2026, 1, 31), None, ["2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]),
        (datetime.date(2026, 1, 10), datetime.date(2026, 2, 28), ["2026-02-28", "2026-03-28", "2026-04-28"]),
        (datetime.date(2026, 1, 10), datetime.date(2026, 1, 31), ["2026-01-31", "2026-02-28", "2026-03-31"]),
    ],
)
def test_a_booked_loan_falls_due_on_its_contract_day_every_month(make_loan, disbursed_on, first_due_date, expected):
    loan = make_loan(disbursed_on=disbursed_on, first_due_date=first_due_date, term_months=len(expected))
    due_dates = [day.isoformat() for day in loan.installments.order_by("sequence").values_list("due_date", flat=True)]
    assert due_dates == expected
    assert loan.maturity_date.isoformat() == expected[-1]
