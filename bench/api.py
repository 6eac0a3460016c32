"""Time the REST API on a big book — first pages, filtered pages, a page deep in the list, details — as a
collector, a supervisor and a user who sees everything, each calling with an API key of their own.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/api.py --repeat 15

Users are chosen as in workspace.py. The keys are issued inside a transaction that is rolled back at the
end, so the book is left as it was. "deep page" is the page whose cursor points at the middle id of the
list (what a client walking a million rows reaches after 10,000 pages): cursor pages read an index range
from there, so it should cost what page 1 costs. Each URL is requested once as a warm-up, then --repeat
times; figures are in-process server time (no network, no WSGI server), medians.
"""

import argparse
import base64
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditops.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django

django.setup()

from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from timing import timed  # noqa: E402
from workspace import chosen_users, summary  # noqa: E402

from creditops.api.services import api_key_issue  # noqa: E402
from dunning import selectors  # noqa: E402


class UndoKeysError(Exception):
    """Raised to undo the keys the benchmark issued."""


def deep_cursor(queryset) -> str:
    """The API's cursor (creditops/api/pagination.py) for the page after the middle id of `queryset`."""
    ids = queryset.order_by("-id").values_list("id", flat=True)
    count = queryset.count()
    middle = ids[count // 2] if count else 0
    return base64.urlsafe_b64encode(json.dumps([middle]).encode()).decode()


def next_page(user, url) -> str | None:
    """The `next` link of `url`'s first page, as the user's client would follow it (None on a last page)."""
    _api_key, key = api_key_issue(name="bench-next", user=user, scope="read", actor=None)
    following = Client(HTTP_AUTHORIZATION=f"Api-Key {key}").get(url).json()["next"]
    return following.removeprefix("http://testserver") if following else None


def urls_for(user) -> list[tuple[str, str]]:
    cases = selectors.cases_visible_to(user)
    loans = selectors.loans_visible_to(user)
    top_case = cases.filter(is_open=True).order_by("-priority_score").values_list("pk", flat=True).first()
    urls = [
        ("cases, first page", "/api/v1/cases/"),
        ("cases ?is_open=true&bucket=91-180", "/api/v1/cases/?is_open=true&bucket=91-180"),
        ("cases ?dpd_min=60&dpd_max=90", "/api/v1/cases/?dpd_min=60&dpd_max=90"),
        ("cases, deep page", f"/api/v1/cases/?cursor={deep_cursor(cases)}"),
        ("loans, first page", "/api/v1/loans/"),
        ("loans ?bucket=31-60", "/api/v1/loans/?bucket=31-60"),
        ("loans, deep page", f"/api/v1/loans/?cursor={deep_cursor(loans)}"),
        ("loans ?ordering=-days_past_due", "/api/v1/loans/?ordering=-days_past_due"),
        ("payments ?ordering=-received_on", "/api/v1/payments/?ordering=-received_on"),
        ("cases ?ordering=-days_past_due", "/api/v1/cases/?ordering=-days_past_due"),
        ("payments ?received_from=…", "/api/v1/payments/?received_from=2026-01-01"),
        ("contact attempts, first page", "/api/v1/contact-attempts/"),
        ("notices, first page", "/api/v1/notices/"),
    ]
    page_2 = next_page(user, "/api/v1/loans/?ordering=-days_past_due")
    if page_2:
        urls.insert(8, ("loans ?ordering=-days_past_due, page 2", page_2))
    if top_case:
        loan_id = cases.get(pk=top_case).loan_id
        urls += [
            ("case detail (top case)", f"/api/v1/cases/{top_case}/"),
            ("case timeline (top case)", f"/api/v1/cases/{top_case}/timeline/"),
            ("loan detail with schedule", f"/api/v1/loans/{loan_id}/"),
        ]
    return urls


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--all-user", default="admin", help="username of the user who sees every case")
    args = parser.parse_args()
    setup_test_environment()
    try:
        with transaction.atomic():
            for kind, user in chosen_users(args.all_user):
                run_user(kind, user, args.repeat)
            raise UndoKeysError
    except UndoKeysError:
        pass


def run_user(kind, user, repeat):
    _api_key, key = api_key_issue(name=f"bench-{user.username}", user=user, scope="read", actor=None)
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    print(f"\n{kind}: {user.username}")
    print(f"{'endpoint':<40}{'median ms':>10}{'min–max ms':>18}{'queries':>9}{'Python CPU ms':>15}")
    for label, url in urls_for(user):
        samples, queries = timed(client, url, repeat)
        row = summary(samples)
        spread = f"{row['min_ms']:.1f}–{row['max_ms']:.1f}"
        print(f"{label:<40}{row['median_ms']:>10.1f}{spread:>18}{len(queries):>9}{row['cpu_ms']:>15.1f}")


if __name__ == "__main__":
    main()
