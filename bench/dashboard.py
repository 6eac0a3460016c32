"""Time the managers' dashboard and the monthly PDF report on a big book with 180 days of history, through
Django's test client, as the manager and as the administrator.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/dashboard.py --repeat 7

The book is section 1's (1,000,000 loans) after one nightly run (as of 2026-11-28, section 5): it has one
day of portfolio snapshot and no history. The script first PREPARES 180 days of history — automatically
when it is missing, again (replacing what it wrote before) with --prepare, never with --no-prepare — as the
nightly run would have written it, without running 180 nightly runs:

1. Snapshots and run records. The 2026-11-28 snapshot rows are copied to each of the 179 days before
   (2026-06-02 … 2026-11-27) in one INSERT … SELECT: loan counts and amounts scaled by a factor per day and
   kind of bucket (current / delinquent) drawn from a seeded generator (a slow trend, a monthly wave and
   noise), so rates and balances move from day to day. Each of those days gets a succeeded DunningRun
   with {"cases_opened": n, "cases_closed": {"cured": m, …}} (its counts carry "synthetic": this script).
2. Month-start history. dunning.services.history.record_month_start(2026-11-01) — the real code, on the
   real book — writes the MonthStart row, every active loan's position (LoanMonthPosition, ~601,000 rows)
   and the vintage points of 2026-11 (positions written by an older version, without a MonthStart row, are
   replaced). Roll-rate cells for 2026-05 … 2026-11 are then derived from those positions: grouped per
   product, team and bucket (what record_month_start of the next month would write if no loan had moved —
   a diagonal matrix, as the book has not aged since), each group spread over the buckets it rolls to
   (cured, stayed, rolled forward, paid off, written off, closed) with seeded shares per month; a target the
   to_bucket column is too short for is written as "closed", with a warning. Vintage points are cloned to
   the six observation months before 2026-11 (the same loans lent, fewer of them 30+ DPD the earlier the
   month, points below 0 months on book dropped), with a MonthStart row for each of those months. The
   2026-11 cells exist so that the 2026-11 report shows a matrix, as it will once the 2026-12-01 run has
   recorded the month start (a real 2026-12-01 run on this book would write them a second time).
3. Collections activity. 2026-06-01 … 2026-11-28 (181 finished days): one DailyActivity row per day,
   product and collector (in the collector's team) with seeded plausible figures (contacts, right-party
   contacts, promises, amounts, notices; fewer on weekends), and an ActivityDay per day, so that nothing
   is recounted on demand. The book itself has no contacts, promises or notices yet.
Then VACUUM ANALYZE of the tables written and read (this benchmark PostgreSQL runs with autovacuum off).

Measured, per user (manager; administrator, a superuser), after one warm-up each, --repeat requests each:
/healthz (the baseline: SELECT 1 plus the signed-in request's session read and save), /dashboard/ (default:
the latest snapshot date, 2026-11-28), ?as_of=2026-11-28&product=<the product with most loans in that
snapshot>, ?team=<the team with most open cases>, and two exports of the aging buckets
(?export=buckets&format=csv / xlsx; each export writes an audit row). Reported: the median, min–max, the
ratio to /healthz timed in the same run, the number of SQL queries and their summed time (one more request
under CaptureQueriesContext), and this process's CPU time per request. The monthly report
/dashboard/report/?month=2026-11 and 2026-10 is requested once (the first of the run) and then
--report-repeat times (default 3): median seconds, PDF size, pages (pypdf).
The manager renders it in Chinese (preferred language zh-hans), the administrator in English.

The whole measurement runs --runs times (default 3) in one process; the summary gives the median of the
run medians and each run's median. Afterwards each dashboard selector is timed directly (--repeat calls,
median), for the whole book and for the product filter, so a slow page shows which selector costs what;
--explain K prints EXPLAIN (ANALYZE, BUFFERS) of the K slowest queries of every dashboard page over --target
(300 ms). Settings as the other scripts: creditops.settings.dev with DEBUG off unless the environment says
otherwise. Figures are server time in-process (middleware, view, SQL, template, PDF), no network.
"""

import argparse
import datetime
import io
import logging
import math
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditops.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django

django.setup()
# WeasyPrint warns about every CSS property it ignores in the report (the SVG charts' fill and stroke rules,
# 26 lines per render): not timed, but it would bury the tables.
logging.getLogger("weasyprint").setLevel(logging.ERROR)

from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from timing import captured_queries, request, timed  # noqa: E402

from accounts.models import Team, User  # noqa: E402
from accounts.roles import COLLECTOR  # noqa: E402
from creditops.core.dates import add_months, business_today  # noqa: E402
from creditops.dashboards import selectors  # noqa: E402
from creditops.dashboards.models import ActivityDay, DailyActivity  # noqa: E402
from dunning.models import (  # noqa: E402
    CollectionCase,
    DunningRun,
    LoanMonthPosition,
    MonthStart,
    PortfolioSnapshot,
    RollRateCell,
    VintagePoint,
)
from dunning.services.history import record_month_start  # noqa: E402
from lending.models import Loan  # noqa: E402

ANCHOR = datetime.date(2026, 11, 28)  # the one real nightly run of the bench book
HISTORY_DAYS = 180
FIRST_DAY = ANCHOR - datetime.timedelta(days=HISTORY_DAYS - 1)  # 2026-06-02
ACTIVITY_START = datetime.date(2026, 6, 1)
MONTH_START = datetime.date(2026, 11, 1)
ROLL_MONTHS = [add_months(MONTH_START, -offset) for offset in range(6, -1, -1)]  # 2026-05 … 2026-11
SYNTHETIC = "bench/dashboard.py"
CURRENT = Loan.Bucket.CURRENT.value
BUCKETS = [bucket.value for bucket in Loan.Bucket]
SETTLED, WRITTEN_OFF, CLOSED = RollRateCell.SETTLED, RollRateCell.WRITTEN_OFF, RollRateCell.CLOSED
# Share of a bucket's balance found in each bucket (or paid off, written off, closed otherwise) at the next
# month start; varied per month.
ROLLS = {
    "current": {"current": 0.955, "1-30": 0.027, SETTLED: 0.016, CLOSED: 0.002},
    "1-30": {"current": 0.45, "1-30": 0.19, "31-60": 0.34, SETTLED: 0.015, CLOSED: 0.005},
    "31-60": {"current": 0.14, "1-30": 0.08, "31-60": 0.16, "61-90": 0.60, SETTLED: 0.015, CLOSED: 0.005},
    "61-90": {"current": 0.05, "1-30": 0.03, "31-60": 0.04, "61-90": 0.10, "91-180": 0.77, SETTLED: 0.008,
              CLOSED: 0.002},
    "91-180": {"current": 0.02, "1-30": 0.01, "91-180": 0.76, "180+": 0.20, SETTLED: 0.005, WRITTEN_OFF: 0.003,
               CLOSED: 0.002},
    "180+": {"current": 0.01, "180+": 0.92, SETTLED: 0.004, WRITTEN_OFF: 0.06, CLOSED: 0.002},
}  # fmt: skip
TABLES_WRITTEN = [
    "dunning_portfoliosnapshot", "dunning_dunningrun", "dunning_monthstart", "dunning_loanmonthposition",
    "dunning_rollratecell",
    "dunning_vintagepoint", "dashboards_dailyactivity", "dashboards_activityday",
]  # fmt: skip
TABLES_READ = [
    "dunning_collectioncase", "dunning_approvalrequest", "dunning_contactattempt", "dunning_dispute",
    "dunning_dunningstage", "dunning_promisetopay", "notices_notice", "lending_payment", "accounts_auditevent",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# Preparing the history


def history_state() -> dict:
    days = set(
        PortfolioSnapshot.objects.filter(as_of__range=(FIRST_DAY, ANCHOR)).values_list("as_of", flat=True).distinct()
    )
    activity_days = set(
        DailyActivity.objects.filter(as_of__range=(ACTIVITY_START, ANCHOR)).values_list("as_of", flat=True).distinct()
    )
    return {
        "snapshot_days": len(days),
        "runs": DunningRun.objects.filter(as_of__range=(FIRST_DAY, ANCHOR), status=DunningRun.Status.SUCCEEDED).count(),
        "month_starts": MonthStart.objects.filter(month__in=ROLL_MONTHS).count(),
        "positions": LoanMonthPosition.objects.filter(month=MONTH_START).exists(),
        "roll_months": RollRateCell.objects.filter(month__in=ROLL_MONTHS).values("month").distinct().count(),
        "vintage_months": VintagePoint.objects.filter(month__lte=MONTH_START).values("month").distinct().count(),
        "activity_days": len(activity_days),
        "counted_days": ActivityDay.objects.filter(as_of__range=(ACTIVITY_START, ANCHOR)).count(),
    }


def history_complete(state: dict) -> bool:
    activity = (ANCHOR - ACTIVITY_START).days + 1
    return (
        state["snapshot_days"] == HISTORY_DAYS
        and state["runs"] == HISTORY_DAYS
        and state["month_starts"] == len(ROLL_MONTHS)
        and state["positions"]
        and state["roll_months"] == len(ROLL_MONTHS)
        and state["vintage_months"] == len(ROLL_MONTHS)
        and state["activity_days"] == activity
        and state["counted_days"] == activity
    )


def prepare(seed: int) -> None:
    if not PortfolioSnapshot.objects.filter(as_of=ANCHOR).exists():
        sys.exit(f"no portfolio snapshot for {ANCHOR}: run `manage.py run_dunning --as-of {ANCHOR}` first")
    rng = random.Random(seed)
    started = time.perf_counter()
    with transaction.atomic():
        print(f"  snapshots and runs: {prepare_snapshots(rng)}", flush=True)
    step = time.perf_counter()
    with transaction.atomic():
        if not MonthStart.objects.filter(month=MONTH_START).exists():
            # Written by an earlier version of the history (before MonthStart): recorded again.
            LoanMonthPosition.objects.filter(month=MONTH_START).delete()
            VintagePoint.objects.filter(month=MONTH_START).delete()
        print(f"  month start {MONTH_START}: {record_month_start(MONTH_START) or 'recorded already'} "
              f"({time.perf_counter() - step:.1f} s)", flush=True)  # fmt: skip
        print(f"  roll rates and vintages: {prepare_roll_rates(rng)}", flush=True)
    with transaction.atomic():
        print(f"  activity: {prepare_activity(rng)}", flush=True)
    step = time.perf_counter()
    with connection.cursor() as cursor:
        for table in TABLES_WRITTEN + TABLES_READ:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
    print(f"  VACUUM ANALYZE {len(TABLES_WRITTEN + TABLES_READ)} tables: {time.perf_counter() - step:.1f} s")
    print(f"  prepared in {time.perf_counter() - started:.1f} s", flush=True)


def prepare_snapshots(rng: random.Random) -> dict:
    """The anchor day's snapshot rows copied to the 179 days before, scaled per day; a run record per day."""
    PortfolioSnapshot.objects.filter(as_of__range=(FIRST_DAY, ANCHOR - datetime.timedelta(days=1))).delete()
    DunningRun.objects.filter(counts__synthetic=SYNTHETIC).delete()
    days, current, delinquent, amounts = [], [], [], []
    for back in range(1, HISTORY_DAYS):
        days.append(ANCHOR - datetime.timedelta(days=back))
        # The book grew (fewer current loans earlier) and aged (fewer delinquent ones earlier), with a wave.
        current.append(Decimal(f"{1 - 0.0005 * back + rng.uniform(-0.002, 0.002):.6f}"))
        wave = 0.04 * math.sin(2 * math.pi * back / 30)
        delinquent.append(Decimal(f"{(1 - 0.0016 * back) * (1 + wave) + rng.uniform(-0.015, 0.015):.6f}"))
        amounts.append(Decimal(f"{1 + rng.uniform(-0.01, 0.01):.6f}"))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO dunning_portfoliosnapshot
                (as_of, product_id, aging_bucket, stage_id, team_id, loan_count, outstanding_amount, overdue_amount)
            SELECT d.day, s.product_id, s.aging_bucket, s.stage_id, s.team_id,
                   GREATEST(1, ROUND(s.loan_count * f.factor))::integer,
                   ROUND(s.outstanding_amount * f.factor * d.amount, 2),
                   ROUND(s.overdue_amount * f.factor * d.amount, 2)
            FROM dunning_portfoliosnapshot s
            CROSS JOIN unnest(%s::date[], %s::numeric[], %s::numeric[], %s::numeric[])
                AS d(day, current_factor, delinquent_factor, amount)
            CROSS JOIN LATERAL (
                SELECT CASE WHEN s.aging_bucket = %s THEN d.current_factor ELSE d.delinquent_factor END AS factor
            ) f
            WHERE s.as_of = %s
            """,
            [days, current, delinquent, amounts, CURRENT, ANCHOR],
        )
        snapshot_rows = cursor.rowcount
    existing = set(DunningRun.objects.filter(as_of__in=days).values_list("as_of", flat=True))
    runs = []
    for day in days:
        if day in existing:
            continue
        started = timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 30)), datetime.UTC)
        duration = rng.randint(33_000, 42_000)
        counts = {
            "cases_opened": rng.randint(900, 1_600),
            "cases_closed": {"cured": rng.randint(700, 1_400), "settled": rng.randint(5, 40), "written_off": 0},
            "synthetic": SYNTHETIC,
        }
        runs.append(DunningRun(as_of=day, status=DunningRun.Status.SUCCEEDED, started_at=started, counts=counts,
                               finished_at=started + datetime.timedelta(milliseconds=duration),
                               duration_ms=duration))  # fmt: skip
    DunningRun.objects.bulk_create(runs)
    return {"snapshot_rows": snapshot_rows, "days": len(days), "runs": len(runs)}


def prepare_roll_rates(rng: random.Random) -> dict:
    RollRateCell.objects.filter(month__in=ROLL_MONTHS).delete()
    VintagePoint.objects.filter(month__in=ROLL_MONTHS[:-1]).delete()
    MonthStart.objects.filter(month__in=ROLL_MONTHS[:-1]).delete()
    MonthStart.objects.bulk_create(MonthStart(month=month, as_of=month) for month in ROLL_MONTHS[:-1])
    groups = list(
        LoanMonthPosition.objects.filter(month=MONTH_START)
        .values("product_id", "team_id", "aging_bucket")
        .annotate(loans=Count("pk"), balance=Sum("outstanding_amount"))
        .order_by("product_id", "team_id", "aging_bucket")
    )
    cells = []
    width = RollRateCell._meta.get_field("to_bucket").max_length
    too_long = sorted({target for targets in ROLLS.values() for target in targets if len(target) > width})
    if too_long:  # the column cannot hold them: counted as "closed" instead, and said so
        print(f"  WARNING: RollRateCell.to_bucket is {width} characters, too short for {too_long}: "
              f"those shares are written as {CLOSED!r}")  # fmt: skip
    for month in ROLL_MONTHS:
        for start, targets in ROLLS.items():
            # One set of shares per month and starting bucket, every product and team alike.
            varied = {}
            for target, share in targets.items():
                target = CLOSED if target in too_long else target
                varied[target] = varied.get(target, 0) + share * rng.uniform(0.8, 1.2)
            total = sum(varied.values())
            shares = {target: share / total for target, share in varied.items()}
            for group in groups:
                if group["aging_bucket"] != start:
                    continue
                for target, share in shares.items():
                    loans = round(group["loans"] * share)
                    if loans:
                        cells.append(RollRateCell(month=month, product_id=group["product_id"], team_id=group["team_id"],
                                                  from_bucket=start, to_bucket=target, loan_count=loans,
                                                  balance_amount=(group["balance"] * Decimal(share)).quantize(
                                                      Decimal("0.01"))))  # fmt: skip
    RollRateCell.objects.bulk_create(cells)
    points = []
    for point in VintagePoint.objects.filter(month=MONTH_START):
        for back in range(1, len(ROLL_MONTHS)):
            months_on_book = point.months_on_book - back
            if months_on_book < 0:
                continue
            # The same loans lent; earlier, fewer of them 30+ DPD or written off yet, and more balance left.
            late = Decimal(f"{max(0.0, 1 - 0.12 * back + rng.uniform(-0.03, 0.03)):.4f}")
            more = Decimal(f"{1 + 0.05 * back + rng.uniform(-0.01, 0.01):.4f}")
            points.append(VintagePoint(
                month=add_months(MONTH_START, -back), disbursed_month=point.disbursed_month,
                months_on_book=months_on_book, product_id=point.product_id, loan_count=point.loan_count,
                loans_30_plus=min(point.loan_count, round(point.loans_30_plus * late)),
                balance_amount=(point.balance_amount * more).quantize(Decimal("0.01")),
                balance_30_plus_amount=(point.balance_30_plus_amount * late).quantize(Decimal("0.01")),
            ))  # fmt: skip
    VintagePoint.objects.bulk_create(points)
    return {"position_groups": len(groups), "roll_rate_cells": len(cells), "vintage_points_cloned": len(points),
            "month_starts": len(ROLL_MONTHS) - 1}  # fmt: skip


def prepare_activity(rng: random.Random) -> dict:
    """A DailyActivity row per day, product and collector, and an ActivityDay per day."""
    DailyActivity.objects.filter(as_of__range=(ACTIVITY_START, ANCHOR)).delete()
    ActivityDay.objects.filter(as_of__range=(ACTIVITY_START, ANCHOR)).delete()
    delinquent = dict(
        PortfolioSnapshot.objects.filter(as_of=ANCHOR)
        .exclude(aging_bucket=CURRENT)
        .values("product_id")
        .annotate(loans=Sum("loan_count"))
        .order_by("product_id")
        .values_list("product_id", "loans")
    )
    total = sum(delinquent.values())
    weights = {product: loans / total for product, loans in delinquent.items()}
    collectors = [
        (user.pk, team.pk)
        for team in Team.objects.order_by("pk").prefetch_related("members")
        for user in team.members.filter(groups__name=COLLECTOR).order_by("pk")
    ]
    rows = []
    day = ACTIVITY_START
    while day <= ANCHOR:
        weekend = day.weekday() >= 5
        for collector, team in collectors:
            contacts_today = rng.gauss(35 if weekend else 95, 12)
            for product, weight in weights.items():
                contacts = max(0, round(contacts_today * weight * rng.uniform(0.8, 1.2)))
                right_party = round(contacts * rng.uniform(0.35, 0.55))
                promises = round(right_party * rng.uniform(0.15, 0.35))
                kept = round(promises * rng.uniform(0.45, 0.75))
                broken = round(promises * rng.uniform(0.15, 0.35))
                ticket = 60_000 if product in (5, 6) else 2_500  # enterprise products: bigger instalments
                issued = round(rng.uniform(0, 6) * weight * 4)
                delivered = round(issued * rng.uniform(0.8, 1.0))
                rows.append(DailyActivity(
                    as_of=day, product_id=product, team_id=team, collector_id=collector,
                    cases_worked=round(contacts * rng.uniform(0.7, 0.9)), contacts=contacts,
                    right_party_contacts=right_party, blocked_contacts=round(contacts * rng.uniform(0, 0.05)),
                    promises_made=promises, promises_kept=kept, promises_broken=broken,
                    amount_collected=Decimal(f"{(kept + rng.uniform(0, 2)) * ticket * rng.uniform(0.6, 1.4):.2f}"),
                    notices_issued=issued, notices_delivered=delivered, notices_failed=issued - delivered,
                ))  # fmt: skip
        day += datetime.timedelta(days=1)
    DailyActivity.objects.bulk_create(rows, batch_size=2_000)
    days = [ACTIVITY_START + datetime.timedelta(days=n) for n in range((ANCHOR - ACTIVITY_START).days + 1)]
    ActivityDay.objects.bulk_create(ActivityDay(as_of=day) for day in days)
    return {"days": len(days), "collectors": len(collectors), "products": len(weights), "rows": len(rows)}


# ---------------------------------------------------------------------------------------------------------
# Measuring


def summary(samples, baseline=None):
    walls = [wall for wall, _cpu in samples]
    median = statistics.median(walls)
    return {
        "median_ms": median * 1000,
        "min_ms": min(walls) * 1000,
        "max_ms": max(walls) * 1000,
        "cpu_ms": statistics.median(cpu for _wall, cpu in samples) * 1000,
        "x_healthz": median / baseline if baseline else 1.0,
    }


def pdf_pages(content: bytes) -> int:
    import pypdf

    return len(pypdf.PdfReader(io.BytesIO(content)).pages)


def choices():
    biggest = (
        PortfolioSnapshot.objects.filter(as_of=ANCHOR)
        .values("product_id")
        .annotate(loans=Sum("loan_count"))
        .order_by("-loans", "product_id")
        .first()["product_id"]
    )
    team = (
        CollectionCase.objects.filter(is_open=True, team__isnull=False)
        .values("team_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "team_id")
        .first()["team_id"]
    )
    return biggest, team


def pages(product, team):
    return [
        ("/dashboard/ (latest date)", "/dashboard/"),
        (f"?as_of={ANCHOR}&product={product}", f"/dashboard/?as_of={ANCHOR}&product={product}"),
        (f"?team={team}", f"/dashboard/?team={team}"),
        ("export buckets CSV", "/dashboard/?export=buckets&format=csv"),
        ("export buckets XLSX", "/dashboard/?export=buckets&format=xlsx"),
    ]


def user_block(username, args, product, team, months):
    user = User.objects.get(username=username)
    client = Client()
    client.force_login(user)
    healthz, queries = timed(client, "/healthz", args.repeat)
    baseline = statistics.median(wall for wall, _cpu in healthz)
    rows = [{"user": username, "page": "/healthz (baseline)", "url": "/healthz", "kind": "baseline",
             "queries": len(queries), "sql_ms": sum(float(q["time"]) for q in queries) * 1000,
             **summary(healthz)}]  # fmt: skip
    for label, url in pages(product, team):
        samples, queries = timed(client, url, args.repeat)
        rows.append({"user": username, "page": label, "url": url, "kind": "dashboard", "queries": len(queries),
                     "sql_ms": sum(float(q["time"]) for q in queries) * 1000, "captured": queries,
                     **summary(samples, baseline)})  # fmt: skip
    reports = []
    for month in months:
        url = f"/dashboard/report/?month={month}"
        first, _cpu, response = request(client, url)
        samples = [request(client, url)[:2] for _ in range(args.report_repeat)]
        content = response.content
        queries = captured_queries(client, url)
        reports.append({"user": username, "month": month, "url": url, "first_s": first,
                        "median_s": statistics.median(w for w, _c in samples), "min_s": min(w for w, _c in samples),
                        "max_s": max(w for w, _c in samples), "cpu_s": statistics.median(c for _w, c in samples),
                        "bytes": len(content), "pages": pdf_pages(content), "queries": len(queries),
                        "sql_ms": sum(float(q["time"]) for q in queries) * 1000,
                        "language": response.get("Content-Language", "")})  # fmt: skip
    return rows, reports


def print_rows(rows, target):
    print(f"{'user · page':<52}{'median ms':>10}{'min–max ms':>16}{'× healthz':>10}{'queries':>8}{'SQL ms':>8}"
          f"{'CPU ms':>8}  target")  # fmt: skip
    for row in rows:
        verdict = ""
        if row["kind"] == "dashboard" and "export" not in row["page"]:
            verdict = "PASS" if row["median_ms"] <= target else "MISS"
        spread = f"{row['min_ms']:.1f}–{row['max_ms']:.1f}"
        print(f"{row['user'] + ' · ' + row['page']:<52}{row['median_ms']:>10.1f}{spread:>16}{row['x_healthz']:>10.1f}"
              f"{row['queries']:>8}{row['sql_ms']:>8.1f}{row['cpu_ms']:>8.1f}  {verdict}")  # fmt: skip


def print_reports(reports, target):
    print(f"{'user · report':<40}{'median s':>9}{'min–max s':>12}{'first s':>9}{'CPU s':>7}{'kB':>7}{'pages':>6}"
          f"{'queries':>8}{'SQL ms':>8}  target")  # fmt: skip
    for row in reports:
        verdict = "PASS" if row["median_s"] <= target else "MISS"
        spread = f"{row['min_s']:.2f}–{row['max_s']:.2f}"
        print(f"{row['user'] + ' · ' + row['month'] + ' (' + row['language'] + ')':<40}{row['median_s']:>9.2f}"
              f"{spread:>12}{row['first_s']:>9.2f}{row['cpu_s']:>7.2f}{row['bytes'] / 1000:>7.1f}{row['pages']:>6}"
              f"{row['queries']:>8}{row['sql_ms']:>8.1f}  {verdict}")  # fmt: skip


def print_summary(runs, target, report_target):
    print(f"\n=== median of the {len(runs)} runs' medians")
    print(f"{'user · page':<52}{'median ms':>10}  {'runs':<24}{'× healthz':>10}{'queries':>8}  target")
    for index, row in enumerate(runs[0]["rows"]):
        medians = [run["rows"][index]["median_ms"] for run in runs]
        ratios = [run["rows"][index]["x_healthz"] for run in runs]
        verdict = ""
        if row["kind"] == "dashboard" and "export" not in row["page"]:
            verdict = "PASS" if statistics.median(medians) <= target else "MISS"
        print(f"{row['user'] + ' · ' + row['page']:<52}{statistics.median(medians):>10.1f}  "
              f"{' / '.join(f'{m:.1f}' for m in medians):<24}{statistics.median(ratios):>10.1f}{row['queries']:>8}"
              f"  {verdict}")  # fmt: skip
    print(f"{'user · report':<40}{'median s':>9}  {'runs':<20}{'kB':>7}{'pages':>6}{'queries':>8}  target")
    for index, row in enumerate(runs[0]["reports"]):
        medians = [run["reports"][index]["median_s"] for run in runs]
        verdict = "PASS" if statistics.median(medians) <= report_target else "MISS"
        print(f"{row['user'] + ' · ' + row['month'] + ' (' + row['language'] + ')':<40}"
              f"{statistics.median(medians):>9.2f}  {' / '.join(f'{m:.2f}' for m in medians):<20}"
              f"{row['bytes'] / 1000:>7.1f}{row['pages']:>6}{row['queries']:>8}  {verdict}")  # fmt: skip


def profile_selectors(repeat, product, team):
    """Each selector the dashboard calls, timed directly (median of `repeat` calls, after one warm-up)."""
    as_of = selectors.latest_snapshot_date()
    roll_month = selectors.roll_rate_month(as_of)
    calls = {
        "latest_snapshot_date": lambda scope: selectors.latest_snapshot_date(),
        "headline": lambda scope: selectors.headline(as_of, scope),
        "bucket_distribution": lambda scope: selectors.bucket_distribution(as_of, scope),
        "cases_per_stage": lambda scope: selectors.cases_per_stage(as_of, scope),
        "trend": lambda scope: selectors.trend(as_of, scope),
        "roll_rate_month": lambda scope: selectors.roll_rate_month(as_of),
        "roll_rate_matrix": lambda scope: selectors.roll_rate_matrix(roll_month, scope),
        "flow_rates": lambda scope: selectors.flow_rates(as_of, scope),
        "vintage_curves": lambda scope: selectors.vintage_curves(scope),
        "collector_performance": lambda scope: selectors.collector_performance(as_of, scope),
        "compliance_panel": lambda scope: selectors.compliance_panel(as_of),
    }
    scopes = [("whole book", selectors.Scope()), (f"product={product}", selectors.Scope(product_id=product)),
              (f"team={team}", selectors.Scope(team_id=team))]  # fmt: skip
    print(f"\n=== selectors timed directly (as_of {as_of}; median of {repeat} after a warm-up; ms, queries)")
    print(f"{'selector':<24}" + "".join(f"{label:>22}" for label, _scope in scopes))
    totals = [0.0] * len(scopes)
    for name, call in calls.items():
        cells = []
        for index, (_label, scope) in enumerate(scopes):
            call(scope)
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                call(scope)
                samples.append(time.perf_counter() - started)
            with CaptureQueriesContext(connection) as captured:
                call(scope)
            median = statistics.median(samples) * 1000
            totals[index] += median
            cells.append(f"{median:>14.1f} ms {len(captured):>3}q")
        print(f"{name:<24}" + "".join(f"{cell:>22}" for cell in cells))
    print(f"{'sum':<24}" + "".join(f"{total:>17.1f} ms" + " " * 5 for total in totals))


def explain(rows, target, slowest):
    for row in rows:
        if row["kind"] != "dashboard" or row["median_ms"] <= target or not row.get("captured"):
            continue
        selects = [q for q in row["captured"] if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]
        selects.sort(key=lambda q: float(q["time"]), reverse=True)
        print(f"\n=== {row['user']} · {row['page']} ({row['url']}): median {row['median_ms']:.1f} ms")
        for query in selects[:slowest]:
            print(f"\n--- {float(query['time']) * 1000:.1f} ms in the page\n{query['sql']}\n")
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                print("\n".join(line for (line,) in cursor.fetchall()))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page (after one warm-up)")
    parser.add_argument("--report-repeat", type=int, default=3, help="timed renders per monthly report")
    parser.add_argument("--runs", type=int, default=3, help="whole measurements, in this process")
    parser.add_argument("--users", default="manager,admin")
    parser.add_argument("--months", default="2026-11,2026-10", help="monthly reports to time (empty: none)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--target", type=float, default=300.0, help="ms, the dashboard's median")
    parser.add_argument("--report-target", type=float, default=10.0, help="s, the monthly report's median")
    parser.add_argument("--explain", type=int, default=0, metavar="K", help="EXPLAIN the K slowest queries")
    parser.add_argument("--no-profile", action="store_true", help="skip timing the selectors one by one")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--prepare", action="store_true", help="(re)write the history even if it is there")
    group.add_argument("--no-prepare", action="store_true", help="never write the history")
    args = parser.parse_args()
    setup_test_environment()

    if connection.vendor != "postgresql":
        sys.exit("PostgreSQL only (the history is written with PostgreSQL SQL)")
    state = history_state()
    if args.prepare or (not args.no_prepare and not history_complete(state)):
        print(f"preparing the history (found: {state})", flush=True)
        prepare(args.seed)
        state = history_state()
    print(f"history: {state}")
    product, team = choices()
    months = [month for month in args.months.split(",") if month]
    loans = Loan.objects.order_by().count()
    print(
        f"database: {connection.vendor}; loans: {loans:,}; open cases: "
        f"{CollectionCase.objects.filter(is_open=True).count():,}; snapshot rows: "
        f"{PortfolioSnapshot.objects.count():,}; business date {business_today()}; product {product}, team {team}; "
        f"repeat {args.repeat}; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    runs = []
    for number in range(1, args.runs + 1):
        print(f"\n=== run {number} of {args.runs} (load average {os.getloadavg()[0]:.1f})", flush=True)
        rows, reports = [], []
        for username in args.users.split(","):
            user_rows, user_reports = user_block(username, args, product, team, months)
            rows += user_rows
            reports += user_reports
        print_rows(rows, args.target)
        if reports:
            print_reports(reports, args.report_target)
        runs.append({"rows": rows, "reports": reports})
    if runs:
        print_summary(runs, args.target, args.report_target)
    print(f"load average at the end {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)")
    if not args.no_profile:
        profile_selectors(args.repeat, product, team)
    if args.explain:
        explain(runs[-1]["rows"], args.target, args.explain)


if __name__ == "__main__":
    main()
