"""Time the bank-file import (`manage.py import_payments`) on a big book, leaving the book as it was.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/import_payments.py
    DATABASE_URL=… .venv/bin/python bench/import_payments.py --repeat 1 --write-with orm --baseline 2000

Generates a CSV of --payments (100,000) payments on active loans drawn at random (with replacement, so some
loans get two payments in the file), seeded: about half pay the oldest open installment exactly, a third
part of it, the rest one and a half to three times it (overpayments that run into later installments or
credit). Received in the five days before today. Then, --repeat (3) times in this process:

- **read**: `read_rows` on the file (decoding, CSV parsing, header checks);
- **validate**: `payments_import(dry_run=True)` — cells, loan references, earlier postings; writes nothing;
- **import**: `payments_import(dry_run=False)` — validates again, locks the loans, allocates and writes
  payments, allocations, installments, loans, audit events, timeline entries — inside a transaction that
  is rolled back afterwards, so the book is unchanged. `SET CONSTRAINTS ALL IMMEDIATE` first, so the
  foreign-key checks that PostgreSQL would otherwise defer to COMMIT happen (and are timed) inside.

Queries are counted by Django's execute wrapper (the COPYs, which go through psycopg directly, are not
among them). "post" is import − validate; "cpu" is this process's CPU time during the import (Python's
share; the database's is not in it). Each import is checked before its rollback: every row posted,
allocations plus credit equal to the amounts, the paid amounts of the touched installments grown by
exactly the allocations. At the end the tables written are VACUUM ANALYZEd (autovacuum is off on the
benchmark machine; the rolled-back rows are dead tuples). The temporary CSV is removed unless
--keep-file; a kept file is used again by the next run with the same --keep-file (the peak RSS then
leaves out generating it).

--write-with orm swaps the PostgreSQL writes (COPY, `UPDATE … FROM unnest()`) for Django's bulk_create
and bulk_update (batches of 5,000 and 500), the portable path the import takes on SQLite, to compare
them. --baseline N also times payment_post, one call per payment, for the first N payments of the file
(rolled back too). Peak RSS is this process's (getrusage).
"""

import argparse
import csv
import datetime
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditops.settings.dev")  # manage.py's default
os.environ.setdefault("DEBUG", "false")  # no per-query log in the measured process

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Sum  # noqa: E402

import dunning.import_receivers  # noqa: E402, F401 - the timeline receiver, as dunning/apps.py connects it
from creditops.core.dates import business_today  # noqa: E402
from lending.imports import bulk  # noqa: E402
from lending.imports import payments as payments_module  # noqa: E402
from lending.imports.files import read_rows  # noqa: E402
from lending.imports.payments import COLUMNS, payments_import  # noqa: E402
from lending.models import Installment, Loan, Payment, PaymentAllocation  # noqa: E402
from lending.services import payment_post  # noqa: E402

SOURCE = "bench_file"
WRITTEN_TABLES = [
    "lending_payment", "lending_paymentallocation", "lending_installment", "lending_loan", "accounts_auditevent",
    "dunning_caseevent",
]  # fmt: skip
PAID_FIELDS = ["penalty_paid_amount", "fee_paid_amount", "interest_paid_amount", "principal_paid_amount"]


def write_file(path: Path, count: int, seed: int) -> None:
    """The bank file: `count` payments on active loans drawn at random, amounts from each loan's oldest
    open installment."""
    rng = random.Random(seed)
    active = list(Loan.objects.filter(status=Loan.Status.ACTIVE).order_by("pk").values_list("pk", "reference"))
    drawn = [rng.choice(active) for _ in range(count)]
    next_due = _oldest_open_amounts({pk for pk, _reference in drawn})
    today = business_today()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["loan_reference", "external_ref", "amount", "received_on", "channel"])
        for number, (pk, reference) in enumerate(drawn):
            due = next_due.get(pk, Decimal("500.00"))
            received_on = today - datetime.timedelta(days=rng.randint(0, 4))
            channel = rng.choice(["", "bank_transfer", "alipay", "wechat_pay", "auto_debit"])
            writer.writerow([reference, f"BENCH-{seed}-{number:07d}", _amount(rng, due), received_on, channel])


def _oldest_open_amounts(loan_ids) -> dict[int, Decimal]:
    amounts = {}
    for chunk in bulk.chunked(sorted(loan_ids)):
        unpaid = Installment.objects.filter(loan_id__in=chunk, is_open=True).order_by("loan_id", "due_date", "sequence")
        for loan_id, outstanding in unpaid.values_list("loan_id", "outstanding_amount"):
            amounts.setdefault(loan_id, outstanding)
    return amounts


def _amount(rng: random.Random, due: Decimal) -> Decimal:
    draw = rng.random()
    if draw < 0.5:
        factor = Decimal(1)  # the installment exactly
    elif draw < 0.85:
        factor = Decimal(rng.randint(10, 90)) / 100  # part of it
    else:
        factor = Decimal(rng.randint(150, 300)) / 100  # more: later installments, or credit
    return max((due * factor).quantize(Decimal("0.01")), Decimal("0.01"))


def timed_import(rows, name: str, *, dry_run: bool):
    """(seconds, CPU seconds of this process, report, queries); a real import is checked, then rolled
    back."""
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    loan_ids = set(Loan.objects.filter(reference__in={row.cells["loan_reference"] for row in rows}).values_list("pk"))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        paid_before = None if dry_run else paid_total(loan_ids)
        with connection.execute_wrapper(count):
            started, cpu = time.perf_counter(), time.process_time()
            report = payments_import(rows=rows, source=SOURCE, actor=None, dry_run=dry_run, file_name=name)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        if not dry_run:
            check(report, len(rows), paid_before, paid_total(loan_ids))
        transaction.set_rollback(True)
    return elapsed, cpu, report, len(queries)


def paid_total(loan_ids) -> Decimal:
    total = Decimal(0)
    for chunk in bulk.chunked(sorted(loan_ids)):
        sums = Installment.objects.filter(loan_id__in=chunk).aggregate(*(Sum(field) for field in PAID_FIELDS))
        total += sum(value or 0 for value in sums.values())
    return total


def check(report, rows: int, paid_before: Decimal, paid_after: Decimal) -> None:
    assert report.applied and report.created == rows, report.as_text()[:2000]
    posted = Payment.objects.filter(source=SOURCE)
    totals = posted.aggregate(amount=Sum("amount"), credit=Sum("unallocated_amount"))
    allocated = PaymentAllocation.objects.filter(payment__source=SOURCE).aggregate(
        *(Sum(field.replace("_paid", "")) for field in PAID_FIELDS)
    )
    allocated = sum(allocated.values())
    assert posted.count() == rows
    assert totals["amount"] == allocated + totals["credit"], (totals, allocated)
    assert paid_after - paid_before == allocated, (paid_before, paid_after, allocated)


def timed_one_by_one(rows, count: int) -> float:
    """Seconds per payment for payment_post, one call per row (rolled back)."""
    references = dict(Loan.objects.filter(reference__in={row.cells["loan_reference"] for row in rows[:count]})
                      .values_list("reference", "pk"))  # fmt: skip
    with transaction.atomic():
        started = time.perf_counter()
        for row in rows[:count]:
            payment_post(
                loan=Loan(pk=references[row.cells["loan_reference"]]), source=SOURCE,
                external_ref=row.cells["external_ref"], amount=Decimal(row.cells["amount"]),
                received_on=datetime.date.fromisoformat(row.cells["received_on"]),
                channel=row.cells["channel"] or "bank_transfer",
            )  # fmt: skip
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed / count


def use_django_bulk_methods() -> None:
    """For comparison: write with bulk_create and bulk_update, as the import does on SQLite."""

    def objects_insert(model, objects):
        model.objects.bulk_create(objects, batch_size=bulk.CHUNK)

    def rows_insert(model, attnames, rows):
        objects = (model(**dict(zip(attnames, row, strict=True))) for row in rows)
        model.objects.bulk_create(objects, batch_size=bulk.CHUNK)

    payments_module.objects_insert, payments_module.rows_insert = objects_insert, rows_insert
    payments_module.rows_update = bulk._bulk_update


def vacuum() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in WRITTEN_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--write-with", choices=["copy", "orm"], default="copy")
    parser.add_argument("--baseline", type=int, default=0, help="also time payment_post for this many rows")
    parser.add_argument("--keep-file", help="write the CSV here and keep it; if it exists, use it as it is")
    parser.add_argument("--no-vacuum", action="store_true")
    args = parser.parse_args()

    if args.write_with == "orm":
        use_django_bulk_methods()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}, {Loan.objects.count():,} loans")
    path = Path(args.keep_file) if args.keep_file else Path(tempfile.mkstemp(suffix=".csv")[1])
    try:
        started = time.perf_counter()
        if not (args.keep_file and path.exists()):
            write_file(path, args.payments, args.seed)
        print(f"file: {path}, {path.stat().st_size / 1e6:.1f} MB, ready in "
              f"{time.perf_counter() - started:.1f} s (not timed)")  # fmt: skip
        runs = []
        for repeat in range(1, args.repeat + 1):
            started = time.perf_counter()
            with path.open("rb") as handle:
                rows = read_rows(handle, name=path.name, columns=COLUMNS)
            read = time.perf_counter() - started
            validate, _cpu, dry_report, dry_queries = timed_import(rows, path.name, dry_run=True)
            assert dry_report.ok, dry_report.as_text()[:2000]
            full, cpu, report, queries = timed_import(rows, path.name, dry_run=False)
            runs.append({"read": read, "validate": validate, "import": full, "post": full - validate, "cpu": cpu})
            print(f"run {repeat}: read {read:.2f} s, validate {validate:.2f} s ({dry_queries} queries), "
                  f"import {full:.2f} s ({queries} queries; Python CPU {cpu:.2f} s), post {full - validate:.2f} s; "
                  f"{report.created:,} posted")  # fmt: skip
        medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        total = medians["read"] + medians["import"]
        print("median: " + ", ".join(f"{key} {value:.2f} s" for key, value in medians.items()))
        print(f"file to posted (read + import): {total:.2f} s — target ≤ 30 s: {'met' if total <= 30 else 'MISSED'}")
        if args.baseline:
            per_payment = timed_one_by_one(rows, args.baseline)
            print(f"payment_post one by one: {per_payment * 1000:.2f} ms a payment "
                  f"(~{per_payment * len(rows):.0f} s for {len(rows):,})")  # fmt: skip
        print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    finally:
        if not args.keep_file:
            path.unlink(missing_ok=True)
        if not args.no_vacuum:
            vacuum()


if __name__ == "__main__":
    main()
