"""Time admin pages on a big book, as a logged-in administrator, through Django's test client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/admin_pages.py

Each page is requested --repeat times after one warm-up; the median is reported, with the ratio to the
median of /healthz (a one-query request) timed in the same run, so figures from noisy machines compare.
Each page is then timed again with the admin's count estimates switched off (plain COUNT(*), Django's
default), and the ratio of the two medians shows what the estimates save.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditops.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

import creditops.core.admin as core_admin  # noqa: E402
from accounts.models import User  # noqa: E402
from lending.models import Borrower, Loan  # noqa: E402


def pages():
    loan = Loan.objects.order_by("-id").first()
    borrower = Borrower.objects.get(pk=loan.borrower_id)
    return [
        ("loan list, unfiltered", "/admin/lending/loan/"),
        ("loan list, page 1000", "/admin/lending/loan/?p=1000"),
        ("loan list, status=active", "/admin/lending/loan/?status__exact=active"),
        ("loan list, bucket 180+", "/admin/lending/loan/?aging_bucket__exact=180%2B"),
        ("loan list, search reference", f"/admin/lending/loan/?q={loan.reference}"),
        ("loan list, search phone", f"/admin/lending/loan/?q={borrower.phone.replace('+86', '')}"),
        ("loan list, search ID number", f"/admin/lending/loan/?q={borrower.id_number}"),
        ("loan list, search name prefix", f"/admin/lending/loan/?q={borrower.name[:2]}"),
        ("loan detail with installments", f"/admin/lending/loan/{loan.pk}/change/"),
        ("borrower list", "/admin/lending/borrower/"),
        ("installment list", "/admin/lending/installment/"),
        ("payment list", "/admin/lending/payment/"),
        ("payment list, channel=alipay", "/admin/lending/payment/?channel__exact=alipay"),
        ("allocation list", "/admin/lending/paymentallocation/"),
    ]


def timed(client, url, repeat):
    client.get(url)  # warm-up: caches, connection, template loading
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    setup_test_environment()
    client = Client()
    client.force_login(User.objects.filter(is_superuser=True).first())
    print(f"database: {connection.vendor}; loans: ~{Loan.objects.order_by().count():,}")
    baseline = timed(client, "/healthz", args.repeat)
    print(f"{'page':<34}{'median ms':>10}{'× healthz':>11}{'queries':>9}{'COUNT(*) ms':>13}{'speed-up':>10}")
    print(f"{'/healthz (baseline)':<34}{baseline * 1000:>10.1f}{1:>11.1f}{1:>9}")
    for label, url in pages():
        median = timed(client, url, args.repeat)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        query_count = len(queries)  # read now: the next request's request_started resets the query log
        exact = timed_with_exact_counts(client, url, args.repeat)
        print(
            f"{label:<34}{median * 1000:>10.1f}{median / baseline:>11.1f}{query_count:>9}"
            f"{exact * 1000:>13.1f}{exact / median:>9.1f}×"
        )


def timed_with_exact_counts(client, url, repeat):
    saved = core_admin.EXACT_COUNT_THRESHOLD, core_admin.FILTERED_COUNT_CAP
    core_admin.EXACT_COUNT_THRESHOLD = core_admin.FILTERED_COUNT_CAP = 10**15
    try:
        return timed(client, url, repeat)
    finally:
        core_admin.EXACT_COUNT_THRESHOLD, core_admin.FILTERED_COUNT_CAP = saved


if __name__ == "__main__":
    main()
