import datetime

import pytest
from django.db import connection
from django.db.models import F, Value
from django.test.utils import CaptureQueriesContext

import creditops.core.admin as core_admin
from accounts.models import AuditEvent
from creditops.core.admin import EstimatedCountPaginator
from creditops.core.db import DaysBetween, estimated_row_count
from lending.models import Borrower, Loan
from tests.factories import BorrowerFactory

D = datetime.date


@pytest.mark.django_db
def test_days_between_two_date_columns(make_loan):
    loan = make_loan(disbursed_on=D(2026, 1, 15), term_months=12)
    assert (loan.first_due_date, loan.maturity_date) == (D(2026, 2, 15), D(2027, 1, 15))
    row = Loan.objects.annotate(
        term_days=DaysBetween(F("maturity_date"), F("disbursed_on")),
        first_gap=DaysBetween(F("first_due_date"), F("disbursed_on")),
        backwards=DaysBetween(F("disbursed_on"), F("maturity_date")),
    ).get(pk=loan.pk)
    assert (row.term_days, row.first_gap, row.backwards) == (365, 31, -365)
    assert isinstance(row.term_days, int)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("end", "start", "days"),
    [
        (D(2026, 3, 1), D(2026, 2, 28), 1),
        (D(2028, 3, 1), D(2028, 2, 28), 2),  # leap year
        (D(2027, 1, 1), D(2026, 1, 1), 365),
        (D(2026, 5, 10), D(2026, 5, 10), 0),
        (D(2026, 1, 1), D(2026, 1, 31), -30),
    ],
)
def test_days_between_values_in_a_filter_and_an_annotation(make_loan, end, start, days):
    loan = make_loan(disbursed_on=start)
    queryset = Loan.objects.annotate(days=DaysBetween(Value(end), F("disbursed_on")))
    assert queryset.get(pk=loan.pk).days == days
    assert list(queryset.filter(days=days).values_list("pk", flat=True)) == [loan.pk]
    assert not queryset.filter(days=days + 1).exists()


@pytest.mark.django_db
def test_paginator_counts_exactly_on_a_filtered_queryset():
    BorrowerFactory.create_batch(3)
    BorrowerFactory(risk_grade=Borrower.RiskGrade.A)
    queryset = Borrower.objects.filter(risk_grade=Borrower.RiskGrade.C).order_by("-id")
    with CaptureQueriesContext(connection) as queries:
        assert EstimatedCountPaginator(queryset, 2).count == 3
    assert any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


@pytest.mark.django_db
def test_paginator_counts_exactly_on_sqlite_or_below_the_threshold():
    BorrowerFactory.create_batch(3)
    paginator = EstimatedCountPaginator(Borrower.objects.order_by("-id"), 2)
    assert paginator.count == 3
    assert paginator.num_pages == 2
    assert [borrower.pk for borrower in paginator.page(2)] == [Borrower.objects.order_by("id").first().pk]


@pytest.mark.django_db
def test_no_estimate_on_sqlite(monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite behaviour")
    monkeypatch.setattr(core_admin, "EXACT_COUNT_THRESHOLD", 0)
    BorrowerFactory.create_batch(2)
    assert estimated_row_count(Borrower) is None
    assert EstimatedCountPaginator(Borrower.objects.order_by("-id"), 10).count == 2


def _reltuples(model):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_unfiltered_big_table_takes_its_count_from_pg_class(on_postgres, monkeypatch):
    monkeypatch.setattr(core_admin, "EXACT_COUNT_THRESHOLD", 0)
    BorrowerFactory.create_batch(5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE lending_borrower")
    estimate = _reltuples(Borrower)
    assert estimate == 5
    BorrowerFactory.create_batch(2)  # rows added after ANALYZE: the estimate does not know them yet
    assert Borrower.objects.count() == 7

    paginator = EstimatedCountPaginator(Borrower.objects.order_by("-id"), 2)
    with CaptureQueriesContext(connection) as queries:
        count = paginator.count
    assert count == estimate == 5
    assert estimated_row_count(Borrower) == 5
    assert queries.captured_queries, "the estimate is read from the database"
    assert not [query["sql"] for query in queries.captured_queries if "COUNT(" in query["sql"].upper()]
    assert all("pg_class" in query["sql"] for query in queries.captured_queries)

    # A filtered list of the same table still counts exactly, with COUNT(*).
    with CaptureQueriesContext(connection) as queries:
        assert EstimatedCountPaginator(Borrower.objects.filter(kind="individual").order_by("-id"), 2).count == 7
    assert any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


@pytest.mark.django_db
def test_estimate_below_the_threshold_is_not_used(on_postgres):
    BorrowerFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE lending_borrower")
    BorrowerFactory()
    assert core_admin.EXACT_COUNT_THRESHOLD == 100_000
    assert EstimatedCountPaginator(Borrower.objects.order_by("-id"), 10).count == 4


@pytest.mark.django_db
def test_never_analysed_table_counts_exactly(on_postgres, monkeypatch):
    monkeypatch.setattr(core_admin, "EXACT_COUNT_THRESHOLD", -1)
    if _reltuples(AuditEvent) >= 0:
        pytest.skip("the audit table was analysed already in this database")
    AuditEvent.objects.create(event="x")
    assert estimated_row_count(AuditEvent) is None
    assert EstimatedCountPaginator(AuditEvent.objects.all(), 10).count == 1


@pytest.mark.django_db
def test_filtered_list_counts_exactly_up_to_the_cap_then_asks_the_planner(on_postgres, monkeypatch):
    monkeypatch.setattr(core_admin, "FILTERED_COUNT_CAP", 3)
    BorrowerFactory.create_batch(3)
    filtered = Borrower.objects.filter(kind="individual").order_by("-id")
    assert EstimatedCountPaginator(filtered, 2).count == 3  # at the cap: still exact

    BorrowerFactory.create_batch(5)
    with CaptureQueriesContext(connection) as queries:
        count = EstimatedCountPaginator(filtered, 2).count
    sqls = [query["sql"].upper() for query in queries.captured_queries]
    assert any("LIMIT 4" in sql and "COUNT(" in sql for sql in sqls), sqls  # the capped count stops at cap + 1
    assert any(sql.startswith("EXPLAIN") for sql in sqls), sqls
    assert not [sql for sql in sqls if "COUNT(" in sql and "LIMIT" not in sql]  # never an unbounded count
    assert count >= 4  # the planner's estimate, never less than what the capped count already saw
