"""Time the audit screens and the worklist's callbacks on a big trail: the book's own trail is a nightly
run's few thousand events, so this script adds months of staff activity for the run and rolls it back.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/audit_trail.py

Inside one transaction (PostgreSQL only), it inserts --events (5,000,000) audit events spread over the 180
days before today — mostly `payment.posted` by the administrator (a bank file a day) and `case.*` work by
the collectors, with the rare kinds the audit screens are filtered to at their real rarity: one event in
500 a personal-data reveal, one in 20,000 an export — and --attempts (1,000,000) contact attempts on the
open cases, 3 % refused by a guardrail, one in 1,000 a visit. It ANALYZEs both tables (statistics are
transactional too), then times, as the administrator through Django's test client: the trail whole, each
category (reveals, exports, approvals, blocked), a staff user with no events (the quietest filter),
a record id, a date range, the second page, and the blocked contacts whole, by a rare channel, by a
rule and by a case. One attempt in ten of the calls on the busiest collector's team becomes a pending
callback (due within a day either side of now), and the worklists of that collector and of the busiest
collector of another team (as many cases, no callback: the callbacks list's worst case) are timed too,
and the first again with the page's clock at 10:00 Beijing time (the borrowers' working hours, when the
guardrail counts every callback's calls; in their night the contact-hours rule answers first). Each page:
one warm-up, then --repeat requests; medians. Then everything is rolled back: the book is
left as it was (the id sequences advance).
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditops.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from timing import timed  # noqa: E402
from workspace import summary  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.roles import COLLECTOR, SUPERVISOR  # noqa: E402
from dunning.models import CollectionCase, ContactAttempt  # noqa: E402
from dunning.selectors.worklist import callbacks_due  # noqa: E402
from dunning.services.guardrails import calls_decide, contact_decide  # noqa: E402

EVENTS_SQL = """
INSERT INTO accounts_auditevent (actor_id, event, subject_type, subject_id, detail, created_at)
SELECT CASE WHEN n %% 3 = 0 THEN %(poster)s ELSE (%(collectors)s::bigint[])[1 + n %% %(collector_count)s] END,
       CASE WHEN n %% 20000 = 7 THEN 'admin.exported'
            WHEN n %% 500 = 3 THEN 'personal_data.revealed'
            WHEN n %% 250 = 1 THEN 'approval.requested'
            WHEN n %% 3 = 0 THEN 'payment.posted'
            ELSE 'case.note_added' END,
       CASE WHEN n %% 3 = 0 THEN 'lending.payment' ELSE 'dunning.collectioncase' END,
       (1000000 + n)::text, '{}'::jsonb,
       now() - interval '180 days' + (n::float8 / %(events)s) * interval '180 days'
FROM generate_series(1, %(events)s) AS n
"""

ATTEMPTS_SQL = """
INSERT INTO dunning_contactattempt (case_id, borrower_id, loan_id, channel, phone_number, outcome, decision, rule,
                                    profile, note, is_automatic, actor_id, attempted_at)
SELECT c.id, c.borrower_id, c.loan_id,
       CASE WHEN n %% 1000 = 5 THEN 'visit' WHEN n %% 2 = 0 THEN 'call' ELSE 'sms' END, '',
       CASE WHEN n %% 33 = 0 THEN '' ELSE 'no_answer' END,
       CASE WHEN n %% 33 = 0 THEN 'blocked' ELSE 'allowed' END,
       CASE WHEN n %% 33 = 0 THEN (ARRAY['contact.quiet_hours', 'contact.daily_cap', 'contact.weekly_cap'])[1 + n %% 3]
            ELSE '' END,
       'cn', '', n %% 2 = 1, c.assigned_to_id,
       now() - interval '180 days' + (n::float8 / %(attempts)s) * interval '180 days'
FROM generate_series(1, %(attempts)s) AS n
JOIN (SELECT id, borrower_id, loan_id, assigned_to_id, row_number() OVER (ORDER BY id) - 1 AS k
      FROM dunning_collectioncase WHERE is_open) AS c ON c.k = (n::bigint * 7919) %% %(open_cases)s
"""


CALLBACKS_SQL = """
INSERT INTO dunning_callback (due_at, status, asked_in_id, case_id, created_by_id)
SELECT now() + ((a.id %% 48) - 12) * interval '1 hour', 'pending', a.id, a.case_id, a.actor_id
FROM dunning_contactattempt a JOIN dunning_collectioncase c ON c.id = a.case_id
WHERE a.id > %(after)s AND a.decision = 'allowed' AND a.channel = 'call' AND c.team_id = %(team)s
  AND a.id %% %(every)s = 0
"""


class UndoError(Exception):
    """Raised to roll the synthetic trail back."""


def seed(events: int, attempts: int, callback_team: int) -> dict:
    admin = User.objects.get(username="admin")
    collectors = list(User.objects.filter(groups__name=COLLECTOR).order_by("pk").values_list("pk", flat=True))
    open_cases = CollectionCase.objects.filter(is_open=True).count()
    first_attempt = ContactAttempt.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    figures = {}
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(EVENTS_SQL, {
            "poster": admin.pk, "collectors": collectors, "collector_count": len(collectors), "events": events,
        })  # fmt: skip
        figures["events"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute(ATTEMPTS_SQL, {"attempts": attempts, "open_cases": open_cases})
        figures["attempts"] = time.perf_counter() - started
        # Callbacks asked for on one team's cases only: the other team's collectors have none of them.
        cursor.execute(CALLBACKS_SQL, {"after": first_attempt, "team": callback_team, "every": 10})
        figures["callbacks"] = cursor.rowcount
        for table in ("accounts_auditevent", "dunning_contactattempt", "dunning_callback"):
            cursor.execute(f"ANALYZE {table}")
    return figures


def busiest_collectors() -> tuple[User, User]:
    """The collectors with the most open cases in the two biggest teams: the first gets callbacks on their
    team's cases, the second (as many cases, in the other team) none: the callbacks list's worst case."""
    per_team = {}
    busiest = (
        CollectionCase.objects.filter(is_open=True, assigned_to__groups__name=COLLECTOR)
        .values("team_id", "assigned_to")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    for row in busiest:
        per_team.setdefault(row["team_id"], row["assigned_to"])
    first, second = list(per_team.values())[:2]
    return User.objects.get(pk=first), User.objects.get(pk=second)


def borrowers_morning() -> datetime.datetime:
    """10:00 Beijing time today: inside the contact hours, so the guardrail counts every call it checks."""
    return datetime.datetime.combine(timezone.localdate(), datetime.time(10), tzinfo=ZoneInfo("Asia/Shanghai"))


def time_worklist(user, repeat, label_suffix=""):
    client = Client()
    client.force_login(user)
    samples, queries = timed(client, "/cases/", repeat)
    row = summary(samples)
    shown = len(client.get("/cases/").context["callbacks"])
    label = f"worklist of {user.username} ({shown} callbacks shown){label_suffix}"
    print(f"{label:<48}{row['median_ms']:>10.1f}{'':>18}{len(queries):>9}{row['cpu_ms']:>15.1f}")


def time_guardrail_by_day(collector, repeat):
    """The worklist's guardrail read in the borrowers' working hours (the run may fall in their night, when
    the contact-hours rule answers before any call is counted): the 20 callbacks' cases at 10:00 Beijing
    time, decided together (calls_decide) and one by one (contact_decide), medians of `repeat`."""
    cases = [callback.case for callback in callbacks_due(collector, now=timezone.now() + datetime.timedelta(days=1))]
    morning = borrowers_morning()
    for label, decide in [
        ("together (calls_decide)", lambda: calls_decide(cases, at=morning)),
        ("one by one (contact_decide)", lambda: [contact_decide(case=c, channel="call", at=morning) for c in cases]),
    ]:
        walls = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                decisions = decide()
                walls.append(time.perf_counter() - started)
        allowed = sum(decision.allowed for decision in decisions)
        median_ms = statistics.median(walls) * 1000
        print(f"guardrail for {len(cases)} callbacks at 10:00 Beijing, {label}: {median_ms:.1f} ms, "
              f"{len(captured.captured_queries)} queries, {allowed} allowed")  # fmt: skip


def pages() -> list[tuple[str, str]]:
    """The screens, whole and narrowed: a category each, a staff user with no event (a supervisor: the
    synthetic trail's actors are the administrator and the collectors), one record, one day, page 2."""
    quiet = User.objects.filter(groups__name=SUPERVISOR).order_by("username").first()
    blocked_case = ContactAttempt.objects.filter(decision="blocked").values_list("case_id", flat=True).first()
    audit, blocked = "/accounts/audit/", "/accounts/audit/blocked-contacts/"
    return [
        ("audit trail", audit),
        ("audit ?category=reveals", f"{audit}?category=reveals"),
        ("audit ?category=exports", f"{audit}?category=exports"),
        ("audit ?category=approvals", f"{audit}?category=approvals"),
        ("audit ?category=blocked", f"{audit}?category=blocked"),
        (f"audit ?actor={quiet.username} (quiet)", f"{audit}?actor={quiet.username}"),
        ("audit ?subject_id=1000003", f"{audit}?subject_id=1000003"),
        ("audit ?date_from=…&date_to=… (one day)", f"{audit}?date_from=2026-09-01&date_to=2026-09-01"),
        ("audit, page 2 (?before=)", f"{audit}?before={{before}}"),
        ("blocked contacts", blocked),
        ("blocked contacts ?channel=visit", f"{blocked}?channel=visit"),
        ("blocked contacts ?rule=contact.daily_cap", f"{blocked}?rule=contact.daily_cap"),
        (f"blocked contacts ?case={blocked_case}", f"{blocked}?case={blocked_case}"),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    setup_test_environment()
    try:
        with transaction.atomic():
            with_callbacks, without = busiest_collectors()
            figures = seed(args.events, args.attempts, CollectionCase.objects.filter(assigned_to=with_callbacks)
                           .values_list("team_id", flat=True).first())  # fmt: skip
            print(f"seeded {args.events:,} audit events in {figures['events']:.1f} s, {args.attempts:,} contact "
                  f"attempts in {figures['attempts']:.1f} s and {figures['callbacks']:,} pending callbacks on "
                  f"{with_callbacks.username}'s team (rolled back at the end)")  # fmt: skip
            client = Client()
            client.force_login(User.objects.get(username="admin"))
            first = client.get("/accounts/audit/").context["next_before"]
            print(f"{'page':<48}{'median ms':>10}{'min–max ms':>18}{'queries':>9}{'Python CPU ms':>15}")
            for label, url in pages():
                samples, queries = timed(client, url.replace("{before}", str(first)), args.repeat)
                row = summary(samples)
                spread = f"{row['min_ms']:.1f}–{row['max_ms']:.1f}"
                print(f"{label:<48}{row['median_ms']:>10.1f}{spread:>18}{len(queries):>9}{row['cpu_ms']:>15.1f}")
            for user in (with_callbacks, without):
                time_worklist(user, args.repeat)
            # The same page in the borrowers' working hours, when the guardrail counts each callback's calls
            # (in their night the contact-hours rule answers first): the page's clock set to 10:00 Beijing.
            with mock.patch("django.utils.timezone.now", return_value=borrowers_morning()):
                time_worklist(with_callbacks, args.repeat, ", 10:00 Beijing")
            time_guardrail_by_day(with_callbacks, args.repeat)
            raise UndoError
    except UndoError:
        pass
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
