"""The ledger's entries in the API: the loan detail's new fields, `adjustments` (waived per part, the
write-off and recoveries, the latest entries, settlements, restructurings) and the schedule's adjusted
amounts, each compared with the ledger the services wrote; the loans list's `status=settled_discount`
and `restructured` filters; and a detail whose query count does not grow with its entries."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from creditops.core.dates import add_months, business_today
from lending.adjustments import waiver_post, waiver_reverse
from lending.models import Installment, LedgerEntry, Loan, Payment, PaymentAllocation
from lending.restructuring import loan_restructure
from lending.services import payment_post
from lending.settlements import loan_owed_amount, settlement_agree
from lending.write_off import loan_write_off
from tests.factories import BorrowerFactory
from tests.lending.test_penalty import accrue_through

from .conftest import assert_error

TODAY = business_today()
ONE_DAY = datetime.timedelta(days=1)
PARTS = ("principal", "interest", "fee", "penalty")
_refs = iter(range(1, 10_000))


def overdue_loans(make_loan, count=1):
    """`count` loans of 12,000.00 over 12 months, three installments overdue, penalty charged ten days."""
    first_due = add_months(TODAY, -3) - ONE_DAY * 12
    loans = [
        make_loan(borrower=BorrowerFactory(), disbursed_on=add_months(first_due, -1), first_due_date=first_due)
        for _ in range(count)
    ]
    accrue_through(TODAY - ONE_DAY * 10, first=TODAY - ONE_DAY * 19)
    return [Loan.objects.get(pk=loan.pk) for loan in loans]


def pay(loan, amount, received_on=TODAY):
    payment, _created = payment_post(
        loan=loan, source="bank-file", external_ref=f"API-{next(_refs)}", amount=Decimal(amount),
        received_on=received_on, channel=Payment.Channel.BANK_TRANSFER,
    )  # fmt: skip
    return payment


def money(value) -> str:
    return f"{Decimal(value):.2f}"


@pytest.fixture
def admin_api(client_for, administrator):
    return client_for(administrator)


def detail(client, loan) -> dict:
    response = client.get(f"/api/v1/loans/{loan.pk}/")
    assert response.status_code == 200, response.content
    return response.json()


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_waivers_a_write_off_and_a_recovery_as_the_api_shows_them(admin_api, make_loan):
    (loan,) = overdue_loans(make_loan)
    penalty_waiver = waiver_post(loan=loan, component="penalty", amount="1.50", reason="goodwill", authority="ap 1")
    interest_waiver = waiver_post(loan=loan, component="interest", amount="20.00", reason="error", authority="ap 2")
    reversal = waiver_reverse(entry=interest_waiver, reason="granted by mistake")
    owed = loan_owed_amount(loan)
    loan_write_off(loan=loan, on=TODAY, reason="uncollectable", authority="ap 3")
    recovery_payment = pay(loan, "500.00")
    loan.refresh_from_db()

    body = detail(admin_api, loan)
    assert body["status"] == "written_off"
    assert body["written_off_on"] == TODAY.isoformat()
    assert body["written_off_amount"] == money(owed - 500) == money(loan.written_off_amount)
    assert (body["restructure_count"], body["restructured_on"], body["restructure_watch_until"]) == (0, None, None)
    assert body["capitalised_amount"] == "0.00"

    adjustments = body["adjustments"]
    # The interest waiver was taken back: only the penalty's 1.50 stays waived.
    assert adjustments["waived"] == {
        "penalty_amount": "1.50", "fee_amount": "0.00", "interest_amount": "0.00", "principal_amount": "0.00",
        "total_amount": "1.50",
    }  # fmt: skip
    recovered_principal = PaymentAllocation.objects.filter(payment=recovery_payment).aggregate(
        total=Sum("principal_amount")
    )["total"]
    assert 0 < recovered_principal < 500  # the waterfall paid penalty and interest first
    assert adjustments["write_off"] == {
        "written_off_amount": money(owed),
        "recovered_amount": "500.00",
        "recovered_principal_amount": money(recovered_principal),
        "still_written_off_amount": money(owed - 500),
        "written_off_on": TODAY.isoformat(),
        "undo_until": (TODAY + datetime.timedelta(days=90)).isoformat(),
    }

    entries = adjustments["entries"]
    recovery = LedgerEntry.objects.get(kind="recovery")
    write_off = LedgerEntry.objects.get(kind="write_off")
    assert [entry["id"] for entry in entries] == [
        recovery.pk, write_off.pk, reversal.pk, interest_waiver.pk, penalty_waiver.pk,
    ]  # fmt: skip
    assert [(entry["kind"], entry["component"], entry["amount"], entry["reverses"]) for entry in entries] == [
        ("recovery", "", "-500.00", None),
        ("write_off", "", money(owed), None),
        ("waiver", "interest", "-20.00", interest_waiver.pk),
        ("waiver", "interest", "20.00", None),
        ("waiver", "penalty", "1.50", None),
    ]
    assert entries[0]["payment"] == recovery_payment.pk
    assert entries[-1] == {
        "id": penalty_waiver.pk, "kind": "waiver", "component": "penalty", "effective_on": TODAY.isoformat(),
        "amount": "1.50", "requested_amount": "1.50", "reason": "goodwill", "authority": "ap 1", "reverses": None,
        "payment": None, "created_at": entries[-1]["created_at"],
    }  # fmt: skip
    assert entries[1]["authority"] == "ap 3" and entries[1]["reason"] == "uncollectable"
    assert (adjustments["settlements"], adjustments["restructurings"]) == ([], [])

    # The schedule's rows carry what entries closed of each part: waived (1.50) + still written off.
    rows = body["schedule"]
    stored = {item.sequence: item for item in Installment.objects.filter(loan=loan)}
    for row in rows:
        item = stored[row["sequence"]]
        assert row["effective_due_date"] == item.effective_due_date.isoformat()
        for part in PARTS:
            assert row[f"{part}_adjusted_amount"] == money(getattr(item, f"{part}_adjusted_amount")), part
        assert row["outstanding_amount"] == "0.00"  # all of it off balance
    adjusted = sum(Decimal(row[f"{part}_adjusted_amount"]) for row in rows for part in PARTS)
    assert adjusted == Decimal("1.50") + loan.written_off_amount


def test_a_settlement_paid_by_its_deadline_closes_the_loan_with_discount(admin_api, make_loan):
    loan, other = overdue_loans(make_loan, 2)
    owed = loan_owed_amount(loan)
    settlement = settlement_agree(
        loan=loan,
        agreed_amount="3000.00",
        deadline=TODAY + ONE_DAY * 10,
        instalments=[(TODAY + ONE_DAY * 5, "1000.00"), (TODAY + ONE_DAY * 10, "2000.00")],
        authority="ap 9",
    )
    pay(loan, "1200.00")
    (agreed,) = detail(admin_api, loan)["adjustments"]["settlements"]
    assert agreed == {
        "id": settlement.pk, "agreed_amount": "3000.00", "owed_amount": money(owed),
        "discount_amount": money(owed - 3000), "starts_on": TODAY.isoformat(),
        "deadline": (TODAY + ONE_DAY * 10).isoformat(), "status": "active", "ended_on": None, "end_reason": "",
        "paid_amount": "1200.00", "authority": "ap 9",
        "instalments": [
            {"sequence": 1, "due_date": (TODAY + ONE_DAY * 5).isoformat(), "amount": "1000.00"},
            {"sequence": 2, "due_date": (TODAY + ONE_DAY * 10).isoformat(), "amount": "2000.00"},
        ],
    }  # fmt: skip
    assert admin_api.get("/api/v1/loans/", {"status": "settled_discount"}).json()["results"] == []

    pay(loan, "1800.00")
    body = detail(admin_api, loan)
    assert (body["status"], body["settled_on"]) == ("settled_discount", TODAY.isoformat())
    (settled,) = body["adjustments"]["settlements"]
    assert (settled["status"], settled["end_reason"], settled["ended_on"]) == ("settled", "paid", TODAY.isoformat())
    assert settled["paid_amount"] == "3000.00"
    discount = LedgerEntry.objects.get(kind="settlement_discount")
    assert discount.amount == owed - 3000  # no penalty was charged meanwhile
    assert body["adjustments"]["entries"][0]["id"] == discount.pk
    assert body["adjustments"]["entries"][0]["amount"] == money(owed - 3000)
    waived = body["adjustments"]["waived"]
    assert waived["total_amount"] == money(owed - 3000)  # a settlement's discount is waived debt
    assert sum(Decimal(waived[f"{part}_amount"]) for part in PARTS) == owed - 3000
    assert all(row["outstanding_amount"] == "0.00" for row in body["schedule"])

    assert ids(admin_api.get("/api/v1/loans/", {"status": "settled_discount"})) == [loan.pk]
    assert other.pk in ids(admin_api.get("/api/v1/loans/", {"status": "active"}))
    assert loan.pk not in ids(admin_api.get("/api/v1/loans/", {"status": "active"}))


def test_a_restructured_loan_and_the_restructured_filter(admin_api, make_loan):
    restructured, plain = overdue_loans(make_loan, 2)
    first_due = add_months(TODAY, 1)
    done = loan_restructure(
        loan=restructured, method="capitalise", term_months=12, first_due_date=first_due, reason="job lost",
        authority="ap 5",
    )  # fmt: skip
    restructured.refresh_from_db()

    body = detail(admin_api, restructured)
    assert (body["restructure_count"], body["restructured_on"]) == (1, TODAY.isoformat())
    assert body["restructure_watch_until"] == add_months(TODAY, 6).isoformat()
    assert body["capitalised_amount"] == money(done.capitalised_amount) != "0.00"
    assert body["maturity_date"] == restructured.maturity_date.isoformat()
    (shown,) = body["adjustments"]["restructurings"]
    assert shown == {
        "id": done.pk, "method": "capitalise", "effective_on": TODAY.isoformat(), "term_months": 12,
        "first_due_date": first_due.isoformat(), "first_sequence": 13, "arrears_amount": money(done.arrears_amount),
        "principal_amount": money(done.principal_amount), "capitalised_amount": money(done.capitalised_amount),
        "carried_amount": "0.00", "closing_entry": done.closing_entry_id, "authority": "ap 5",
    }  # fmt: skip
    closing = body["adjustments"]["entries"][0]
    assert (closing["id"], closing["kind"], closing["amount"]) == (
        done.closing_entry_id, "restructure", money(done.closing_entry.amount),
    )  # fmt: skip
    rows = body["schedule"]
    assert [row["sequence"] for row in rows] == list(range(1, 25))
    old, new = rows[:12], rows[12:]
    # The old schedule is closed by the restructure entry; the new one carries the principal.
    assert all(row["outstanding_amount"] == "0.00" for row in old)
    closed = sum(Decimal(row[f"{part}_adjusted_amount"]) for row in old for part in PARTS)
    assert closed == done.closing_entry.amount
    assert sum(Decimal(row["principal_amount"]) for row in new) == done.principal_amount
    assert new[0]["due_date"] == first_due.isoformat() and new[0]["effective_due_date"] == first_due.isoformat()
    assert all(row[f"{part}_adjusted_amount"] == "0.00" for row in new for part in PARTS)

    assert ids(admin_api.get("/api/v1/loans/", {"restructured": "true"})) == [restructured.pk]
    assert ids(admin_api.get("/api/v1/loans/", {"restructured": "false"})) == [plain.pk]
    assert set(ids(admin_api.get("/api/v1/loans/", {"restructured": ""}))) == {restructured.pk, plain.pk}
    assert ids(admin_api.get("/api/v1/loans/", {"restructured": "true", "status": "active"})) == [restructured.pk]
    error = assert_error(admin_api.get("/api/v1/loans/", {"restructured": "yes"}), 400, "invalid")
    assert set(error["detail"]) == {"restructured"}


def test_a_loan_without_entries_shows_zeros_and_empty_lists(admin_api, make_loan):
    loan = make_loan(borrower=BorrowerFactory())
    body = detail(admin_api, loan)
    assert body["status"] == "active"
    assert (body["written_off_on"], body["written_off_amount"], body["capitalised_amount"]) == (None, "0.00", "0.00")
    assert body["adjustments"] == {
        "waived": dict.fromkeys(
            ["penalty_amount", "fee_amount", "interest_amount", "principal_amount", "total_amount"], "0.00"
        ),
        "write_off": {
            "written_off_amount": "0.00", "recovered_amount": "0.00", "recovered_principal_amount": "0.00",
            "still_written_off_amount": "0.00", "written_off_on": None, "undo_until": None,
        },
        "entries": [],
        "settlements": [],
        "restructurings": [],
    }  # fmt: skip
    first = body["schedule"][0]
    assert first["effective_due_date"] == first["due_date"]
    # The list keeps its fields and adds the new ones.
    (listed,) = admin_api.get("/api/v1/loans/").json()["results"]
    assert {"written_off_amount", "restructure_count", "restructure_watch_until", "capitalised_amount"} <= set(listed)
    assert "adjustments" not in listed and "schedule" not in listed


def test_the_detail_costs_the_same_queries_however_many_entries(admin_api, make_loan):
    (loan,) = overdue_loans(make_loan)
    waiver_post(loan=loan, component="penalty", amount="0.01", reason="one")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            detail(admin_api, loan)
        return len(captured.captured_queries)

    detail(admin_api, loan)  # a key's first call records when it was last used; the next calls do not
    few = queries()
    for number in range(40):
        waiver_post(loan=loan, component="interest", amount="0.01", reason=f"more {number}")
    body = detail(admin_api, loan)
    assert len(body["adjustments"]["entries"]) == 30  # the latest 30, newest first
    assert body["adjustments"]["entries"][0]["reason"] == "more 39"
    assert body["adjustments"]["waived"]["interest_amount"] == "0.40"  # totals count every entry
    assert queries() == few
    assert few <= 25


def test_the_schema_describes_the_new_fields_and_filters(client):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    loan = components["LoanDetail"]["properties"]
    for name in ["written_off_amount", "written_off_on", "restructure_count", "restructured_on",
                 "restructure_watch_until", "capitalised_amount"]:  # fmt: skip
        assert loan[name].get("description"), name
    assert loan["adjustments"]["allOf"] == [{"$ref": "#/components/schemas/LoanAdjustments"}]
    assert "settled_discount" in components["LoanStatusEnum"]["enum"]
    installment = components["Installment"]["properties"]
    for name in ["effective_due_date", *(f"{part}_adjusted_amount" for part in PARTS)]:
        assert installment[name].get("description"), name
    for component in ["LoanAdjustments", "Waived", "WriteOff", "LedgerEntry", "Settlement", "Restructuring"]:
        for name, field in components[component]["properties"].items():
            assert field.get("description") or "$ref" in field or "allOf" in field or name == "id", (component, name)
    parameters = {item["name"]: item for item in schema["paths"]["/api/v1/loans/"]["get"]["parameters"]}
    assert parameters["restructured"]["schema"] == {"type": "boolean"}
    assert "settled_discount" in parameters["status"]["schema"]["enum"]
