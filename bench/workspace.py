"""Time the collections workspace on a big book — the worklist, the case workspace, the team queue and the
approvals inbox — as three kinds of user, through Django's test client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/workspace.py --repeat 15

The users come from the demo seed (accounts/demo.py) and the cases from the nightly run:

- collector — the collector with the most open cases (their own cases only);
- supervisor — the supervisor whose teams hold the most open cases (their teams' cases);
- supervisor, nothing to decide — the supervisor whose teams have the fewest pending requests (the
  inbox's worst case when it was filtered after reading every team's requests);
- supervisor, empty team — a supervisor of a team with no case, made for the run and rolled back;
- sees all — the administrator (`--all-user`, default "admin"), who sees every open case and, unlike the
  manager, may also open the team queue and the approvals inbox. The manager's worklist runs the same
  queries (both see every case); pass --all-user manager to time it (team queue and approvals then 403 and
  are skipped).

Per user: /cases/ (worklist), ?bucket=91-180, ?promise_due_today=true, the second page (the first page's
next_cursor, ?after=…), /team/, /approvals/ (also ?kind=write_off and ?waiting=7) and /reviews/
(supervisors and administrators), the audit trail and the blocked contacts, whole and narrowed to a rare
category, a user with no events and a rare channel (those who may read the audit), the workspace of the top
case of the user's worklist, and the workspaces of 20 random open cases in the user's scope (--cases; seeded
with --seed). Each page is requested once as a warm-up and then --repeat times; the random workspaces are
requested round-robin, --repeat rounds, so the median is over 20 × repeat requests and the first round (each
case's first visit, after the one warm-up on a different case) is also reported on its own. Query counts
come from one more request under CaptureQueriesContext. /healthz is timed at the start of each user's block
with the same signed-in client (its SELECT 1 plus what every signed-in request costs: reading the session and
the user, and saving the session, SESSION_SAVE_EVERY_REQUEST), and every page's median is also given as a
multiple of it. "Python CPU ms" is the median CPU time of this process per request (view, ORM, templates):
the rest of the wall time is PostgreSQL and waiting for a core.

Settings as admin_pages.py: creditops.settings.dev with DEBUG off unless the environment says otherwise.
Figures are server time in-process (middleware, view, SQL, template), without a network or a WSGI server.
`--explain K` prints EXPLAIN (ANALYZE, BUFFERS) of the K slowest SELECTs of every page whose median is over
--target ms (default 100, the target for every staff page; each page's Python CPU is held to --cpu-target,
default 40 ms). `--json PATH` writes the
rows, so several runs can be combined.
"""

import argparse
import json
import os
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditops.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from timing import captured_queries, request, timed  # noqa: E402

from accounts.models import AuditEvent, Team, User  # noqa: E402
from accounts.roles import COLLECTOR, SUPERVISOR  # noqa: E402
from creditops.core.dates import business_today  # noqa: E402
from dunning import selectors  # noqa: E402
from dunning.models import ApprovalRequest, CollectionCase  # noqa: E402
from lending.models import Loan  # noqa: E402


def timed_round_robin(client, urls, repeat):
    """Each URL once per round, `repeat` rounds; then each URL's queries, captured once."""
    rounds = []
    captured = []
    for _ in range(repeat):
        rounds.append([request(client, url)[:2] for url in urls])
    for url in urls:
        captured.append(captured_queries(client, url))
    return rounds, captured


def summary(samples, baseline=None):
    """samples: (wall, cpu) pairs, seconds."""
    walls = [wall for wall, _cpu in samples]
    median = statistics.median(walls)
    return {
        "median_ms": round(median * 1000, 2),
        "min_ms": round(min(walls) * 1000, 2),
        "max_ms": round(max(walls) * 1000, 2),
        "cpu_ms": round(statistics.median(cpu for _wall, cpu in samples) * 1000, 2),
        "x_healthz": round(median / baseline, 1) if baseline else 1.0,
    }


def chosen_users(all_username):
    open_cases = CollectionCase.objects.filter(is_open=True)
    busiest = (
        open_cases.filter(assigned_to__groups__name=COLLECTOR)
        .values("assigned_to")
        .annotate(n=Count("pk"))
        .order_by("-n", "assigned_to")
        .first()
    )
    collector = User.objects.get(pk=busiest["assigned_to"])
    teams = open_cases.filter(team__supervisor__isnull=False).values("team__supervisor")
    supervisor_row = teams.annotate(n=Count("pk")).order_by("-n", "team__supervisor").first()
    supervisor = User.objects.get(pk=supervisor_row["team__supervisor"])
    sees_all = User.objects.get(username=all_username)
    return [
        ("collector", collector),
        ("supervisor", supervisor),
        ("supervisor, nothing to decide", supervisor_with_least_waiting()),
        ("supervisor, empty team", supervisor_of_an_empty_team()),
        ("sees all", sees_all),
    ]


def supervisor_with_least_waiting():
    """The supervisor whose teams have the fewest pending requests (then the most open cases): the inbox's
    worst case before it was read per team (a long walk through other teams' requests, finding none)."""
    waiting = dict(
        ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING)
        .values("case__team")
        .annotate(n=Count("pk"))
        .values_list("case__team", "n")
    )
    open_cases = CollectionCase.objects.filter(is_open=True).values("team").annotate(n=Count("pk"))
    cases = dict(open_cases.values_list("team", "n"))
    per_supervisor = {}
    for team_id, supervisor_id in Team.objects.filter(supervisor__isnull=False).values_list("pk", "supervisor"):
        pending, open_cases = per_supervisor.get(supervisor_id, (0, 0))
        per_supervisor[supervisor_id] = (pending + waiting.get(team_id, 0), open_cases - cases.get(team_id, 0))
    return User.objects.get(pk=min(per_supervisor, key=lambda pk: (per_supervisor[pk], pk)))


def supervisor_of_an_empty_team():
    """A supervisor of a team with no case (made here; main() rolls it back)."""
    user = User.objects.create(username="bench_supervisor_empty_team")
    user.groups.add(Group.objects.get(name=SUPERVISOR))
    Team.objects.create(name="Bench empty team", supervisor=user)
    return user


def audit_pages():
    """The audit screens, unfiltered and narrowed to little: a rare category, a user who did nothing."""
    actors = AuditEvent.objects.filter(actor__isnull=False).values("actor_id")
    quiet = User.objects.filter(is_active=True).exclude(pk__in=actors).first()
    return [
        ("audit", "audit trail /accounts/audit/", "/accounts/audit/"),
        ("audit", "audit ?category=reveals", "/accounts/audit/?category=reveals"),
        ("audit", "audit ?actor=(a user with no events)", f"/accounts/audit/?actor={quiet.username}"),
        ("audit", "blocked contacts", "/accounts/audit/blocked-contacts/"),
        ("audit", "blocked contacts ?channel=visit", "/accounts/audit/blocked-contacts/?channel=visit"),
    ]


def user_block(user_kind, user, args, rng):
    client = Client()
    client.force_login(user)
    abilities = selectors.portal_abilities(user)
    scope = selectors.cases_visible_to(user).filter(is_open=True)
    scope_size = scope.count()
    teams = ", ".join(Team.objects.filter(supervisor=user).values_list("name", flat=True))
    label = f"{user_kind}: {user.username} ({', '.join(abilities['role_names'])}"
    print(f"\n{label}{'; supervises ' + teams if teams else ''}) — {scope_size:,} open cases in scope")

    healthz, queries = timed(client, "/healthz", args.repeat)  # with the session cookie: session read + save
    baseline = statistics.median(wall for wall, _cpu in healthz)
    rows = [{"user": user_kind, "username": user.username, "page": "/healthz (baseline)", "kind": "baseline",
             "url": "/healthz", "queries": len(queries), **summary(healthz)}]  # fmt: skip

    *_timings, first = request(client, "/cases/")
    cursor = first.context["next_cursor"]
    top_case = first.context["cases"][0].pk if first.context["cases"] else None
    pages = [
        ("worklist", "worklist /cases/", "/cases/"),
        ("worklist", "worklist ?bucket=91-180", "/cases/?bucket=91-180"),
        ("worklist", "worklist ?promise_due_today=true", "/cases/?promise_due_today=true"),
    ]
    if cursor:
        pages.append(("worklist", "worklist page 2 (?after=cursor)", f"/cases/?after={cursor}"))
    if abilities["supervises"]:
        pages += [
            ("team", "team queue /team/", "/team/"),
            ("approvals", "approvals /approvals/", "/approvals/"),
            ("approvals", "approvals ?kind=write_off", "/approvals/?kind=write_off"),
            ("approvals", "approvals ?waiting=7", "/approvals/?waiting=7"),
            ("reviews", "reviews /reviews/", "/reviews/"),
        ]
    if abilities["audits"]:
        pages += audit_pages()
    if top_case is not None:
        pages.append(("workspace", f"workspace, top case #{top_case}", f"/cases/{top_case}/"))

    for kind, page, url in pages:
        samples, queries = timed(client, url, args.repeat)
        rows.append({"user": user_kind, "username": user.username, "page": page, "kind": kind, "url": url,
                     "queries": len(queries), "captured": queries, **summary(samples, baseline)})  # fmt: skip

    ids = [pk for pk in scope.values_list("pk", flat=True) if pk != top_case]
    sample = rng.sample(ids, min(args.cases, len(ids)))
    if sample:
        urls = [f"/cases/{pk}/" for pk in sample]
        request(client, f"/cases/{top_case}/" if top_case else urls[0])  # warm-up
        rounds, captured = timed_round_robin(client, urls, args.repeat)
        every = [value for one_round in rounds for value in one_round]
        counts = [len(queries) for queries in captured]
        slowest = max(range(len(urls)), key=lambda i: statistics.median(r[i][0] for r in rounds))
        page = f"workspace, {len(urls)} random cases"
        rows.append({"user": user_kind, "username": user.username, "page": page, "kind": "workspace",
                     "url": urls[slowest], "queries": f"{min(counts)}–{max(counts)}" if min(counts) != max(counts)
                     else counts[0], "captured": captured[slowest], "first_visit_ms":
                     round(statistics.median(wall for wall, _cpu in rounds[0]) * 1000, 2), "case_ids": sample,
                     **summary(every, baseline)})  # fmt: skip
    return rows


def print_rows(rows, target, cpu_target):
    header = f"{'page':<40}{'median ms':>10}{'min–max ms':>18}{'queries':>9}{'× healthz':>11}{'Python CPU ms':>15}"
    print(f"{header}  target")
    for row in rows:
        spread = f"{row['min_ms']:.1f}–{row['max_ms']:.1f}"
        verdict = ""
        if row["kind"] != "baseline":
            verdict = "PASS" if row["median_ms"] <= target and row["cpu_ms"] <= cpu_target else "MISS"
        print(
            f"{row['page']:<40}{row['median_ms']:>10.1f}{spread:>18}{row['queries']!s:>9}{row['x_healthz']:>11.1f}"
            f"{row['cpu_ms']:>15.1f}  {verdict}"
        )
        if "first_visit_ms" in row:
            print(f"{'  (first visit of each case, median)':<40}{row['first_visit_ms']:>10.1f}")


def explain(rows, target, slowest):
    """EXPLAIN (ANALYZE, BUFFERS) the slowest SELECTs of each page over target (read-only; run as timed)."""
    for row in rows:
        if row["median_ms"] <= target or not row.get("captured"):
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
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cases", type=int, default=20, help="random open cases per user for the workspace")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--all-user", default="admin", help="username of the user who sees every case")
    parser.add_argument("--target", type=float, default=100.0, help="ms, the median of every staff page")
    parser.add_argument("--cpu-target", type=float, default=40.0, help="ms of Python CPU, every staff page")
    parser.add_argument("--explain", type=int, default=0, metavar="K", help="EXPLAIN the K slowest queries")
    parser.add_argument("--json", help="write the rows (without the captured SQL) to this file")
    args = parser.parse_args()
    setup_test_environment()
    rng = random.Random(args.seed)

    open_cases = CollectionCase.objects.filter(is_open=True).count()
    loans = Loan.objects.order_by().count()
    print(
        f"database: {connection.vendor}; loans: {loans:,}; open cases: {open_cases:,} "
        f"(all cases {CollectionCase.objects.count():,}); business date {business_today()}; repeat {args.repeat}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    rows = []
    with transaction.atomic():  # rolled back: the empty team's supervisor is the benchmark's own
        for user_kind, user in chosen_users(args.all_user):
            block = user_block(user_kind, user, args, rng)
            print_rows(block, args.target, args.cpu_target)
            rows += block
        transaction.set_rollback(True)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)")
    if args.explain:
        explain(rows, args.target, args.explain)
    if args.json:
        book = {"loans": loans, "open_cases": open_cases, "business_date": business_today().isoformat(),
                "load_average_end": os.getloadavg()[:2]}  # fmt: skip
        kept = [{key: value for key, value in row.items() if key != "captured"} for row in rows]
        Path(args.json).write_text(json.dumps({"book": book, "repeat": args.repeat, "rows": kept}, indent=1))


if __name__ == "__main__":
    main()
