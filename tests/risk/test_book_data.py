"""The book's own applications: booking-time features only, the outcome from later, and a demo book whose
behaviour the generator draws from those features, so the scorecard has something real to find."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lending.delinquency import delinquency_refresh
from lending.demo import LedgerSeeder
from lending.models import Loan
from risk.datasets import DatasetError, book_applications
from risk.models import RiskModel
from risk.services import risk_model_train
from tests.factories import BorrowerFactory, EnterpriseFactory, resident_id

AS_OF = datetime.date(2026, 11, 28)


def test_a_loan_is_described_as_it_was_booked_and_judged_by_what_came_later(db, make_loan):
    # Born 1980-01-11 (resident_id(10)), booked 2026-01-10: still 45 that day.
    borrower = BorrowerFactory(id_number=resident_id(10), email="", credit_limit_amount=Decimal("40000.00"))
    loan = make_loan(borrower=borrower, principal_amount=Decimal("12000.00"), disbursed_on=datetime.date(2026, 1, 10))
    make_loan(borrower=EnterpriseFactory(), disbursed_on=datetime.date(2026, 3, 1))
    make_loan(borrower=borrower, disbursed_on=datetime.date(2026, 9, 1))  # on the book under six months: not judged
    frame, outcome, window = book_applications(AS_OF)
    assert window == (datetime.date(2023, 11, 28), datetime.date(2026, 5, 28))
    assert len(frame) == 2
    row = frame.iloc[0].to_dict()
    assert {key: row[key] for key in ["borrower_kind", "age_at_booking", "has_email", "limit_used", "term_months"]} == {
        "borrower_kind": "individual", "age_at_booking": 45.0, "has_email": "no", "limit_used": 0.3, "term_months": 12,
    }  # fmt: skip
    assert frame.iloc[1]["age_at_booking"] != frame.iloc[1]["age_at_booking"]  # an enterprise has no age (NaN)
    assert outcome.tolist() == [0, 0]
    # Later the loan goes 75 days past due: the outcome changes, nothing the model reads about it does.
    Loan.objects.filter(pk=loan.pk).update(days_past_due=75)
    later_frame, later_outcome, _window = book_applications(AS_OF)
    assert later_outcome.tolist() == [1, 0]
    assert later_frame.equals(frame)


def test_a_book_with_nothing_old_enough_or_too_few_bads_says_so(db, make_loan):
    make_loan(disbursed_on=datetime.date(2026, 9, 1))
    with pytest.raises(DatasetError, match="nothing to train on"):
        book_applications(AS_OF)
    make_loan(disbursed_on=datetime.date(2026, 1, 9))
    with pytest.raises(CommandError, match="0 bad and 1 good of 1: a scorecard needs at least 30 of each"):
        call_command("risk_train", "--model", "application", "--dataset", "book", "--as-of", "2026-11-28")
    assert not RiskModel.objects.exists()


@pytest.mark.django_db(transaction=True)  # the seeder writes with its own connection
def test_the_demo_book_goes_bad_with_its_features_and_the_scorecard_finds_it():
    LedgerSeeder(seed=11, as_of=AS_OF).run(borrowers=1200, loans=None)
    delinquency_refresh(as_of=AS_OF)
    frame, outcome, _window = book_applications(AS_OF)
    bad_rate = outcome.groupby(frame["limit_used"] >= 0.5).mean()
    assert bad_rate[True] > 1.5 * bad_rate[False]
    young = frame["age_at_booking"] < 25
    assert outcome[young].mean() > outcome[frame["age_at_booking"] >= 35].mean()
    model = risk_model_train(kind=RiskModel.Kind.APPLICATION, dataset=RiskModel.Dataset.BOOK, as_of=AS_OF)
    assert {"limit_used", "age_at_booking"} <= set(model.features)
    assert model.metrics["holdout"]["auc"] > 0.6
    assert (model.window_from, model.window_to) == (datetime.date(2023, 11, 28), datetime.date(2026, 5, 28))
