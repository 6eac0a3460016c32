"""Time the batch path that issues collection notices (PDF) against bare WeasyPrint on the same notices.

    .venv/bin/python bench/notices.py                       # 1,000 notices, 3 repeats
    .venv/bin/python bench/notices.py --notices 80 --repeat 2    # a small trial

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/creditops_bench_notices; the database is created
if missing and migrated. The script owns it: it EMPTIES it (`flush`) before seeding, so it refuses a database
whose name does not contain "notices" unless --allow-flush. PostgreSQL only (the notices' immutability
trigger and the TRUNCATE reset below are PostgreSQL's). MEDIA_ROOT is always a fresh temporary directory,
removed at the end. Settings module as bench/dunning_run.py: creditops.settings.dev with DEBUG off.

Seed (not timed): N borrowers (--english-share of them prefer English, the others Chinese; names, addresses
and e-mail share as lending/demo.py makes them), one 12-month loan each booked with `loan_create` so that its
first installment fell due 15 days ago, a team with two collectors and a catch-all assignment rule, then
the nightly `dunning_run` for today: every loan opens a case at the D+15 stage, whose one action is a
pending "collection_notice". The script checks that exactly N such actions are pending.

Each repeat (--repeat, default 3) measures, in this one process:

1. project: `pending_notices_issue(workers=W)` — reserve (guardrail, gapless reference, data snapshot),
   render (Django template → WeasyPrint), store the file, SHA-256, deliveries, timeline — on W forked
   processes. Wall time, and CPU time of this process plus its reaped children (getrusage SELF +
   CHILDREN; the pool's workers are reaped when it shuts down). Then verified, untimed: N issued notices,
   each stored file's SHA-256 and size match the row, references gapless and distinct, N letters queued.
2. floor: the same N notices' HTML, built beforehand from their stored data (`notice_html`, not timed),
   rendered one after the other with bare `weasyprint.HTML(string=…, base_url=…).write_pdf()` in this
   process: wall and CPU (getrusage SELF), and each render's CPU time for the per-language medians.

Before the first repeat one Chinese and one English notice are rendered untimed in this process, so the
forked workers (which inherit its memory) and the floor both start warm (fontconfig, fonts, templates).
PostgreSQL's CPU is not counted on either side: its backends are not children of this process.

Between repeats the issued state is reset without re-seeding: notices and deliveries are TRUNCATEd (the
immutability trigger is row-level, TRUNCATE passes it), the "CN" reference counter row is deleted, the N
actions go back to pending, the queued e-mail tasks and the stored files are removed. The case timeline
and the audit trail are append-only (row-level triggers) and share their tables with everything else,
so each repeat leaves N more NOTICE timeline rows and N audit rows behind: at most R×N rows, in tables
the issue path only appends to.

Figures are medians over the repeats, and each ratio is the median of the per-repeat ratios (both sides
of a ratio come from the same repeat). Targets are printed PASS/MISS; the exit status is 0 either way.
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import resource
import shutil
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
os.environ.setdefault("LOG_LEVEL", "WARNING")  # not one "Enqueued" line per e-mail delivery queued
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/creditops_bench_notices")
# Always our own directory: the reset between repeats deletes the stored notices under it.
MEDIA_ROOT = os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="bench_notices_media_")

import django  # noqa: E402

django.setup()

import weasyprint  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django_q.models import OrmQ  # noqa: E402
from faker import Faker  # noqa: E402
from psycopg import connect as pg_connect  # noqa: E402
from psycopg import sql  # noqa: E402

from accounts import roles  # noqa: E402
from accounts.models import Team, User  # noqa: E402
from creditops.core.dates import add_months, business_today  # noqa: E402
from creditops.core.models import ReferenceCounter  # noqa: E402
from dunning.models import AssignmentRule, DunningAction, NoticeKind  # noqa: E402
from dunning.services.run import dunning_run  # noqa: E402
from lending.demo import AREA_CODES, ensure_products  # noqa: E402
from lending.models import Borrower  # noqa: E402
from lending.services import loan_create  # noqa: E402
from lending.validators import resident_id_check_char  # noqa: E402
from notices.checks import harfbuzz_subset_installed  # noqa: E402
from notices.models import REFERENCE_PREFIX, Notice, NoticeDelivery, PrintBatch  # noqa: E402
from notices.rendering import notice_html, notice_pdf  # noqa: E402
from notices.services.batch import CHUNK_SIZE, pending_notice_action_ids, pending_notices_issue  # noqa: E402
from notices.services.content import notice_data_build  # noqa: E402

DAYS_LATE = 15  # the stage of the default ladder whose action is the formal collection notice
PRODUCT_CODE = "PL-EMI"  # 12 % equal installments, no grace days: D+15 is 15 days after the due date
PRINCIPALS = [5_000, 8_000, 12_000, 20_000, 30_000, 50_000]
EMAIL_SHARE = 0.7  # as lending/demo.py
LANGUAGES = ["zh-hans", "en"]
TARGET_CPU_RATIO, TARGET_WALL_RATIO, TARGET_ZH_KB = 1.3, 0.7, 300
KB = 1000  # sizes in kB of 1,000 bytes (the stricter reading of "300 KB")


# ---------------------------------------------------------------------------------------------------------
# Database and seed


def database_prepare(allow_flush: bool) -> None:
    """Create the benchmark database if missing, migrate it, and empty it: the dunning run only goes
    forward in time and references are numbered per year, so a seed needs a database nobody ran before."""
    config = settings.DATABASES["default"]
    if connection.vendor != "postgresql":
        sys.exit("bench/notices.py runs on PostgreSQL only (set DATABASE_URL).")
    name = config["NAME"]
    if "notices" not in name and not allow_flush:
        sys.exit(f"refusing to empty database {name!r}: its name does not contain 'notices' (--allow-flush)")
    server = {"host": config["HOST"], "port": config["PORT"], "user": config["USER"], "password": config["PASSWORD"]}
    with pg_connect(dbname="postgres", autocommit=True, **{k: v for k, v in server.items() if v}) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", flush=True)
    call_command("migrate", verbosity=0, interactive=False)
    # flush TRUNCATEs every table (row-level triggers do not fire) and re-runs post_migrate, which puts the
    # role groups, the default ladder and the guardrail profiles back.
    call_command("flush", verbosity=0, interactive=False)


def routing_create() -> None:
    """A team with two collectors and a rule routing every case to it: without a route no case opens."""
    supervisor = User.objects.create_user(username="bench-sup", is_staff=True)
    supervisor.groups.add(Group.objects.get(name=roles.SUPERVISOR))
    team = Team.objects.create(name="Bench team", supervisor=supervisor)
    for username in ["bench-col1", "bench-col2"]:
        collector = User.objects.create_user(username=username, is_staff=True)
        collector.groups.add(Group.objects.get(name=roles.COLLECTOR))
        team.members.add(collector)
    AssignmentRule.objects.create(position=1, team=team)


def borrowers_build(count: int, english_share: float, seed: int) -> list[Borrower]:
    """Individuals as the demo seeder makes them: a Chinese or Latin name, a Chinese address (an English
    notice prints it too, so it also embeds CJK glyphs), an e-mail address for 70 %."""
    rnd = random.Random(seed)
    fakers = {"zh-hans": Faker("zh_CN"), "en": Faker("en_US")}
    for faker in fakers.values():
        faker.seed_instance(seed)
    english = set(rnd.sample(range(count), round(count * english_share)))
    borrowers = []
    for index in range(count):
        language = "en" if index in english else "zh-hans"
        area, province, city = rnd.choice(AREA_CODES)
        name = fakers[language].name()
        born = datetime.date(1960, 1, 1) + datetime.timedelta(days=index // 1000)
        first17 = f"{area}{born:%Y%m%d}{index % 1000:03d}"  # unique: one birth date per 1,000 borrowers
        borrowers.append(
            Borrower(
                name=name, name_latin=name if language == "en" else "", id_type=Borrower.IdType.RESIDENT_ID,
                id_number=first17 + resident_id_check_char(first17), phone=f"+86139{index:08d}",
                email=f"bench{index}@example.com" if rnd.random() < EMAIL_SHARE else "",
                address=f"{province}{city}{fakers['zh-hans'].street_address()}", province=province, city=city,
                preferred_language=language, credit_limit_amount=Decimal(100_000),
            )
        )  # fmt: skip
    return borrowers


def seed(count: int, english_share: float, seed_value: int) -> list[int]:
    """Book the loans, run the dunning ladder for today, and return the pending notice actions (exactly
    `count` collection notices, or exit)."""
    today = business_today()
    first_due = today - datetime.timedelta(days=DAYS_LATE)
    rnd = random.Random(seed_value)
    with transaction.atomic():
        product = ensure_products()[PRODUCT_CODE]
        routing_create()
        for borrower in Borrower.objects.bulk_create(borrowers_build(count, english_share, seed_value)):
            loan_create(
                borrower=borrower, product=product, principal_amount=Decimal(rnd.choice(PRINCIPALS)),
                term_months=12, disbursed_on=add_months(first_due, -1), first_due_date=first_due, actor=None,
            )  # fmt: skip
    report = dunning_run(as_of=first_due + datetime.timedelta(days=DAYS_LATE))
    action_ids = pending_notice_action_ids()
    kinds = set(DunningAction.objects.filter(pk__in=action_ids).values_list("notice_kind", flat=True))
    if len(action_ids) != count or kinds != {NoticeKind.COLLECTION_NOTICE}:
        sys.exit(f"seed: {len(action_ids)} pending notice actions of kinds {kinds}, expected {count} collection "
                 f"notices; run counts {report.counts}")  # fmt: skip
    return action_ids


def warm_up(action_ids: list[int]) -> float:
    """Render one notice per language (untimed, nothing stored) so that the forked workers and the floor
    start equally warm. Returns the seconds it took, a cost a cold process pays once."""
    started = time.perf_counter()
    actions = DunningAction.objects.filter(pk__in=action_ids).select_related("case__loan__product", "case__borrower")
    for language in LANGUAGES:
        action = actions.filter(case__borrower__preferred_language=language).first()
        if action is None:
            continue
        data = notice_data_build(
            case=action.case, kind=action.notice_kind, language=language, issued_on=business_today(),
            reference=f"{REFERENCE_PREFIX}-WARM-UP", verification_code="WARMUP0000",
        )  # fmt: skip
        notice_pdf(data)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------------------
# Reset between repeats


def reset_issued(action_ids: list[int]) -> None:
    """Back to "nothing issued" on the same seed (see the module docstring for what stays behind)."""
    with connection.cursor() as cursor:
        # No CASCADE: if another table ever references notices, this fails instead of emptying it too.
        tables = [NoticeDelivery._meta.db_table, PrintBatch._meta.db_table, Notice._meta.db_table]
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        cursor.execute(f"TRUNCATE {OrmQ._meta.db_table}")  # the queued e-mail deliveries
    ReferenceCounter.objects.filter(prefix=REFERENCE_PREFIX).delete()
    DunningAction.objects.filter(pk__in=action_ids).update(
        status=DunningAction.Status.PENDING, completed_at=None, result=""
    )
    shutil.rmtree(Path(MEDIA_ROOT) / "notices", ignore_errors=True)
    connection.close()  # the batch closes it before forking anyway; start both sides the same way


# ---------------------------------------------------------------------------------------------------------
# Measurements


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure_project(workers: int, chunk_size: int) -> dict:
    """The batch path exactly as `manage.py issue_notices` runs it, workers included in the CPU time."""
    self_before, children_before = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    counts = pending_notices_issue(workers=workers, chunk_size=chunk_size)
    wall = time.perf_counter() - started
    parent = cpu_seconds(resource.RUSAGE_SELF) - self_before
    children = cpu_seconds(resource.RUSAGE_CHILDREN) - children_before
    return {"wall_s": wall, "cpu_parent_s": parent, "cpu_workers_s": children, "counts": dict(counts)}


def verify(action_ids: list[int], counts: dict) -> dict:
    """Prove the batch did the whole job (or exit): every notice issued, stored, hashed, recorded.
    Returns the stored sizes (bytes) per language and the page counts."""
    expected = len(action_ids)
    problems = []
    if counts.get("issued") != expected or any(counts.get(key) for key in ["refused", "failed", "skipped"]):
        problems.append(f"batch counts {counts}")
    rows = list(Notice.objects.values_list("reference", "status", "pdf", "sha256", "size_bytes", "page_count",
                                           "language", "action_id"))  # fmt: skip
    numbers = sorted(int(reference.rsplit("-", 1)[1]) for reference, *_rest in rows)
    if numbers != list(range(1, expected + 1)):
        problems.append(f"references not 1..{expected} without gaps or duplicates")
    if {row[7] for row in rows} != set(action_ids) or any(row[1] != Notice.Status.ISSUED for row in rows):
        problems.append("not exactly one issued notice per action")
    sizes = {language: [] for language in LANGUAGES}
    for _reference, _status, name, sha256, size, _pages, language, _action in rows:
        with default_storage.open(name, "rb") as stored:
            content = stored.read()
        if hashlib.sha256(content).hexdigest() != sha256 or len(content) != size:
            problems.append(f"stored file {name} does not match its SHA-256 or size")
        sizes.setdefault(language, []).append(size)
    if DunningAction.objects.filter(pk__in=action_ids, status=DunningAction.Status.DONE).count() != expected:
        problems.append("not every action is done")
    if NoticeDelivery.objects.filter(channel=NoticeDelivery.Channel.LETTER).count() != expected:
        problems.append("not one letter delivery per notice")
    if problems:
        sys.exit("verification failed: " + "; ".join(problems[:5]))
    return {"sizes": sizes, "pages": [row[5] for row in rows]}


def floor_inputs() -> list[tuple[str, str]]:
    """(language, HTML) of every issued notice, from its stored data, in issue order (not timed)."""
    notices = Notice.objects.order_by("pk").values_list("language", "data")
    return [(language, notice_html(data)) for language, data in notices]


def measure_floor(documents: list[tuple[str, str]]) -> dict:
    """Bare WeasyPrint, one process, one notice after the other: what rendering alone costs."""
    base_url = str(Path(settings.BASE_DIR) / "templates" / "notices")  # as notices.rendering uses
    per_language = {language: [] for language in LANGUAGES}
    cpu_before = cpu_seconds(resource.RUSAGE_SELF)
    started = time.perf_counter()
    for language, html in documents:
        # Per notice CPU rather than wall: on a shared machine a render's wall time is mostly who else ran.
        began = time.process_time()
        weasyprint.HTML(string=html, base_url=base_url).write_pdf()
        per_language.setdefault(language, []).append(time.process_time() - began)
    wall = time.perf_counter() - started
    cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu_before
    medians = {language: statistics.median(values) * 1000 for language, values in per_language.items() if values}
    return {"wall_s": wall, "cpu_s": cpu, "render_ms_median": medians}


def one_repeat(action_ids: list[int], workers: int, chunk_size: int) -> dict:
    """Project then floor on the same notices; returns this repeat's figures."""
    count = len(action_ids)
    reset_issued(action_ids)
    load = os.getloadavg()[0]
    project = measure_project(workers, chunk_size)
    stored = verify(action_ids, project["counts"])
    floor = measure_floor(floor_inputs())
    project_cpu_ms = (project["cpu_parent_s"] + project["cpu_workers_s"]) * 1000 / count
    floor_cpu_ms = floor["cpu_s"] * 1000 / count
    figures = {
        "project_cpu_ms": project_cpu_ms,
        "floor_cpu_ms": floor_cpu_ms,
        "cpu_ratio": project_cpu_ms / floor_cpu_ms,
        "batch_wall_s": project["wall_s"],
        "floor_wall_s": floor["wall_s"],
        "wall_ratio": project["wall_s"] / floor["wall_s"],
        "project_parent_cpu_s": project["cpu_parent_s"],
        "project_workers_cpu_s": project["cpu_workers_s"],
        "mean_pages": statistics.fmean(stored["pages"]),
        "load_1min_before": load,
    }
    for language in LANGUAGES:
        sizes = stored["sizes"].get(language) or [0]
        figures[f"{language}_kb_median"] = statistics.median(sizes) / KB
        figures[f"{language}_kb_max"] = max(sizes) / KB
        figures[f"{language}_floor_ms_median"] = floor["render_ms_median"].get(language, 0.0)
    return figures


# ---------------------------------------------------------------------------------------------------------
# Report

# (key, label, format, target: (comparison, limit) or None)
ROWS = [
    ("project_cpu_ms", "project CPU per notice, ms", ".1f", None),
    ("floor_cpu_ms", "floor CPU per notice, ms", ".1f", None),
    ("cpu_ratio", "CPU ratio project / floor", ".2f", TARGET_CPU_RATIO),
    ("batch_wall_s", "batch wall, s", ".2f", None),
    ("floor_wall_s", "floor wall (1 process), s", ".2f", None),
    ("wall_ratio", "wall ratio batch / floor", ".2f", TARGET_WALL_RATIO),
    ("project_parent_cpu_s", "  project CPU: this process, s", ".2f", None),
    ("project_workers_cpu_s", "  project CPU: workers, s", ".2f", None),
    ("zh-hans_kb_median", "zh-hans stored size median, kB", ".1f", None),
    ("zh-hans_kb_max", "zh-hans stored size max, kB", ".1f", TARGET_ZH_KB),
    ("en_kb_median", "en stored size median, kB", ".1f", None),
    ("en_kb_max", "en stored size max, kB", ".1f", None),
    ("mean_pages", "pages per notice, mean", ".2f", None),
    ("zh-hans_floor_ms_median", "floor render zh-hans, median CPU ms", ".0f", None),
    ("en_floor_ms_median", "floor render en, median CPU ms", ".0f", None),
    ("load_1min_before", "load average (1 min) before", ".2f", None),
]


def report(results: list[dict]) -> None:
    """Median of each figure and of each ratio over the repeats, with PASS/MISS against the targets."""
    repeats = "".join(f"{f'#{index}':>10}" for index in range(1, len(results) + 1))
    print(f"\n{'figure':<36}{repeats}{'median':>10}  target")
    for key, label, fmt, limit in ROWS:
        values = [result[key] for result in results]
        median = statistics.median(values)
        verdict = "" if limit is None else f"≤ {limit:g}  {'PASS' if median <= limit else 'MISS'}"
        cells = "".join(f"{format(value, fmt):>10}" for value in values)
        print(f"{label:<36}{cells}{format(median, fmt):>10}  {verdict}")


def describe(count: int, workers: int, chunk_size: int) -> None:
    languages = dict(Borrower.objects.values_list("preferred_language").annotate(n=Count("pk")).order_by())
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        version = cursor.fetchone()[0]
    print(f"database: PostgreSQL {version} {settings.DATABASES['default']['NAME']}; {count:,} pending collection "
          f"notices ({', '.join(f'{k} {v}' for k, v in sorted(languages.items()))}); workers {workers}, chunk "
          f"{chunk_size}; {os.cpu_count()} CPUs; WeasyPrint {weasyprint.__version__}, libharfbuzz-subset "
          f"{'found' if harfbuzz_subset_installed() else 'MISSING'}; settings {os.environ['DJANGO_SETTINGS_MODULE']}, "
          f"DEBUG={os.environ.get('DEBUG')}; media {MEDIA_ROOT}", flush=True)  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notices", type=int, default=1000, help="notices to issue (one case each)")
    parser.add_argument("--english-share", type=float, default=0.2, help="share of borrowers preferring English")
    parser.add_argument("--workers", type=int, default=2, help="processes of the batch")
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="actions per task of the batch")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--allow-flush", action="store_true", help="empty a database not named *notices*")
    parser.add_argument("--json", help="also write every repeat's figures to this file")
    args = parser.parse_args()
    try:
        started = time.perf_counter()
        database_prepare(args.allow_flush)
        action_ids = seed(args.notices, args.english_share, args.seed)
        print(f"seeded in {time.perf_counter() - started:.1f} s (not timed below)", flush=True)
        describe(len(action_ids), args.workers, args.chunk_size)
        print(f"warm-up (one notice per language, untimed): {warm_up(action_ids):.2f} s", flush=True)
        results = []
        for repeat in range(1, args.repeat + 1):
            figures = one_repeat(action_ids, args.workers, args.chunk_size)
            results.append(figures)
            print(f"repeat {repeat}/{args.repeat}: batch {figures['batch_wall_s']:.2f} s wall, "
                  f"{figures['project_cpu_ms']:.1f} CPU ms/notice · floor {figures['floor_wall_s']:.2f} s wall, "
                  f"{figures['floor_cpu_ms']:.1f} CPU ms/notice", flush=True)  # fmt: skip
        report(results)
        print("(CPU = user + system of this process and its reaped children; PostgreSQL's backends are not "
              "counted.\n ratios: median of the per-repeat ratios; kB = 1,000 bytes.)")  # fmt: skip
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(MEDIA_ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
