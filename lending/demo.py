"""Deterministic demo and benchmark data for the ledger.

The same generator fills a demo database with a few hundred borrowers and a PostgreSQL benchmark
database with a million loans. It never calls the row-by-row services (far too slow for a million
loans); instead it uses the same pure functions they do — `build_schedule` and the waterfall
`allocate` — on in-memory state and writes whole tables with COPY (PostgreSQL) or executemany
(elsewhere). `reconcile_ledger` proves the result obeys the ledger invariants.
"""

import contextlib
import datetime
import queue
import random
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone
from faker import Faker

from creditops.core.dates import add_months
from creditops.core.money import ZERO, to_money
from creditops.core.references import format_reference, reference_allocate_block

from .allocation import COMPONENTS, OpenInstallment, allocate
from .demo_behaviour import behaviour_weights, risk_shift
from .models import Borrower, BorrowerContact, Installment, Loan, Payment, PaymentAllocation, Product
from .schedules import build_schedule, counts_as_due
from .services import LOAN_REFERENCE_PREFIX
from .validators import resident_id_check_char, uscc_check_char

DEMO_SOURCE = "demo"
CHUNK_BORROWERS = 5_000

# code, name, kind, method, annual rate, monthly fee rate, daily penalty rate, grace days, currency
DEMO_PRODUCTS = [
    ("BT-INST", ("白条分期", "Consumer installment"), "consumer_installment", "flat_fee", "0", "0.006", "0.0005", 3),
    ("CL-REV", ("循环额度", "Revolving line"), "revolving_line", "equal_installment", "0.18", "0", "0.0005", 3),
    (
        "PL-EMI",
        ("个人消费贷（等额本息）", "Personal loan (equal instalments)"),
        "term_loan",
        "equal_installment",
        "0.12",
        "0",
        "0.0005",
        0,
    ),
    (
        "PL-EP",
        ("个人经营贷（等额本金）", "Business loan to a person (equal principal)"),
        "term_loan",
        "equal_principal",
        "0.10",
        "0",
        "0.0005",
        0,
    ),
    ("ENT-WC", ("流动资金贷款", "Working capital loan"), "working_capital", "interest_only", "0.065", "0", "0.0003", 5),
    ("ENT-PF", ("项目贷款", "Project finance"), "project_finance", "equal_principal", "0.055", "0", "0.0003", 5),
]
INDIVIDUAL_PRODUCTS = ["BT-INST", "CL-REV", "PL-EMI", "PL-EP"]
ENTERPRISE_PRODUCTS = ["ENT-WC", "ENT-PF"]
AREA_CODES = [
    ("110101", "北京市", "北京市"), ("310104", "上海市", "上海市"), ("440305", "广东省", "深圳市"),
    ("440106", "广东省", "广州市"), ("320102", "江苏省", "南京市"), ("330106", "浙江省", "杭州市"),
    ("510104", "四川省", "成都市"), ("420102", "湖北省", "武汉市"), ("610113", "陕西省", "西安市"),
    ("370202", "山东省", "青岛市"), ("350203", "福建省", "厦门市"), ("500103", "重庆市", "重庆市"),
]  # fmt: skip
# How loans behave: mostly on time, some late but catching up, a tail that stops paying.
BEHAVIOURS = [("on_time", 83), ("late", 8), ("defaulted", 9)]

PAYMENT_CHANNELS = list(Payment.Channel.values)

BORROWER_COLUMNS = [
    "id", "kind", "name", "name_latin", "legal_representative", "id_type", "id_number", "phone", "email",
    "address", "province", "city", "preferred_language", "time_zone", "risk_grade", "credit_limit_amount",
    "has_open_dispute", "is_bankrupt", "is_deceased", "cease_communication", "do_not_contact", "created_at",
]  # fmt: skip
CONTACT_COLUMNS = ["borrower_id", "relation", "name", "phone", "consent_to_contact"]
LOAN_COLUMNS = [
    "id", "reference", "borrower_id", "product_id", "currency", "principal_amount", "annual_interest_rate",
    "monthly_fee_rate", "penalty_daily_rate", "term_months", "disbursed_on", "first_due_date", "maturity_date",
    "status", "settled_on", "credit_balance_amount", "days_past_due", "aging_bucket", "overdue_amount",
    "oldest_overdue_due_date", "created_at", "contract_cost_amount", "grace_days",
]  # fmt: skip
INSTALLMENT_COLUMNS = [
    "id", "loan_id", "sequence", "due_date", "effective_due_date", "principal_amount", "interest_amount",
    "fee_amount", "penalty_amount", "principal_paid_amount", "interest_paid_amount", "fee_paid_amount",
    "penalty_paid_amount",
]  # fmt: skip
PAYMENT_COLUMNS = [
    "id", "loan_id", "source", "external_ref", "amount", "received_on", "channel", "status", "unallocated_amount",
    "reversed_on", "reversal_reason", "created_at",
]  # fmt: skip
ALLOCATION_COLUMNS = [
    "payment_id", "installment_id", "principal_amount", "interest_amount", "fee_amount", "penalty_amount",
    "is_reversal", "created_at",
]  # fmt: skip


@dataclass
class Rows:
    """One chunk of rows per table, in the column orders above."""

    borrowers: list = field(default_factory=list)
    contacts: list = field(default_factory=list)
    loans: list = field(default_factory=list)
    installments: list = field(default_factory=list)
    payments: list = field(default_factory=list)
    allocations: list = field(default_factory=list)
    held_payments: list = field(default_factory=list)


@dataclass
class SeedResult:
    borrowers: int = 0
    loans: int = 0
    installments: int = 0
    payments: int = 0
    # With a history start: the payments received after it, held back to be posted day by day
    # (loan id, its reference, received on, amount).
    held_payments: list = field(default_factory=list)


def ensure_products() -> dict[str, Product]:
    products = {}
    for code, (name, name_en), kind, method, rate, fee, penalty, grace in DEMO_PRODUCTS:
        products[code], _created = Product.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "kind": kind,
                "repayment_method": method,
                "annual_interest_rate": Decimal(rate),
                "monthly_fee_rate": Decimal(fee),
                "penalty_daily_rate": Decimal(penalty),
                "grace_days": grace,
                # Consumer products give a due date on a weekend or holiday until the next business day.
                "due_on_next_business_day": code in INDIVIDUAL_PRODUCTS,
            },
        )
    return products


class LedgerSeeder:
    """Generates borrowers with loans, schedules and payment histories up to `as_of`."""

    def __init__(self, *, seed: int, as_of: datetime.date, progress=None, history_from: datetime.date | None = None):
        self.random = random.Random(seed)
        self.as_of = as_of
        # The book is written as it stood on `history_from`; later payments are returned, not written.
        self.history_from = history_from
        self.now = timezone.now()
        self.progress = progress or (lambda message: None)
        self.products = ensure_products()
        self.waterfalls = {code: product.waterfall for code, product in self.products.items()}
        self.pools = _name_pools(seed)
        self.used_id_numbers = set(Borrower.objects.values_list("id_number", flat=True))
        self.payment_sequence = 0

    def run(self, *, borrowers: int | None, loans: int | None, bulk_load: bool = False) -> SeedResult:
        """Generate and write the book. `bulk_load` (PostgreSQL only) sets indexes aside during the load."""
        if bulk_load and connection.vendor != "postgresql":
            raise ValueError("bulk load mode needs PostgreSQL")
        result = SeedResult()
        with IndexesSetAside(LEDGER_MODELS) if bulk_load else contextlib.nullcontext():
            self._generate(result, borrowers, loans)
        _reset_sequences()
        return result

    def _generate(self, result: SeedResult, borrowers: int | None, loans: int | None) -> None:
        with ChunkWriter() as writer:
            while (borrowers is None or result.borrowers < borrowers) and (loans is None or result.loans < loans):
                size = CHUNK_BORROWERS if borrowers is None else min(CHUNK_BORROWERS, borrowers - result.borrowers)
                loans_left = None if loans is None else loans - result.loans
                rows = self._chunk(size, loans_left)
                writer.submit(rows)
                result.borrowers += len(rows.borrowers)
                result.loans += len(rows.loans)
                result.installments += len(rows.installments)
                result.payments += len(rows.payments)
                result.held_payments += rows.held_payments
                self.progress(f"{result.borrowers:,} borrowers, {result.loans:,} loans generated")

    # -- one chunk -------------------------------------------------------------------------------

    def _chunk(self, size: int, loans_left: int | None) -> Rows:
        rows = Rows()
        borrower_id = _reserve_ids(Borrower, size)
        plans = []
        for offset in range(size):
            if loans_left is not None and len(plans) >= loans_left:
                break
            borrower = self._borrower(borrower_id + offset)
            rows.borrowers.append(borrower["row"])
            rows.contacts.extend(borrower["contacts"])
            for _number in range(self._loan_count(borrower["kind"])):
                if loans_left is not None and len(plans) >= loans_left:
                    break
                plans.append(self._loan_plan(borrower_id + offset, borrower))
        self._assign_references(plans)
        loan_id = _reserve_ids(Loan, len(plans))
        installment_id = _reserve_ids(Installment, sum(len(plan["schedule"]) for plan in plans))
        payment_id = _reserve_ids(Payment, sum(len(plan["payments"]) for plan in plans))
        for index, plan in enumerate(plans):
            installment_id, payment_id = self._loan_rows(rows, plan, loan_id + index, installment_id, payment_id)
            rows.held_payments += [(loan_id + index, plan["reference"], *later) for later in plan["later_payments"]]
        return rows

    def _borrower(self, borrower_id: int) -> dict:
        rnd = self.random
        kind = "enterprise" if rnd.random() < 0.08 else "individual"
        area, province, city = rnd.choice(AREA_CODES)
        english = kind == "individual" and rnd.random() < 0.12
        if kind == "enterprise":
            name = rnd.choice(self.pools["company"])
            id_type, id_number = "uscc", self._uscc(area)
            representative = rnd.choice(self.pools["zh_name"])
            latin = ""
        else:
            name = rnd.choice(self.pools["en_name"] if english else self.pools["zh_name"])
            id_type, id_number = "resident_id", self._resident_id(area)
            representative = ""
            latin = name if english else ""
        phone = f"+861{rnd.choice('3456789')}{rnd.randrange(10**9):09d}"
        limit = rnd.choice([20_000, 50_000, 100_000]) if kind == "individual" else rnd.choice([5_000_000, 30_000_000])
        row = (
            borrower_id, kind, name, latin, representative, id_type, id_number, phone,
            f"user{borrower_id}@example.com" if rnd.random() < 0.7 else "",
            f"{province}{city}{rnd.choice(self.pools['street'])}", province, city,
            "en" if english else "zh-hans", "Asia/Shanghai",
            rnd.choices("ABCDE", weights=[15, 30, 30, 15, 10])[0], Decimal(limit),
            rnd.random() < 0.01, rnd.random() < 0.002, rnd.random() < 0.001, rnd.random() < 0.003,
            rnd.random() < 0.002, self.now,
        )  # fmt: skip
        # What the lender knows of the borrower at booking (lending/demo_behaviour.py draws behaviour from it).
        traits = {
            "kind": kind, "limit": float(limit), "has_email": bool(row[8]),
            "birth": datetime.date.fromisoformat(f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}")
            if kind == "individual" else None,
        }  # fmt: skip
        return {"row": row, "kind": kind, "traits": traits, "contacts": self._contacts(borrower_id, kind)}

    def _contacts(self, borrower_id: int, kind: str) -> list:
        rnd = self.random
        if kind == "enterprise":
            relations = ["guarantor"]
        else:
            relations = rnd.sample(["spouse", "relative", "emergency", "employer"], 2)
        return [
            (
                borrower_id, relation, rnd.choice(self.pools["zh_name"]),
                f"+861{rnd.choice('3589')}{rnd.randrange(10**9):09d}", rnd.random() < 0.6,
            )
            for relation in relations
        ]  # fmt: skip

    def _resident_id(self, area: str) -> str:
        rnd = self.random
        while True:
            birth = datetime.date(1960, 1, 1) + datetime.timedelta(days=rnd.randrange(16_000))
            first17 = f"{area}{birth:%Y%m%d}{rnd.randrange(1000):03d}"
            number = first17 + resident_id_check_char(first17)
            if number not in self.used_id_numbers:
                self.used_id_numbers.add(number)
                return number

    def _uscc(self, area: str) -> str:
        rnd = self.random
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        while True:
            first17 = "91" + area + "".join(rnd.choice(alphabet) for _ in range(9))
            number = first17 + uscc_check_char(first17)
            if number not in self.used_id_numbers:
                self.used_id_numbers.add(number)
                return number

    def _loan_count(self, kind: str) -> int:
        return self.random.choices([1, 2, 3, 4, 5], weights=[25, 20, 25, 20, 10])[0] if kind == "individual" else 2

    # -- one loan --------------------------------------------------------------------------------

    def _loan_plan(self, borrower_id: int, borrower: dict) -> dict:
        rnd = self.random
        kind = borrower["kind"]
        code = rnd.choice(INDIVIDUAL_PRODUCTS if kind == "individual" else ENTERPRISE_PRODUCTS)
        product = self.products[code]
        if kind == "individual":
            principal = Decimal(rnd.randrange(10, 300) * 100)
            term = rnd.choice([3, 6, 12, 12, 24, 36])
        else:
            principal = Decimal(rnd.randrange(50, 2000) * 10_000)
            term = rnd.choice([12, 24, 36, 60])
        age_months = rnd.randrange(0, term + 7)
        disbursed_on = add_months(self.as_of, -age_months) - datetime.timedelta(days=rnd.randrange(28))
        schedule = build_schedule(
            method=product.repayment_method,
            principal=principal,
            term_months=term,
            annual_interest_rate=product.annual_interest_rate,
            monthly_fee_rate=product.monthly_fee_rate,
            first_due_date=add_months(disbursed_on, 1),
            due_day=disbursed_on.day,
        )
        plan = {
            "borrower_id": borrower_id, "product": product, "principal": principal, "term": term,
            "disbursed_on": disbursed_on, "schedule": schedule,
        }  # fmt: skip
        shift = risk_shift(**borrower["traits"], disbursed_on=disbursed_on, principal=float(principal), term=term)
        history = self._payment_history(schedule, behaviour_weights(BEHAVIOURS, shift))
        cut = self.history_from or self.as_of
        plan["payments"] = [payment for payment in history if payment[0] <= cut]
        plan["later_payments"] = [payment for payment in history if payment[0] > cut]
        return plan

    def _payment_history(self, schedule, weights: list[float]) -> list[tuple[datetime.date, Decimal]]:
        """(date, amount) of each payment the borrower made up to as_of, by a behaviour drawn with `weights`."""
        rnd = self.random
        behaviour = rnd.choices([name for name, _w in BEHAVIOURS], weights=weights)[0]
        due = [item for item in schedule if item.due_date <= self.as_of]
        stop_at = len(due)
        if behaviour == "defaulted" and due:
            # Most defaults are recent (about three installments back on average), a few are old.
            stop_at = max(0, len(due) - 1 - int(rnd.expovariate(1 / 3)))
        payments = []
        for item in due[:stop_at]:
            if behaviour == "late":
                paid_on = item.due_date + datetime.timedelta(days=rnd.randrange(1, 25))
            else:
                paid_on = item.due_date - datetime.timedelta(days=rnd.randrange(0, 6))
            if paid_on <= self.as_of:
                payments.append((paid_on, item.total_amount))
        if behaviour == "defaulted" and stop_at < len(due) and rnd.random() < 0.3:
            partial_on = min(due[stop_at].due_date + datetime.timedelta(days=rnd.randrange(1, 10)), self.as_of)
            payments.append((partial_on, to_money(due[stop_at].total_amount * Decimal("0.4"))))
        return sorted(payments)

    def _assign_references(self, plans: list) -> None:
        by_year = {}
        for plan in plans:
            by_year.setdefault(plan["disbursed_on"].year, []).append(plan)
        for year, year_plans in sorted(by_year.items()):
            first = reference_allocate_block(prefix=LOAN_REFERENCE_PREFIX, year=year, count=len(year_plans))
            for offset, plan in enumerate(year_plans):
                plan["reference"] = format_reference(LOAN_REFERENCE_PREFIX, year, first + offset)

    def _loan_rows(self, rows: Rows, plan: dict, loan_id: int, installment_id: int, payment_id: int):
        """Append the loan, its installments, payments and allocations; return the next free ids."""
        product = plan["product"]
        open_items = []
        for item in plan["schedule"]:
            outstanding = {"principal": item.principal_amount, "interest": item.interest_amount,
                           "fee": item.fee_amount, "penalty": ZERO}  # fmt: skip
            open_items.append(OpenInstallment(key=installment_id, outstanding=outstanding))
            installment_id += 1
        by_key = {item.key: item for item in open_items}
        paid = {item.key: dict.fromkeys(COMPONENTS, ZERO) for item in open_items}
        waterfall = self.waterfalls[product.code]
        first_open = 0  # payments settle installments oldest first, so the settled ones are a prefix
        last_paid_on = None
        for paid_on, amount in plan["payments"]:
            while first_open < len(open_items) and not any(open_items[first_open].outstanding.values()):
                first_open += 1
            lines, excess = allocate(amount, open_items[first_open:], waterfall)
            assert excess == ZERO, "demo payments never exceed what is owed"
            for line in lines:
                item = by_key[line.key]
                for part in COMPONENTS:
                    item.outstanding[part] -= line.amounts[part]
                    paid[line.key][part] += line.amounts[part]
                rows.allocations.append(
                    (payment_id, line.key, line.amounts["principal"], line.amounts["interest"], line.amounts["fee"],
                     line.amounts["penalty"], False, self.now)
                )  # fmt: skip
            self.payment_sequence += 1
            rows.payments.append(
                (payment_id, loan_id, DEMO_SOURCE, f"{plan['reference']}-P{self.payment_sequence}", amount, paid_on,
                 self.random.choice(PAYMENT_CHANNELS), "posted", ZERO, None, "", self.now)
            )  # fmt: skip
            payment_id += 1
            last_paid_on = paid_on
        settled = all(not any(item.outstanding.values()) for item in open_items)
        schedule = plan["schedule"]
        rows.loans.append(
            (loan_id, plan["reference"], plan["borrower_id"], product.pk, product.currency, plan["principal"],
             product.annual_interest_rate, product.monthly_fee_rate, product.penalty_daily_rate, plan["term"],
             plan["disbursed_on"], schedule[0].due_date, schedule[-1].due_date,
             "settled" if settled else "active", last_paid_on if settled else None, ZERO, 0, "current", ZERO, None,
             self.now, sum((item.interest_amount + item.fee_amount for item in schedule), ZERO), product.grace_days)
        )  # fmt: skip
        for item, planned in zip(open_items, schedule, strict=True):
            done = paid[item.key]
            counts_from = counts_as_due(
                planned.due_date, calendar=product.business_calendar,
                next_business_day_rule=product.due_on_next_business_day,
            )  # fmt: skip
            rows.installments.append(
                (item.key, loan_id, planned.sequence, planned.due_date, counts_from, planned.principal_amount,
                 planned.interest_amount, planned.fee_amount, ZERO, done["principal"], done["interest"], done["fee"],
                 done["penalty"])
            )  # fmt: skip
        return installment_id, payment_id


def _name_pools(seed: int) -> dict[str, list[str]]:
    """Small pools of realistic names drawn once with Faker; borrowers pick from them (fast, repeatable)."""
    chinese, english = Faker("zh_CN"), Faker("en_US")
    chinese.seed_instance(seed)
    english.seed_instance(seed)
    return {
        "zh_name": [chinese.name() for _ in range(3000)],
        "en_name": [english.name() for _ in range(1000)],
        "company": [chinese.company() for _ in range(1500)],
        "street": [chinese.street_address() for _ in range(1500)],
    }


def _reserve_ids(model, count: int) -> int:
    """First of `count` consecutive primary keys, taken straight from the table's sequence. nextval and
    setval are two steps, so this is only safe while nothing else inserts into these tables: seed_demo
    holds a lock against other seeders, and is meant for a database the application is not writing to."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
            first = cursor.fetchone()[0]
            if count > 1:
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, first + count - 1])
            return first
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return cursor.fetchone()[0] + 1


class ChunkWriter:
    """Writes chunks of rows. On PostgreSQL a second thread (with its own connection) runs the COPYs
    while the main thread generates the next chunk: the machine has two cores and COPY spends most of
    its time in the server, so the two overlap. Elsewhere chunks are written in the calling thread."""

    def __init__(self):
        self.threaded = connection.vendor == "postgresql"
        self.queue = queue.Queue(maxsize=1)
        self.error = None
        self.thread = threading.Thread(target=self._consume, name="seed-writer", daemon=True)

    def __enter__(self):
        if self.threaded:
            self.thread.start()
        return self

    def submit(self, rows: Rows) -> None:
        if not self.threaded:
            _write_chunk(rows)
            return
        if self.error:
            raise self.error
        self.queue.put(rows)

    def __exit__(self, *exc):
        if self.threaded:
            self.queue.put(None)
            self.thread.join()
            if self.error and not exc[0]:
                raise self.error

    def _consume(self):
        try:
            with connection.cursor() as cursor:
                # Only durability of the last moments before a crash is at stake, and a seed can be rerun.
                cursor.execute("SET synchronous_commit TO off")
            while (rows := self.queue.get()) is not None:
                if self.error is None:
                    _write_chunk(rows)
        except Exception as error:  # handed to the main thread, which re-raises it
            self.error = error
            while self.queue.get() is not None:
                pass
        finally:
            connection.close()


def _write_chunk(rows: Rows) -> None:
    with transaction.atomic():
        _write(Borrower, BORROWER_COLUMNS, rows.borrowers)
        _write(BorrowerContact, CONTACT_COLUMNS, rows.contacts)
        _write(Loan, LOAN_COLUMNS, rows.loans)
        _write(Installment, INSTALLMENT_COLUMNS, rows.installments)
        _write(Payment, PAYMENT_COLUMNS, rows.payments)
        _write(PaymentAllocation, ALLOCATION_COLUMNS, rows.allocations)


def _write(model, columns: list[str], rows: list) -> None:
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column_list = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                for start in range(0, len(rows), COPY_BLOCK_ROWS):
                    copy.write("".join(map(_copy_line, rows[start : start + COPY_BLOCK_ROWS])))
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})", rows)  # noqa: S608


class IndexesSetAside:
    """PostgreSQL bulk-load mode: drop the ledger tables' foreign keys and secondary indexes (everything
    but primary keys), load, then rebuild them from their saved definitions. Building an index once over
    millions of rows, and validating a foreign key with one join, is several times faster than
    maintaining them row by row. Only for a database nobody else is using (a fresh benchmark book)."""

    def __init__(self, models):
        self.tables = [model._meta.db_table for model in models]
        self.constraints = []
        self.indexes = []

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                   WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('f', 'u')""",
                [self.tables],
            )
            self.constraints = cursor.fetchall()
            cursor.execute(
                """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
                   WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
                [self.tables],
            )
            self.indexes = cursor.fetchall()
            for table, name, _definition in self.constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _definition in self.indexes:
                cursor.execute(f"DROP INDEX {name}")
        return self

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            for _name, definition in self.indexes:
                cursor.execute(definition)
            # Unique constraints first: foreign keys need the referenced columns' unique indexes.
            for table, name, definition in sorted(self.constraints, key=lambda item: "FOREIGN" in item[2]):
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


LEDGER_MODELS = [Borrower, BorrowerContact, Loan, Installment, Payment, PaymentAllocation]


COPY_BLOCK_ROWS = 20_000
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_line(row) -> str:
    """One row in COPY's text format. Formatting it here is several times faster than psycopg's
    per-value adaptation (write_row), which dominated the million-loan seed."""
    return (
        "\t".join(
            "\\N" if value is None else value.translate(_COPY_ESCAPES) if value.__class__ is str else str(value)
            for value in row
        )
        + "\n"
    )


def _reset_sequences() -> None:
    models = LEDGER_MODELS
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
        if connection.vendor == "postgresql":
            # Fresh statistics: the planner and the admin's estimated counts read them.
            for model in models:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
