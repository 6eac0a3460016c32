"""seed_demo builds a valid, deterministic demo book; reconcile_ledger proves it and catches corruption.

The seeder writes with its own connection (a COPY thread on PostgreSQL), so these tests commit for real:
django_db(transaction=True), which empties the tables again afterwards.
"""

import datetime
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F, Sum

from accounts.models import Team, User
from creditops.core.models import ReferenceCounter
from lending.delinquency import loan_delinquency
from lending.models import Borrower, BorrowerContact, Installment, Loan, Payment, PaymentAllocation, Product
from lending.selectors import RECONCILE_CHECKS

AS_OF = datetime.date(2026, 11, 28)
PASSWORD = "x-demo-pass-1"
ROLES = ["Collector", "Supervisor", "Manager", "Compliance", "Administrator"]


def seed(**overrides):
    out = io.StringIO()
    options = {"borrowers": 60, "seed": 7, "as_of": AS_OF, "password": PASSWORD, "allow_production": True}
    options.update(overrides)
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def reconcile():
    out = io.StringIO()
    call_command("reconcile_ledger", stdout=out)
    return out.getvalue()


def fingerprint():
    """What the random generator decided, independent of primary keys and timestamps."""
    payments = dict(
        Payment.objects.values_list("loan_id").annotate(total=Sum("amount")).values_list("loan_id", "total")
    )
    return sorted(
        (
            loan.borrower.id_number,
            loan.borrower.name,
            loan.product.code,
            loan.principal_amount,
            loan.disbursed_on,
            loan.installments.count(),
            payments.get(loan.pk, Decimal("0.00")),
            loan.status,
        )
        for loan in Loan.objects.select_related("borrower", "product")
    )


def delete_seeded_book():
    PaymentAllocation.objects.all().delete()
    Payment.objects.all().delete()
    Installment.objects.all().delete()
    Loan.objects.all().delete()
    BorrowerContact.objects.all().delete()
    Borrower.objects.all().delete()
    ReferenceCounter.objects.all().delete()


@pytest.mark.django_db
def test_refused_when_debug_is_off_without_allow_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--allow-production"):
        seed(allow_production=False)
    assert Borrower.objects.count() == 0
    assert not User.objects.filter(username="admin").exists()


@pytest.mark.django_db(transaction=True)
def test_same_seed_gives_the_same_book():
    seed()
    first = fingerprint()
    assert Borrower.objects.count() == 60
    assert len(first) == Loan.objects.count() > 60
    delete_seeded_book()
    assert Loan.objects.count() == 0
    output = seed()
    assert "Demo staff already existed" in output
    assert fingerprint() == first


@pytest.mark.django_db(transaction=True)
def test_seeded_book_is_valid_complete_and_reconciles():
    output = seed()
    assert "Seeded 60 borrowers" in output

    # Borrowers: valid IDs, both kinds.
    borrowers = list(Borrower.objects.all())
    assert len(borrowers) == 60
    for borrower in borrowers:
        borrower.full_clean()
    kinds = {borrower.kind for borrower in borrowers}
    assert kinds == {Borrower.Kind.INDIVIDUAL, Borrower.Kind.ENTERPRISE}
    assert all(b.legal_representative for b in borrowers if b.kind == Borrower.Kind.ENTERPRISE)
    assert {b.id_type for b in borrowers if b.kind == Borrower.Kind.ENTERPRISE} == {Borrower.IdType.USCC}
    assert {b.id_type for b in borrowers if b.kind == Borrower.Kind.INDIVIDUAL} == {Borrower.IdType.RESIDENT_ID}

    # Every product kind and repayment method is on the book.
    used = Product.objects.filter(loans__isnull=False).distinct()
    assert {product.kind for product in used} == set(Product.Kind.values)
    assert {product.repayment_method for product in used} == set(Product.RepaymentMethod.values)

    # Schedules follow the loans: installments = term, maturity = last due date, nothing paid beyond as_of.
    for loan in Loan.objects.prefetch_related("installments"):
        items = list(loan.installments.all())
        assert len(items) == loan.term_months
        assert items[-1].due_date == loan.maturity_date
        assert sum(item.principal_amount for item in items) == loan.principal_amount
    assert not Payment.objects.filter(received_on__gt=AS_OF).exists()
    assert Loan.objects.filter(status=Loan.Status.SETTLED).exists()
    assert Loan.objects.filter(status=Loan.Status.ACTIVE, days_past_due__gt=0).exists()

    # The delinquency refresh seed_demo runs agrees with the per-loan rule on every loan.
    for loan in Loan.objects.select_related("product"):
        assert {
            "days_past_due": loan.days_past_due,
            "aging_bucket": loan.aging_bucket,
            "overdue_amount": loan.overdue_amount,
            "oldest_overdue_due_date": loan.oldest_overdue_due_date,
        } == loan_delinquency(loan, AS_OF), loan.reference

    # Staff for every role, two teams of a supervisor and three collectors.
    for role in ROLES:
        assert Group.objects.get(name=role).user_set.exists(), role
    assert set(User.objects.get(username="admin").groups.values_list("name", flat=True)) == {"Administrator"}
    assert User.objects.get(username="admin").check_password(PASSWORD)
    teams = list(Team.objects.all())
    assert len(teams) == 2
    for team in teams:
        assert team.supervisor.groups.filter(name="Supervisor").exists()
        members = list(team.members.all())
        assert len(members) == 3
        assert all(member.groups.filter(name="Collector").exists() for member in members)
        assert team.supervisor not in members

    # reconcile_ledger: every check ok.
    report = reconcile()
    for check in RECONCILE_CHECKS:
        assert f"ok   {check}" in report
    assert "FAIL" not in report

    # Corrupt one installment's paid principal by a cent: the reconcile names the check and the row.
    victim = Installment.objects.filter(principal_paid_amount__gt=0).order_by("id").first()
    Installment.objects.filter(pk=victim.pk).update(principal_paid_amount=F("principal_paid_amount") - Decimal("0.01"))
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"ledger checks failed: installment_paid_equals_allocations$"):
        call_command("reconcile_ledger", stdout=out)
    report = out.getvalue()
    assert f"FAIL installment_paid_equals_allocations: ids {victim.pk}" in report
    for check in RECONCILE_CHECKS:
        if check != "installment_paid_equals_allocations":
            assert f"ok   {check}" in report


@pytest.mark.django_db(transaction=True)
def test_if_empty_does_nothing_on_a_seeded_database():
    seed(borrowers=5)
    loans = Loan.objects.count()
    output = seed(borrowers=5, if_empty=True)
    assert output.strip() == "Demo data already present; nothing to do."
    assert Loan.objects.count() == loans
