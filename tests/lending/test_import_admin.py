"""The admin's Import button for borrowers, loans and payments, with real CSV and XLSX files: the preview
lists every bad row, confirming applies the whole file or nothing (checked again at confirm time), and
only users with the model's add permission may import."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.roles import COLLECTOR, SUPERVISOR
from creditops.core.models import ReferenceCounter
from lending.models import Borrower, Installment, Loan, Payment, Product
from lending.services import payment_post
from tests.factories import BorrowerFactory, EnterpriseFactory, UserFactory, resident_id, uscc

from .test_import_files import write_csv, write_xlsx

pytestmark = pytest.mark.django_db
D = Decimal
BORROWER_HEADER = ["kind", "name", "id_type", "id_number", "phone", "legal_representative", "city", "risk_grade"]
LOAN_HEADER = [
    "borrower_id_number",
    "product_code",
    "principal_amount",
    "term_months",
    "disbursed_on",
    "first_due_date",
]
PAYMENT_HEADER = ["loan_reference", "external_ref", "amount", "received_on", "channel"]


@pytest.fixture(autouse=True)
def upload_storage(settings, tmp_path):
    """Uploads waiting for confirmation go to a folder of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media" / "imports"


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def staff_client(client, username, role):
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def import_url(model):
    return reverse(f"admin:lending_{model}_import")


def upload(client, model, path, **data):
    with path.open("rb") as opened:
        return client.post(import_url(model), {"file": opened, **data})


def confirm(client, model, response):
    return client.post(import_url(model), {"confirm": "1", "token": response.context["token"]}, follow=True)


def errors(response):
    """The preview's error table, as shown: in row order."""
    return [(error.row, error.column, error.reason) for error in response.context["report"].errors_by_row]


def waiting_uploads(folder):
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


# -- the button and who may use it ---------------------------------------------------------------------


@pytest.mark.parametrize("model", ["borrower", "loan", "payment"])
def test_each_changelist_has_an_import_button_leading_to_the_form(admin_client, model):
    changelist = admin_client.get(reverse(f"admin:lending_{model}_changelist"))
    assert f'href="{import_url(model)}"' in changelist.content.decode()
    page = admin_client.get(import_url(model))
    assert page.status_code == 200
    assert "Check the file" in page.content.decode()


@pytest.mark.parametrize("model", ["borrower", "loan", "payment"])
def test_a_collector_cannot_import_anything(client, model):
    collector = staff_client(client, "collector1", COLLECTOR)
    assert import_url(model) not in collector.get(reverse(f"admin:lending_{model}_changelist")).content.decode()
    assert collector.get(import_url(model)).status_code == 403
    assert collector.post(import_url(model), {"confirm": "1", "token": "x"}).status_code == 403


def test_a_supervisor_imports_payments_but_not_borrowers_or_loans(client):
    supervisor = staff_client(client, "sup1", SUPERVISOR)
    assert supervisor.get(import_url("payment")).status_code == 200
    assert supervisor.get(import_url("borrower")).status_code == 403
    assert supervisor.get(import_url("loan")).status_code == 403


# -- borrowers -----------------------------------------------------------------------------------------


def test_borrowers_from_csv_preview_then_confirm(admin_client, tmp_path, upload_storage):
    path = write_csv(
        tmp_path / "borrowers.csv",
        [
            BORROWER_HEADER,
            ["individual", "李雷", "resident_id", resident_id(4001), "+8613800004001", "", "上海市", "B"],
            ["enterprise", "示例科技有限公司", "uscc", uscc(4002), "+862100004002", "韩梅梅", "", ""],
        ],
    )
    preview = upload(admin_client, "borrower", path)

    assert preview.status_code == 200
    report = preview.context["report"]
    assert (report.ok, report.created, report.dry_run) == (True, 2, True)
    assert [row["name"] for row in report.preview] == ["李雷", "示例科技有限公司"]
    assert Borrower.objects.count() == 0
    assert len(waiting_uploads(upload_storage)) == 1

    done = confirm(admin_client, "borrower", preview)

    assert done.redirect_chain[-1][0] == reverse("admin:lending_borrower_changelist")
    assert [str(message) for message in done.context["messages"]] == ["2 borrowers created."]
    assert sorted(Borrower.objects.values_list("name", "risk_grade", "time_zone")) == [
        ("李雷", "B", "Asia/Shanghai"), ("示例科技有限公司", "C", "Asia/Shanghai"),
    ]  # fmt: skip
    assert AuditEvent.objects.filter(event="borrower.created").count() == 2
    assert AuditEvent.objects.get(event="borrowers.imported").detail == {
        "file": "borrowers.csv",
        "rows": 2,
        "created": 2,
    }
    assert waiting_uploads(upload_storage) == []


def test_the_borrower_preview_lists_every_bad_row_and_writes_nothing(admin_client, tmp_path, upload_storage):
    existing = BorrowerFactory()
    good_id = resident_id(4101)
    path = write_xlsx(
        tmp_path / "borrowers.xlsx",
        [
            BORROWER_HEADER,
            ["individual", "好人", "resident_id", good_id, "+8613800004101", None, None, None],
            ["individual", "重复", "resident_id", good_id.lower(), "+8613800004102", None, None, None],
            ["individual", "已有", "resident_id", existing.id_number, "+8613800004103", None, None, None],
            ["individual", "坏号", "resident_id", "110105198001010000", "13800004104", None, None, "Z"],
            ["enterprise", "无代表公司", "uscc", uscc(4105), "+862100004105", None, None, None],
            [None, None, "resident_id", resident_id(4106), "+8613800004106", None, None, None],
        ],
    )
    before = (Borrower.objects.count(), AuditEvent.objects.count())

    preview = upload(admin_client, "borrower", path)

    assert preview.status_code == 200
    assert errors(preview) == [
        (3, "id_number", "The same ID number is in row 2."),
        (4, "id_number", "A borrower with this ID number already exists."),
        (5, "phone", "Enter the phone number in international form, e.g. +8613800138000."),
        (5, "risk_grade", "Value 'Z' is not a valid choice."),
        (5, "id_number", "The resident ID number's check digit is wrong."),
        (6, "legal_representative", "An enterprise needs its legal representative."),
        (7, "name", "This field cannot be blank."),
    ]
    page = preview.content.decode()
    assert "5 rows have errors; nothing was written." in page
    assert "Confirm import" not in page
    assert (Borrower.objects.count(), AuditEvent.objects.count()) == before
    assert waiting_uploads(upload_storage) == []


# -- loans ---------------------------------------------------------------------------------------------


@pytest.fixture
def loan_borrowers(db):
    return BorrowerFactory(), EnterpriseFactory()


def test_loans_from_xlsx_are_booked_with_their_schedules(admin_client, tmp_path, product, loan_borrowers):
    person, company = loan_borrowers
    path = write_xlsx(
        tmp_path / "loans.xlsx",
        [
            LOAN_HEADER,
            [person.id_number, product.code, 12000, 12, datetime.datetime(2026, 11, 1), None],
            [company.id_number, product.code, "50000.00", 24, "2026-11-02", "2026-12-20"],
        ],
    )
    preview = upload(admin_client, "loan", path)
    assert preview.context["report"].ok
    assert [(row["term_months"], row["maturity_date"]) for row in preview.context["report"].preview] == [
        (12, datetime.date(2027, 11, 1)), (24, datetime.date(2028, 11, 20)),
    ]  # fmt: skip
    assert (Loan.objects.count(), Installment.objects.count()) == (0, 0)

    done = confirm(admin_client, "loan", preview)

    assert [str(message) for message in done.context["messages"]] == ["2 loans booked with their schedules."]
    loans = {loan.borrower: loan for loan in Loan.objects.all()}
    assert (loans[person].principal_amount, loans[person].installments.count()) == (D("12000.00"), 12)
    assert (loans[company].first_due_date, loans[company].installments.count()) == (datetime.date(2026, 12, 20), 24)
    assert AuditEvent.objects.filter(event="loan.created").count() == 2


def test_loan_rows_refused_by_the_service_are_listed_with_the_others(admin_client, tmp_path, product, loan_borrowers):
    person, _company = loan_borrowers
    Product.objects.create(
        code="OLD", name="Old", kind="term_loan", repayment_method="equal_installment", is_active=False
    )
    path = write_csv(
        tmp_path / "loans.csv",
        [
            LOAN_HEADER,
            [person.id_number, product.code, "12000", "12", "2026-11-01", ""],
            [person.id_number, "OLD", "12000", "12", "2026-11-01", ""],
            [person.id_number, product.code, "12000", "0", "2026-11-01", ""],
            [person.id_number, product.code, "12000", "12", "2026-11-01", "2026-10-01"],
            [resident_id(4999), product.code, "12000", "12", "2026-11-01", ""],
            [person.id_number, "NOPE", "12000.001", "twelve", "2026-13-01", ""],
            [person.id_number, product.code, "12000", "9" * 5000, "2026-11-01", ""],
        ],
    )
    before = (Loan.objects.count(), list(ReferenceCounter.objects.values_list("last_value", flat=True)))

    preview = upload(admin_client, "loan", path)

    assert errors(preview) == [
        (3, "product_code", "Product OLD is not active."),
        (4, "term_months", "The term must be 1 to 360 months."),
        (5, "first_due_date", "The first due date must come after disbursement."),
        (6, "borrower_id_number", "No borrower has this ID number."),
        (7, "principal_amount", "The amount has more than 2 decimal places."),
        (7, "term_months", "“twelve” is not a whole number."),
        (7, "disbursed_on", "“2026-13-01” is not a real date."),
        (7, "product_code", "No product has this code."),
        (8, "term_months", "The number is too large."),
    ]
    assert (Loan.objects.count(), list(ReferenceCounter.objects.values_list("last_value", flat=True))) == before


def test_a_loan_file_that_turns_bad_before_confirming_books_nothing(admin_client, tmp_path, product, loan_borrowers):
    person, company = loan_borrowers
    path = write_csv(
        tmp_path / "loans.csv",
        [
            LOAN_HEADER,
            [person.id_number, product.code, "1000", "6", "2026-11-01", ""],
            [company.id_number, "P2", "900", "3", "2026-11-01", ""],
        ],
    )
    Product.objects.create(code="P2", name="P2", kind="term_loan", repayment_method="equal_principal")
    preview = upload(admin_client, "loan", path)
    assert preview.context["report"].ok
    Product.objects.filter(code="P2").update(is_active=False)

    done = confirm(admin_client, "loan", preview)

    assert done.status_code == 400
    assert errors(done) == [(3, "product_code", "Product P2 is not active.")]
    assert Loan.objects.count() == 0


# -- payments ------------------------------------------------------------------------------------------


def test_payments_from_csv_with_a_source_preview_then_confirm(admin_client, tmp_path, make_loan, upload_storage):
    loan = make_loan()
    payment_post(
        loan=loan, source="icbc", external_ref="B-0", amount=D("10.00"), received_on=datetime.date(2026, 11, 1),
        channel="bank_transfer",
    )  # fmt: skip
    path = write_csv(
        tmp_path / "icbc.csv",
        [
            PAYMENT_HEADER,
            [loan.reference, "B-0", "10.00", "2026-11-01", ""],
            [loan.reference, "B-1", "1066.19", "2026-11-02", "card"],
        ],
    )
    preview = upload(admin_client, "payment", path, source="icbc")
    page = preview.content.decode()
    assert "1 payment is already posted and will be skipped:" in page
    assert "Dry run: 1 payment would be posted; nothing was written." in page
    assert Payment.objects.count() == 1

    done = confirm(admin_client, "payment", preview)

    assert [str(message) for message in done.context["messages"]] == ["1 payment posted. 1 already posted, skipped."]
    posted = Payment.objects.get(external_ref="B-1")
    assert (posted.source, posted.channel, posted.posted_by.username) == ("icbc", "card", "root")
    assert waiting_uploads(upload_storage) == []


def test_a_payment_file_that_turns_bad_before_confirming_posts_nothing(admin_client, tmp_path, make_loan):
    loan = make_loan()
    path = write_xlsx(
        tmp_path / "bank.xlsx",
        [
            PAYMENT_HEADER,
            [loan.reference, "T-1", "500", "2026-11-01", None],
            [loan.reference, "T-2", "700", "2026-11-02", None],
        ],
    )
    preview = upload(admin_client, "payment", path, source="bank_file")
    assert preview.context["report"].created == 2
    # Between preview and confirm someone posts T-2 by hand, with another amount.
    conflicting, _ = payment_post(
        loan=loan, source="bank_file", external_ref="T-2", amount=D("70.00"), received_on=datetime.date(2026, 11, 2),
        channel="cash",
    )  # fmt: skip
    paid_before = list(Installment.objects.order_by("pk").values_list("interest_paid_amount", "principal_paid_amount"))

    done = confirm(admin_client, "payment", preview)

    assert done.status_code == 400
    assert errors(done) == [
        (3, "external_ref", f"Reference T-2 was already posted (payment {conflicting.pk}) with other details.")
    ]
    assert list(Payment.objects.values_list("external_ref", flat=True)) == ["T-2"]
    assert (
        list(Installment.objects.order_by("pk").values_list("interest_paid_amount", "principal_paid_amount"))
        == paid_before
    )
    assert not AuditEvent.objects.filter(event="payments.imported").exists()


def test_a_confirmation_without_its_preview_posts_nothing(admin_client, tmp_path, make_loan):
    loan = make_loan()
    path = write_csv(tmp_path / "bank.csv", [PAYMENT_HEADER, [loan.reference, "T-1", "500", "2026-11-01", ""]])
    upload(admin_client, "payment", path, source="bank_file")

    done = admin_client.post(import_url("payment"), {"confirm": "1", "token": "imports/forged.csv"}, follow=True)

    assert [str(message) for message in done.context["messages"]] == ["This preview has expired; load the file again."]
    assert Payment.objects.count() == 0


def test_a_gbk_payment_file_is_refused_in_the_preview(admin_client, tmp_path, make_loan, upload_storage):
    loan = make_loan()
    path = write_csv(
        tmp_path / "bank.csv", [PAYMENT_HEADER, [loan.reference, "转账1", "500", "2026-11-01", ""]], encoding="gbk"
    )
    preview = upload(admin_client, "payment", path, source="bank_file")
    assert preview.context["report"].file_errors == [
        "The file is not UTF-8 (it looks like GBK/GB18030); save it as UTF-8 and load it again."
    ]
    assert "Confirm import" not in preview.content.decode()
    assert waiting_uploads(upload_storage) == []
    assert Payment.objects.count() == 0


def test_a_file_that_is_not_csv_or_xlsx_is_a_form_error(admin_client, tmp_path):
    path = tmp_path / "bank.txt"
    path.write_text("loan_reference,amount\n")
    response = upload(admin_client, "payment", path, source="bank_file")
    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "Only CSV and XLSX files can be imported (this one is bank.txt)."
    ]


def test_a_second_preview_replaces_the_first(admin_client, tmp_path, make_loan, upload_storage):
    loan = make_loan()
    first_file = write_csv(tmp_path / "a.csv", [PAYMENT_HEADER, [loan.reference, "A-1", "100", "2026-11-01", ""]])
    second_file = write_csv(tmp_path / "b.csv", [PAYMENT_HEADER, [loan.reference, "B-1", "200", "2026-11-01", ""]])
    first = upload(admin_client, "payment", first_file, source="bank_file")
    second = upload(admin_client, "payment", second_file, source="bank_file")
    assert len(waiting_uploads(upload_storage)) == 1  # the first file is gone

    stale = confirm(admin_client, "payment", first)  # e.g. from a tab left open

    assert [str(message) for message in stale.context["messages"]] == ["This preview has expired; load the file again."]
    assert Payment.objects.count() == 0
    confirm(admin_client, "payment", second)
    assert list(Payment.objects.values_list("external_ref", flat=True)) == ["B-1"]
