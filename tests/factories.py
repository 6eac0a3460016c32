"""factory_boy factories for the ledger. Valid Chinese IDs are built with the real check characters."""

import datetime
from decimal import Decimal

import factory
from django.db.models import F

from accounts.models import User
from lending.models import Borrower, Installment, Loan, PenaltyEntry, Product
from lending.validators import resident_id_check_char, uscc_check_char


def resident_id(n: int) -> str:
    first17 = f"110105{datetime.date(1980, 1, 1) + datetime.timedelta(days=n % 9000):%Y%m%d}{n % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def uscc(n: int) -> str:
    first17 = f"91110105{n:09d}"
    return first17 + uscc_check_char(first17)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    is_staff = True
    password = factory.django.Password("correct-horse-battery")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"P{n:03d}")
    name = factory.LazyAttribute(lambda product: f"Product {product.code}")
    kind = Product.Kind.TERM_LOAN
    repayment_method = Product.RepaymentMethod.EQUAL_INSTALLMENT
    annual_interest_rate = Decimal("0.12")
    monthly_fee_rate = Decimal("0")
    penalty_daily_rate = Decimal("0.0005")
    grace_days = 0


class BorrowerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Borrower

    kind = Borrower.Kind.INDIVIDUAL
    name = factory.Sequence(lambda n: f"张{n}")
    id_type = Borrower.IdType.RESIDENT_ID
    id_number = factory.Sequence(resident_id)
    phone = factory.Sequence(lambda n: f"+86138{n:08d}")
    address = factory.Sequence(lambda n: f"朝阳区建国路 {n + 1} 号")
    city = "北京市"
    province = "北京市"
    credit_limit_amount = Decimal("100000.00")


class EnterpriseFactory(BorrowerFactory):
    kind = Borrower.Kind.ENTERPRISE
    name = factory.Sequence(lambda n: f"测试科技有限公司{n}")
    id_type = Borrower.IdType.USCC
    id_number = factory.Sequence(uscc)
    legal_representative = "王五"


def time_zone_where_local_hour_is(hours) -> str:
    """A fixed-offset zone (Etc/GMT±N) in which the current hour is one of `hours`: guardrail tests pick
    a borrower who is, right now, inside or outside their contact hours without freezing the clock."""
    now = datetime.datetime.now(datetime.UTC)
    for offset in range(-12, 15):
        if (now + datetime.timedelta(hours=offset)).hour in hours:
            # The Etc zones' signs are inverted: Etc/GMT-8 is UTC+8.
            return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"
    raise AssertionError(f"no zone has a local hour in {hours}")


AWAKE_HOURS = range(10, 20)  # well inside every profile's contact hours
ASLEEP_HOURS = [23, 0, 1, 2, 3, 4, 5, 6]  # outside every profile's contact hours


def charge_penalty(loan, sequence: int, amount: Decimal, on: datetime.date = datetime.date(2026, 1, 16)):
    """A penalty already charged on installment `sequence`, as the nightly accrual books it (an entry and
    the installment's and the loan's totals), dated before the tests' payments so none re-plays it."""
    installment = Installment.objects.get(loan=loan, sequence=sequence)
    PenaltyEntry.objects.create(
        loan=loan, installment=installment, accrued_on=on, base_amount=installment.principal_amount,
        daily_rate=loan.penalty_daily_rate, exact_amount=amount, amount=amount,
    )  # fmt: skip
    Installment.objects.filter(pk=installment.pk).update(
        penalty_amount=F("penalty_amount") + amount, penalty_exact_amount=F("penalty_exact_amount") + amount
    )
    Loan.objects.filter(pk=loan.pk).update(penalty_accrued_amount=F("penalty_accrued_amount") + amount)
