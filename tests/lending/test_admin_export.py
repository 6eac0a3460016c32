"""Export actions on the borrower, loan and payment changelists: CSV (UTF-8 with BOM) and XLSX read back,
personal data masked, formulas neutralised, the user's scope respected, the row cap, and the audit trail."""

import csv
import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.roles import COLLECTOR
from accounts.selectors import EXPORT_EVENTS
from lending.imports import exports
from lending.models import Borrower
from lending.services import payment_post
from tests.factories import BorrowerFactory, UserFactory

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def export(client, model, action, *, selected, select_all=False, query=""):
    """Run an export action as the changelist's form posts it: the rows ticked on the page, and with
    "select all" the flag that widens it to every row of the (filtered) list."""
    url = reverse(f"admin:lending_{model}_changelist") + query
    data = {"action": action, "_selected_action": [str(pk) for pk in selected], "index": "0"}
    if select_all:
        data["select_across"] = "1"
    return client.post(url, data)


def csv_rows(response):
    content = b"".join(response.streaming_content).decode("utf-8")
    assert content.startswith("\ufeff")
    return list(csv.reader(io.StringIO(content[1:])))


def xlsx_rows(response):
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_borrowers_export_as_csv_masked_and_formula_safe_with_an_audit_event(admin_client, superuser):
    shown = BorrowerFactory(name='=HYPERLINK("http://evil")', phone="+8613812345678")
    BorrowerFactory()  # not selected

    response = export(admin_client, "borrower", "export_csv", selected=[shown.pk])

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="borrower-')
    header, row = csv_rows(response)
    record = dict(zip(header, row, strict=True))
    assert header[:8] == [
        "id", "kind", "name", "name_latin", "legal_representative", "id_type", "id_number_masked", "phone_masked",
    ]  # fmt: skip
    assert record["name"] == '\'=HYPERLINK("http://evil")'
    assert record["id_number_masked"] == shown.masked_id_number != shown.id_number
    assert record["phone_masked"] == "'+86*******5678"  # a leading + would start a formula
    assert record["credit_limit_amount"] == "100000.00"
    assert "email" not in header
    assert "address" not in header
    event = AuditEvent.objects.get(event="admin.exported")
    assert (event.actor, event.detail) == (
        superuser,
        {"model": "lending.borrower", "format": "csv", "rows": 1, "truncated": False, "filters": {},
         "selected": [str(shown.pk)]},
    )  # fmt: skip


def test_loans_export_as_xlsx_keeps_numbers_and_dates_and_records_the_filters(admin_client, make_loan):
    active = make_loan()
    settled = make_loan(principal_amount=D("500.00"), term_months=1)
    payment_post(
        loan=settled, source="bank", external_ref="S-1", amount=D("505.00"), received_on=datetime.date(2026, 2, 1),
        channel="cash",
    )  # fmt: skip

    response = export(
        admin_client, "loan", "export_xlsx", selected=[active.pk], select_all=True, query="?status__exact=active"
    )

    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    header, *rows = xlsx_rows(response)
    assert len(rows) == 1
    record = dict(zip(header, rows[0], strict=True))
    assert record["reference"] == active.reference
    assert (record["principal_amount"], record["term_months"], record["status"]) == (12000, 12, "active")
    assert record["disbursed_on"] == datetime.datetime(2026, 1, 15)
    assert record["borrower_id_number_masked"] == active.borrower.masked_id_number
    assert AuditEvent.objects.get(event="admin.exported").detail == {
        "model": "lending.loan", "format": "xlsx", "rows": 1, "truncated": False,
        "filters": {"status__exact": "active"}, "selected": "all",
    }  # fmt: skip


def test_payments_export_as_csv(admin_client, make_loan):
    loan = make_loan()
    payment, _ = payment_post(
        loan=loan, source="bank", external_ref="-1+1", amount=D("1066.19"), received_on=datetime.date(2026, 2, 15),
        channel="alipay",
    )  # fmt: skip
    header, row = csv_rows(export(admin_client, "payment", "export_csv", selected=[payment.pk], select_all=True))
    assert dict(zip(header, row, strict=True)) == {
        "id": str(payment.pk), "loan_reference": loan.reference, "source": "bank", "external_ref": "'-1+1",
        "amount": "1066.19", "unallocated_amount": "0.00", "received_on": "2026-02-15", "channel": "alipay",
        "status": "posted", "reversed_on": "", "reversal_reason": "", "posted_by": "",
    }  # fmt: skip


def test_an_export_covers_only_the_rows_the_user_may_see(client, admin_client, make_loan):
    borrower = make_loan().borrower
    assert len(csv_rows(export(admin_client, "borrower", "export_csv", selected=[borrower.pk], select_all=True))) == 2
    collector = UserFactory(username="collector1")
    collector.groups.add(Group.objects.get(name=COLLECTOR))
    client.force_login(collector)  # no cases, so no borrower is in their scope

    # A hand-made request naming a borrower outside the scope, with "select all" too.
    rows = csv_rows(export(client, "borrower", "export_csv", selected=[borrower.pk], select_all=True))

    assert len(rows) == 1  # the header alone
    assert AuditEvent.objects.filter(event="admin.exported").latest("pk").detail["rows"] == 0


def test_an_export_stops_at_the_row_limit_and_says_so(admin_client, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_ROW_LIMIT", 2)
    page = [borrower.pk for borrower in BorrowerFactory.create_batch(3)]

    csv_export = csv_rows(export(admin_client, "borrower", "export_csv", selected=page, select_all=True))
    xlsx_export = xlsx_rows(export(admin_client, "borrower", "export_xlsx", selected=page, select_all=True))

    assert csv_export[-1] == ["Stopped at 2 rows: narrow the filters."]
    assert len(csv_export) == 4
    assert xlsx_export[-1][0] == "Stopped at 2 rows: narrow the filters."
    assert len(xlsx_export) == 4
    details = [event.detail for event in AuditEvent.objects.filter(event="admin.exported").order_by("pk")]
    assert [(detail["rows"], detail["truncated"]) for detail in details] == [(2, True), (2, True)]


def test_admin_exports_are_in_the_audit_screens_exports_category(admin_client):
    export(admin_client, "borrower", "export_csv", selected=[BorrowerFactory().pk])
    assert "admin.exported" in EXPORT_EVENTS
    page = admin_client.get(reverse("accounts:audit"), {"category": "exports"})
    assert page.status_code == 200
    assert "Admin list exported" in page.content.decode()


def test_export_needs_no_personal_data_reveal(admin_client):
    """The export is not a reveal: no personal_data.* event, and the full ID number appears nowhere."""
    borrower = BorrowerFactory()
    content = b"".join(export(admin_client, "borrower", "export_csv", selected=[borrower.pk]).streaming_content)
    assert borrower.id_number.encode() not in content
    assert not AuditEvent.objects.filter(event__startswith="personal_data").exists()
    assert Borrower.objects.count() == 1
