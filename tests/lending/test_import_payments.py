"""The bank payment file: `manage.py import_payments` and payments_import on real files and the real
database. Every broken file is rejected with a report naming each bad row, and leaves the ledger exactly
as it was; a good file posts what payment_post would have posted.

The loans are the default 12,000.00 over 12 months at 12% (tests/conftest.py): installment 1 is
1066.19 (principal 946.19 + interest 120.00), due 2026-02-15.
"""

import datetime
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

import dunning.import_receivers  # noqa: F401 - connects the timeline receiver (dunning/apps.py wires it too)
from accounts.models import AuditEvent
from creditops.core.dates import business_today
from dunning.models import CaseEvent, CollectionCase
from dunning.services.run import dunning_run
from lending.imports.files import read_rows
from lending.imports.payments import COLUMNS, payments_import
from lending.imports.report import Duplicate, RowError
from lending.models import Installment, Loan, Payment, PaymentAllocation
from lending.services import payment_post

from .test_import_files import write_csv, write_xlsx

pytestmark = pytest.mark.django_db
D = Decimal
ZERO = D("0.00")
HEADER = ["loan_reference", "external_ref", "amount", "received_on", "channel"]
PAID_FIELDS = ["penalty_paid_amount", "fee_paid_amount", "interest_paid_amount", "principal_paid_amount"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def loans(make_loan):
    return [make_loan(), make_loan()]


@pytest.fixture
def good_rows(loans):
    first, second = (loan.reference for loan in loans)
    return [
        [first, "TX-1", "500.00", "2026-11-20", "bank_transfer"],
        [second, "TX-2", "1066.19", "2026/11/21", "alipay"],
    ]


def ledger_snapshot() -> dict:
    """Everything an import may write, to prove a rejected one wrote nothing."""
    return {
        "payments": Payment.objects.count(),
        "allocations": PaymentAllocation.objects.count(),
        "installments": list(Installment.objects.order_by("pk").values_list("pk", *PAID_FIELDS)),
        "loans": list(Loan.objects.order_by("pk").values_list("pk", "credit_balance_amount", "status", "settled_on")),
        "audit_events": AuditEvent.objects.count(),
        "case_events": CaseEvent.objects.count(),
    }


def import_file(path, *, source="bank_file", dry_run=False):
    with path.open("rb") as opened:
        rows = read_rows(opened, name=path.name, columns=COLUMNS)
    return payments_import(rows=rows, source=source, actor=None, dry_run=dry_run, file_name=path.name)


def command(path, *arguments) -> tuple[int, str, str]:
    """(exit status as manage.py would give it, stdout, stderr) of import_payments in this process."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_payments", str(path), *arguments, stdout=out, stderr=err)
    except CommandError as error:
        return 1, out.getvalue(), f"{err.getvalue()}\nCommandError: {error}"
    return 0, out.getvalue(), err.getvalue()


def paid(loan, sequence):
    return Installment.objects.filter(loan=loan, sequence=sequence).values_list(*PAID_FIELDS).get()


# -- a good file -------------------------------------------------------------------------------------


def test_a_good_file_posts_every_payment_by_the_waterfall_with_its_audit_events(tmp_path, loans, good_rows):
    path = write_csv(tmp_path / "bank-20261121.csv", [HEADER, *good_rows])

    status, out, err = command(path)

    assert err == ""
    assert status == 0
    assert out.splitlines() == ["bank-20261121.csv: 2 rows read.", "2 payments posted."]
    first, second = (Payment.objects.get(external_ref=ref) for ref in ("TX-1", "TX-2"))
    assert (first.loan, first.source, first.amount, first.received_on, first.channel, first.posted_by) == (
        loans[0], "bank_file", D("500.00"), datetime.date(2026, 11, 20), "bank_transfer", None,
    )  # fmt: skip
    assert (second.received_on, second.channel, second.unallocated_amount) == (
        datetime.date(2026, 11, 21), "alipay", ZERO,
    )  # fmt: skip
    assert paid(loans[0], 1) == (ZERO, ZERO, D("120.00"), D("380.00"))
    assert paid(loans[1], 1) == (ZERO, ZERO, D("120.00"), D("946.19"))
    assert PaymentAllocation.objects.count() == 2
    posted = AuditEvent.objects.filter(event="payment.posted").order_by("pk")
    assert [(event.subject_id, event.detail) for event in posted] == [
        (str(first.pk), {"loan": loans[0].reference, "amount": "500.00", "to_credit": "0.00"}),
        (str(second.pk), {"loan": loans[1].reference, "amount": "1066.19", "to_credit": "0.00"}),
    ]
    assert AuditEvent.objects.get(event="payments.imported").detail == {
        "file": "bank-20261121.csv", "source": "bank_file", "rows": 2, "posted": 2, "duplicates": 0,
        "amount": "1566.19",
    }  # fmt: skip


def test_an_xlsx_bank_file_posts_like_a_csv(tmp_path, loans):
    path = write_xlsx(
        tmp_path / "bank.xlsx",
        [
            HEADER[:4],
            [loans[0].reference, "X-1", 1066.19, datetime.datetime(2026, 11, 2)],
            [loans[1].reference, "X-2", 20, "2026-11-03"],
        ],
    )
    report = import_file(path, source="bank_xlsx")
    assert (report.ok, report.created) == (True, 2)
    assert sorted(Payment.objects.values_list("external_ref", "amount", "channel")) == [
        ("X-1", D("1066.19"), "bank_transfer"), ("X-2", D("20.00"), "bank_transfer"),
    ]  # fmt: skip


def test_the_source_option_names_where_the_payments_came_from(tmp_path, good_rows):
    path = write_csv(tmp_path / "bank.csv", [HEADER, *good_rows])
    assert command(path, "--source", "icbc_daily")[0] == 0
    assert set(Payment.objects.values_list("source", flat=True)) == {"icbc_daily"}


# -- broken files: the report names each problem, and nothing is written ------------------------------

BROKEN_ROWS = {
    "bad date": (["{loan}", "TX-3", "10.00", "2026-02-30", ""], "received_on", "“2026-02-30” is not a real date."),
    "day first date": (
        ["{loan}", "TX-3", "10.00", "28/11/2026", ""], "received_on",
        "“28/11/2026” is not a date in the form YYYY-MM-DD.",
    ),
    "future date": (
        ["{loan}", "TX-3", "10.00", "{tomorrow}", ""], "received_on",
        "The payment's date {tomorrow} is after today ({today}).",
    ),
    "date before the loan": (
        ["{loan}", "TX-3", "10.00", "2026-01-14", ""], "received_on",
        "The payment's date 2026-01-14 is before the loan was disbursed (2026-01-15).",
    ),
    "negative amount": (
        ["{loan}", "TX-3", "-10.00", "2026-11-20", ""], "amount",
        "The amount is negative; only money received can be imported.",
    ),
    "non-numeric amount": (
        ["{loan}", "TX-3", "1,066.19", "2026-11-20", ""], "amount",
        "“1,066.19” is not an amount: write digits with a decimal point, without separators or currency.",
    ),
    "zero amount": (["{loan}", "TX-3", "0.00", "2026-11-20", ""], "amount", "The amount is zero."),
    "amount of 30 digits": (["{loan}", "TX-3", "1" * 30, "2026-11-20", ""], "amount", "The amount is too large."),
    "too many decimals": (
        ["{loan}", "TX-3", "10.005", "2026-11-20", ""], "amount", "The amount has more than 2 decimal places.",
    ),
    "unknown loan reference": (
        ["LN-2026-999999", "TX-3", "10.00", "2026-11-20", ""], "loan_reference", "No loan has this reference.",
    ),
    "unknown channel": (
        ["{loan}", "TX-3", "10.00", "2026-11-20", "paypal"], "channel",
        "“paypal” is not a channel; use one of bank_transfer, alipay, wechat_pay, card, cash, auto_debit.",
    ),
    "missing reference": (
        ["{loan}", "", "10.00", "2026-11-20", ""], "external_ref", "The external reference is missing.",
    ),
    "conflicting duplicate in the file": (
        ["{loan}", "TX-1", "600.00", "2026-11-20", ""], "external_ref",
        "Reference TX-1 is also in row 2 with other details.",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", BROKEN_ROWS)
def test_a_broken_row_rejects_the_file_with_its_row_column_and_reason(tmp_path, loans, good_rows, kind):
    template, column, reason = BROKEN_ROWS[kind]
    today = business_today()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    bad = [cell.format(loan=loans[0].reference, tomorrow=tomorrow) for cell in template]
    reason = reason.format(tomorrow=tomorrow, today=today.isoformat())
    path = write_csv(tmp_path / "bank.csv", [HEADER, *good_rows, bad])
    before = ledger_snapshot()

    status, out, err = command(path)

    assert status == 1
    assert out == ""
    assert f"row 4, column {column}: {reason}" in err.splitlines()[2]
    assert err.splitlines()[:2] == ["bank.csv: 3 rows read.", "1 row has errors:"]
    assert err.rstrip().endswith("CommandError: The file was rejected; nothing was written.")
    assert ledger_snapshot() == before
    assert import_file(path).row_errors == [RowError(4, column, reason)]
    assert ledger_snapshot() == before


@pytest.mark.parametrize("cell", ["TX\x011", "TX\x00", "\x7f"])
def test_a_control_character_rejects_the_file_naming_its_row_and_column(tmp_path, loans, good_rows, cell):
    path = write_csv(tmp_path / "bank.csv", [HEADER, *good_rows, [loans[0].reference, cell, "10.00", "2026-11-20", ""]])
    before = ledger_snapshot()
    status, _out, err = command(path)
    assert status == 1
    assert "Row 4, column external_ref holds a control character." in err
    assert ledger_snapshot() == before


def test_every_bad_row_and_cell_is_reported_not_just_the_first(tmp_path, loans, good_rows):
    reference = loans[0].reference
    path = write_csv(
        tmp_path / "bank.csv",
        [
            HEADER,
            [reference, "TX-1", "abc", "yesterday", "bank_transfer"],
            *good_rows[1:],
            ["LN-2026-424242", "TX-7", "5", "2026-11-01", ""],
            [reference, "TX-8", "-1", "2026-11-01", "cheque"],
        ],
    )
    before = ledger_snapshot()
    report = import_file(path)
    not_an_amount = "“abc” is not an amount: write digits with a decimal point, without separators or currency."
    not_a_channel = "“cheque” is not a channel; use one of bank_transfer, alipay, wechat_pay, card, cash, auto_debit."
    assert report.errors_by_row == [
        RowError(2, "amount", not_an_amount),
        RowError(2, "received_on", "“yesterday” is not a date in the form YYYY-MM-DD."),
        RowError(4, "loan_reference", "No loan has this reference."),
        RowError(5, "amount", "The amount is negative; only money received can be imported."),
        RowError(5, "channel", not_a_channel),
    ]
    assert (report.rows_with_errors, report.created) == (3, 0)
    assert ledger_snapshot() == before


def test_a_gbk_file_is_rejected_with_the_encoding_named(tmp_path, loans):
    path = write_csv(
        tmp_path / "bank.csv", [HEADER, [loans[0].reference, "转账-1", "10.00", "2026-11-20", ""]], encoding="gbk"
    )
    before = ledger_snapshot()
    status, _out, err = command(path)
    assert status == 1
    assert err.splitlines()[:2] == [
        "bank.csv: 0 rows read.",
        "The file is not UTF-8 (it looks like GBK/GB18030); save it as UTF-8 and load it again.",
    ]
    assert ledger_snapshot() == before


def test_a_file_missing_a_column_is_rejected_naming_it(tmp_path, loans):
    path = write_csv(tmp_path / "bank.csv", [HEADER[:2] + HEADER[3:], [loans[0].reference, "TX-1", "2026-11-20", ""]])
    before = ledger_snapshot()
    status, _out, err = command(path)
    assert status == 1
    assert "Missing columns: amount." in err.splitlines()
    assert ledger_snapshot() == before


def test_a_reference_already_posted_with_other_details_rejects_the_file(tmp_path, loans, good_rows):
    existing, _ = payment_post(
        loan=loans[1], source="bank_file", external_ref="TX-2", amount=D("99.00"),
        received_on=datetime.date(2026, 11, 21), channel="alipay",
    )  # fmt: skip
    path = write_csv(tmp_path / "bank.csv", [HEADER, *good_rows])
    before = ledger_snapshot()
    report = import_file(path)
    message = f"Reference TX-2 was already posted (payment {existing.pk}) with other details."
    assert report.row_errors == [RowError(3, "external_ref", message)]
    assert ledger_snapshot() == before


def test_a_missing_file_is_a_command_error_not_a_traceback(tmp_path):
    status, _out, err = command(tmp_path / "nowhere.csv")
    assert status == 1
    assert "No such file or directory" in err


def test_the_command_exits_with_status_1_and_a_report_on_stderr(tmp_path):
    """The real process, as cron runs it (the file is refused before any database work)."""
    path = write_csv(tmp_path / "bank.csv", [["loan_reference", "amount"], ["LN-1", "1"]])
    result = subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, str(ROOT / "manage.py"), "import_payments", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
             "LANGUAGE_CODE": "en"},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Missing columns: external_ref, received_on." in result.stderr
    assert "CommandError: The file was rejected; nothing was written." in result.stderr
    assert "Traceback" not in result.stderr


# -- duplicates and dry runs -------------------------------------------------------------------------


def test_posting_the_same_file_twice_posts_nothing_the_second_time(tmp_path, good_rows):
    path = write_csv(tmp_path / "bank.csv", [HEADER, *good_rows])
    assert command(path)[0] == 0
    first_ids = dict(Payment.objects.values_list("external_ref", "pk"))
    before = ledger_snapshot()

    status, out, _err = command(path)

    assert status == 0
    assert out.splitlines() == [
        "bank.csv: 2 rows read.",
        "2 duplicates skipped:",
        f"  row 2: TX-1 is already posted (payment {first_ids['TX-1']})",
        f"  row 3: TX-2 is already posted (payment {first_ids['TX-2']})",
        "0 payments posted.",
    ]
    after = ledger_snapshot()
    assert after["audit_events"] == before["audit_events"] + 1  # the file's own payments.imported event
    assert {**after, "audit_events": 0} == {**before, "audit_events": 0}


def test_a_row_repeated_in_the_file_is_posted_once(tmp_path, good_rows):
    path = write_csv(tmp_path / "bank.csv", [HEADER, *good_rows, good_rows[0]])
    report = import_file(path)
    assert (report.ok, report.created) == (True, 2)
    assert report.duplicates == [Duplicate(4, "TX-1", first_row=2)]
    assert Payment.objects.filter(external_ref="TX-1").count() == 1


def test_the_same_reference_from_another_source_is_another_payment(tmp_path, good_rows):
    path = write_csv(tmp_path / "bank.csv", [HEADER, *good_rows])
    import_file(path, source="bank_a")
    report = import_file(path, source="bank_b")
    assert (report.created, report.duplicates) == (2, [])
    assert Payment.objects.count() == 4


def test_a_dry_run_reports_what_it_would_post_and_posts_nothing(tmp_path, good_rows):
    path = write_csv(tmp_path / "bank.csv", [HEADER, *good_rows])
    before = ledger_snapshot()
    status, out, _err = command(path, "--dry-run")
    assert status == 0
    assert out.splitlines() == [
        "bank.csv: 2 rows read.",
        "Dry run: 2 payments would be posted; nothing was written.",
    ]
    assert ledger_snapshot() == before


def test_a_dry_run_of_a_broken_file_reports_it_the_same_way(tmp_path, loans):
    path = write_csv(tmp_path / "bank.csv", [HEADER, [loans[0].reference, "TX-1", "-5", "2026-11-20", ""]])
    status, _out, err = command(path, "--dry-run")
    assert status == 1
    assert "  row 2, column amount: The amount is negative; only money received can be imported." in err.splitlines()


# -- the case timeline -------------------------------------------------------------------------------


def test_imported_payments_on_loans_in_collection_go_on_their_case_timelines(tmp_path, make_loan):
    in_collection = [make_loan(), make_loan()]
    dunning_run(as_of=datetime.date(2026, 2, 25))  # both ten days late: one open case each
    current = make_loan(disbursed_on=datetime.date(2026, 11, 1))
    cases = [CollectionCase.objects.get(loan=loan, is_open=True) for loan in in_collection]
    path = write_csv(
        tmp_path / "bank.csv",
        [
            HEADER,
            [in_collection[0].reference, "TX-1", "100.00", "2026-11-21", ""],
            [in_collection[1].reference, "TX-2", "200.00", "2026-11-20", ""],
            [current.reference, "TX-3", "300.00", "2026-11-20", ""],
            [in_collection[0].reference, "TX-4", "50.00", "2026-11-20", ""],
        ],
    )
    before = CaseEvent.objects.count()

    assert import_file(path).created == 4

    payments = dict(Payment.objects.values_list("external_ref", "pk"))
    events = CaseEvent.objects.filter(kind=CaseEvent.Kind.PAYMENT).order_by("pk")
    assert CaseEvent.objects.count() == before + 3
    # In posting order: by date, then by row.
    assert [(event.case_id, event.detail, event.actor) for event in events] == [
        (cases[1].pk, timeline_detail(payments["TX-2"], "200.00", "2026-11-20"), None),
        (cases[0].pk, timeline_detail(payments["TX-4"], "50.00", "2026-11-20"), None),
        (cases[0].pk, timeline_detail(payments["TX-1"], "100.00", "2026-11-21"), None),
    ]
    # Dated when the money arrived, not when the file was posted.
    assert [event.as_of.isoformat() for event in events] == ["2026-11-20", "2026-11-20", "2026-11-21"]


def timeline_detail(payment_id, amount, received_on):
    """What dunning.receivers.payment_on_timeline records for a payment posted by hand."""
    return {"payment": payment_id, "amount": amount, "received_on": received_on, "reversed": False}
