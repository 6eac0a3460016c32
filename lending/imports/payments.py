"""The bank payment file: validate every row, then post the whole file set-based, or nothing.

Layout (CSV or XLSX, header in row 1; column names are case-insensitive):

    loan_reference   LN-2026-000123 — an existing loan
    external_ref     the bank's reference for the payment, at most 64 characters; unique per source
    amount           1066.19 — positive, at most 2 decimal places, no thousands separators or currency
    received_on      2026-11-28 or 2026/11/28 — not after today (the lender's business date)
    channel          optional column: bank_transfer (when empty), alipay, wechat_pay, card, cash, auto_debit

The source (e.g. "bank_file") is not a column: it names the whole file's origin and comes from the caller.

Posting the file gives exactly what `payment_post` gives for the same payments posted one by one in the
order (received_on, row): the same allocations by each product's waterfall, credit balances and
settlements. It is set-based instead — a few statements per 5,000 rows rather than ~10 per payment — so a
bank file of 100,000 payments posts in well under a minute (bench/README.md §7).
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field, fields
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from accounts.models import AuditEvent
from accounts.services import audit_record
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from creditops.core.money import ZERO

from ..allocation import COMPONENTS, OpenInstallment, allocate, outstanding_parts
from ..models import Installment, LedgerEntry, Loan, Payment, PaymentAllocation, PenaltyEntry, Product, Settlement
from ..penalty_replay import penalty_replay, replay_since
from ..services import EXTERNAL_REF_MAX_LENGTH, SOURCE_MAX_LENGTH, payment_date_check, payment_post
from ..settlements import settlement_check
from ..signals import payments_imported
from .bulk import chunked, objects_insert, one_of, rows_insert, rows_update
from .cells import CellError, date_value, parse_cells, positive_amount, quoted
from .files import Columns, Row
from .report import Duplicate, ImportReport

COLUMNS = Columns(required=("loan_reference", "external_ref", "amount", "received_on"), optional=("channel",))
DEFAULT_SOURCE = "bank_file"
DEFAULT_CHANNEL = Payment.Channel.BANK_TRANSFER
CHANNELS = frozenset(Payment.Channel.values)
AMOUNT_FIELDS = [f"{part}_amount" for part in COMPONENTS]
PAID_FIELDS = [f"{part}_paid_amount" for part in COMPONENTS]
# Loans posted together: their installments are read, allocated and written at once.
LOANS_PER_CHUNK = 5_000
# Loans whose payments are posted one by one through payment_post (see _post).
ONE_BY_ONE_STATUSES = (Loan.Status.WRITTEN_OFF, Loan.Status.SETTLED_WITH_DISCOUNT)
# Unpaid installments read per loan at first (PostgreSQL); a loan whose payments in the file reach further
# is read whole.
FIRST_READ = 3


@dataclass
class PaymentRow:
    """One row of the file; a cell that did not parse stays None and the row is not `valid`."""

    row: int
    valid: bool
    loan_reference: str | None = None
    external_ref: str | None = None
    amount: Decimal | None = None
    received_on: datetime.date | None = None
    channel: str | None = None
    loan_id: int | None = None

    def same_payment(self, loan_id, amount, received_on) -> bool:
        """What `payment_post` compares to tell a replay from a conflict."""
        return (self.loan_id, self.amount, self.received_on) == (loan_id, amount, received_on)

    def preview(self) -> dict:
        return {
            "row": self.row, "loan_reference": self.loan_reference, "external_ref": self.external_ref,
            "amount": self.amount, "received_on": self.received_on, "channel": self.channel,
        }  # fmt: skip


@dataclass(slots=True)
class OpenItem:
    """An unpaid installment as read under the loan's lock, with the same field names as the model, so that
    the posting service's own reading of what is still owed (allocation.outstanding_parts) applies to it and
    the two ways of posting cannot drift apart. `outstanding` is kept up to date as payments are applied.
    The order of the fields is the order the installment's columns are read in (ITEM_FIELDS)."""

    pk: int
    penalty_amount: Decimal
    fee_amount: Decimal
    interest_amount: Decimal
    principal_amount: Decimal
    penalty_paid_amount: Decimal
    fee_paid_amount: Decimal
    interest_paid_amount: Decimal
    principal_paid_amount: Decimal
    penalty_adjusted_amount: Decimal
    fee_adjusted_amount: Decimal
    interest_adjusted_amount: Decimal
    principal_adjusted_amount: Decimal
    outstanding: dict[str, Decimal] = field(init=False)
    changed: bool = field(default=False, init=False)

    def __post_init__(self):
        self.outstanding = outstanding_parts(self)

    @property
    def owes(self) -> bool:
        return any(value > 0 for value in self.outstanding.values())

    def pay(self, amounts: dict[str, Decimal]) -> None:
        for part, amount in amounts.items():
            paid_field = f"{part}_paid_amount"
            setattr(self, paid_field, getattr(self, paid_field) + amount)
            self.outstanding[part] -= amount
        self.changed = True


ITEM_FIELDS = [item_field.name for item_field in fields(OpenItem) if item_field.init]


@dataclass
class LoanLedger:
    """One locked loan: what posting changes on it, and its unpaid installments in waterfall order — the
    first ones only, as many as the file's payments on it can reach; `unread` counts the others."""

    pk: int
    reference: str
    status: str
    settled_on: datetime.date | None
    credit_balance_amount: Decimal
    waterfall: tuple[str, ...]
    items: list[OpenItem] = field(default_factory=list)
    unread: int = 0

    def __post_init__(self):
        self.as_read = self.loan_fields()

    def loan_fields(self) -> tuple:
        return self.credit_balance_amount, self.status, self.settled_on

    def owes_anything(self) -> bool:
        return self.unread > 0 or any(item.owes for item in self.items)


def payments_import(
    *, rows: list[Row], source: str = DEFAULT_SOURCE, actor=None, dry_run: bool, file_name: str = ""
) -> ImportReport:
    """Validate the file's rows and, unless `dry_run` or any row is bad, post them all in one transaction.
    Payments already posted under the same (source, external_ref) with the same loan, amount and date are
    reported and skipped; with other details the file is rejected."""
    report = ImportReport(resource="payments", file_name=file_name, dry_run=dry_run, rows_read=len(rows))
    source = source.strip()
    if not source or len(source) > SOURCE_MAX_LENGTH:
        message = _("The source must be 1 to %(max)d characters.") % {"max": SOURCE_MAX_LENGTH}
        report.file_errors.append(message)
        return report
    parsed = _parsed(rows, report)
    try:
        with transaction.atomic():
            _resolve_loans(parsed, report)
            # Lock before looking for earlier postings, as payment_post does: a payment posted on these
            # loans meanwhile is then seen, and none can be posted between this check and the writes.
            ledgers = {} if dry_run else _locked_ledgers({row.loan_id for row in parsed if row.valid})
            to_post = _without_duplicates(parsed, source, report)
            if not report.ok:
                return report
            report.created = len(to_post)
            for row in to_post:
                report.add_preview(row.preview())
            if not dry_run:
                _post(to_post, ledgers, source=source, actor=actor, file_name=file_name, report=report)
    except IntegrityError:
        # A reference of the file posted meanwhile on a loan outside it (the locks cover only the file's
        # loans) breaks the unique constraint; anything else is a bug, not a report.
        if not _already_posted(source, [row.external_ref for row in parsed if row.valid]):
            raise
        report.created = 0
        report.file_errors.append(
            _("A payment with one of these references was posted while the file was being imported; nothing was "
              "posted. Load the file again.")
        )  # fmt: skip
    return report


# -- validation --------------------------------------------------------------------------------------


def _parsed(rows: list[Row], report: ImportReport) -> list[PaymentRow]:
    """Every row, each bad cell reported. Rows with bad cells are kept, so that their loan references are
    still checked: the report names every problem of the file at once."""
    parsed = []
    for row in rows:
        values, valid = parse_cells(row, PARSERS, report)
        parsed.append(PaymentRow(row=row.number, valid=valid, **values))
    return parsed


def _loan_reference(text: str) -> str:
    if not text:
        raise CellError(_("The loan reference is missing."))
    return text.upper()


def _external_ref(text: str) -> str:
    if not text:
        raise CellError(_("The external reference is missing."))
    if len(text) > EXTERNAL_REF_MAX_LENGTH:
        raise CellError(
            _("The external reference is longer than %(max)d characters.") % {"max": EXTERNAL_REF_MAX_LENGTH}
        )
    return text


def _amount(text: str) -> Decimal:
    if not text:
        raise CellError(_("The amount is missing."))
    return positive_amount(text)


def _received_on(text: str) -> datetime.date:
    if not text:
        raise CellError(_("The date is missing."))
    return date_value(text)


def _channel(text: str) -> str:
    channel = text.lower() or DEFAULT_CHANNEL
    if channel not in CHANNELS:
        message = _("%(value)s is not a channel; use one of %(channels)s.")
        raise CellError(message % {"value": quoted(text), "channels": ", ".join(Payment.Channel.values)})
    return channel


PARSERS = {
    "loan_reference": _loan_reference,
    "external_ref": _external_ref,
    "amount": _amount,
    "received_on": _received_on,
    "channel": _channel,
}


def _resolve_loans(parsed: list[PaymentRow], report: ImportReport) -> None:
    """Each row's loan, and its date checked against the loan's life (payment_date_check, as when posted
    by hand)."""
    named = [row for row in parsed if row.loan_reference is not None]
    loans = {}
    for chunk in chunked(sorted({row.loan_reference for row in named})):
        loans.update(
            (reference, (pk, disbursed_on))
            for reference, pk, disbursed_on in Loan.objects.filter(one_of("reference", chunk)).values_list(
                "reference", "pk", "disbursed_on"
            )
        )
    today = business_today()
    for row in parsed:
        row.loan_id, disbursed_on = loans.get(row.loan_reference, (None, None))
        if row.loan_reference is not None and row.loan_id is None:
            report.add_error(row.row, "loan_reference", _("No loan has this reference."))
            row.valid = False
        if row.received_on is None:
            continue
        try:
            payment_date_check(received_on=row.received_on, disbursed_on=disbursed_on, today=today)
        except DomainError as error:
            report.add_error(row.row, "received_on", error.message)
            row.valid = False


def _without_duplicates(parsed: list[PaymentRow], source: str, report: ImportReport) -> list[PaymentRow]:
    """The rows to post. A payment already posted, or repeated in the file with the same loan, amount and
    date, is reported and skipped; the same reference with other details is an error."""
    candidates = [row for row in parsed if row.valid]
    posted = _already_posted(source, [row.external_ref for row in candidates])
    first_rows: dict[str, PaymentRow] = {}
    to_post = []
    for row in candidates:
        if row.external_ref in posted:
            payment_id, *details = posted[row.external_ref]
            if row.same_payment(*details):
                report.duplicates.append(Duplicate(row.row, row.external_ref, payment_id=payment_id))
            else:
                message = _("Reference %(reference)s was already posted (payment %(payment)d) with other details.")
                report.add_error(
                    row.row, "external_ref", message % {"reference": row.external_ref, "payment": payment_id}
                )
        elif row.external_ref in first_rows:
            first = first_rows[row.external_ref]
            if row.same_payment(first.loan_id, first.amount, first.received_on):
                report.duplicates.append(Duplicate(row.row, row.external_ref, first_row=first.row))
            else:
                message = _("Reference %(reference)s is also in row %(row)d with other details.")
                report.add_error(row.row, "external_ref", message % {"reference": row.external_ref, "row": first.row})
        else:
            first_rows[row.external_ref] = row
            to_post.append(row)
    return to_post


def _already_posted(source: str, references: list[str]) -> dict[str, tuple]:
    """external_ref → (payment id, loan id, amount, received_on) of the payments already posted."""
    posted = {}
    for chunk in chunked(sorted(set(references))):
        existing = Payment.objects.filter(one_of("external_ref", chunk), source=source)
        for reference, *details in existing.values_list("external_ref", "pk", "loan_id", "amount", "received_on"):
            posted[reference] = tuple(details)
    return posted


# -- posting -----------------------------------------------------------------------------------------


def _locked_ledgers(loan_ids) -> dict[int, LoanLedger]:
    """Lock the loans, in id order (as every writer does, so two imports cannot deadlock), and read what
    posting changes on them. Their installments are read later, a chunk of loans at a time."""
    waterfalls = {product.pk: product.waterfall for product in Product.objects.only("allocation_waterfall")}
    ledgers = {}
    for chunk in chunked(sorted(loan_ids)):
        locked = (
            Loan.objects.select_for_update(of=("self",))
            .filter(one_of("pk", chunk))
            .order_by("pk")
            .values_list("pk", "reference", "status", "settled_on", "credit_balance_amount", "product_id")
        )
        for pk, reference, status, settled_on, credit, product_id in locked:
            ledgers[pk] = LoanLedger(pk, reference, status, settled_on, credit, waterfalls[product_id])
    return ledgers


def _read_installments(ledgers: dict[int, LoanLedger], paid_by_loan: dict[int, Decimal]) -> None:
    """The loans' unpaid installments, oldest first as payment_post reads them — on PostgreSQL only as far
    as the file's payments on each loan can reach: a loan has ten unpaid installments on average and a
    payment usually reaches one (bench/README.md §7: a seventh of the database time, a third of the rows)."""
    _read_unpaid(ledgers, list(ledgers), first_only=connection.vendor == "postgresql")
    short = [
        ledger.pk
        for ledger in ledgers.values()
        if ledger.unread and sum(sum(item.outstanding.values()) for item in ledger.items) < paid_by_loan[ledger.pk]
    ]
    if short:
        _read_unpaid(ledgers, short, first_only=False)


def _read_unpaid(ledgers: dict[int, LoanLedger], loan_ids: list[int], *, first_only: bool) -> None:
    for loan_id in loan_ids:
        ledgers[loan_id].items, ledgers[loan_id].unread = [], 0
    if first_only:
        rows = _first_unpaid_rows(loan_ids)
    else:
        rows = (
            Installment.objects.filter(one_of("loan_id", loan_ids), is_open=True)
            .order_by("loan_id", "due_date", "sequence")
            .values_list("loan_id", *ITEM_FIELDS)
        )
    for loan_id, *values in rows:
        ledger = ledgers[loan_id]
        if first_only and len(ledger.items) == FIRST_READ:
            ledger.unread = 1  # at least one more, not read
        else:
            ledger.items.append(OpenItem(*values))


def _first_unpaid_rows(loan_ids: list[int]) -> list[tuple]:
    """(loan id, *ITEM_FIELDS) of each loan's FIRST_READ + 1 oldest unpaid installments: one short range of
    the unpaid-installments index per loan (a LATERAL join, which the ORM cannot express)."""
    quote = connection.ops.quote_name
    model_fields = [Installment._meta.pk if name == "pk" else Installment._meta.get_field(name) for name in ITEM_FIELDS]
    columns = ", ".join(f"i.{quote(model_field.column)}" for model_field in model_fields)
    sql = f"""
        SELECT l.id, {columns} FROM unnest(%s::bigint[]) AS l(id)
        CROSS JOIN LATERAL (
            SELECT * FROM {quote(Installment._meta.db_table)}
            WHERE loan_id = l.id AND is_open ORDER BY due_date, sequence LIMIT %s
        ) AS i
        ORDER BY l.id, i.due_date, i.sequence
    """  # noqa: S608 - only the model's own quoted table and column names are formatted in
    with connection.cursor() as cursor:
        cursor.execute(sql, [loan_ids, FIRST_READ + 1])
        return cursor.fetchall()


def _post(rows: list[PaymentRow], ledgers: dict[int, LoanLedger], *, source, actor, file_name, report) -> None:
    """Post the rows in the order (received_on, row), a chunk of loans at a time so that only one chunk's
    installments are ever in memory. Payments on loans closed by an entry (written off: they are
    recoveries; settled with discount) are rare and go through payment_post one by one."""
    closed = {pk for pk, ledger in ledgers.items() if ledger.status in ONE_BY_ONE_STATUSES}
    one_by_one = sorted((row for row in rows if row.loan_id in closed), key=_posting_order)
    rows = [row for row in rows if row.loan_id not in closed]
    loan_chunks = list(chunked(sorted({row.loan_id for row in rows}), LOANS_PER_CHUNK))
    chunk_of_loan = {loan_id: number for number, loan_ids in enumerate(loan_chunks) for loan_id in loan_ids}
    rows_of_chunk = [[] for _loan_ids in loan_chunks]
    for row in sorted(rows, key=_posting_order):
        rows_of_chunk[chunk_of_loan[row.loan_id]].append(row)
    posted = []
    for loan_ids, chunk_rows in zip(loan_chunks, rows_of_chunk, strict=True):
        chunk = {loan_id: ledgers[loan_id] for loan_id in loan_ids}
        paid_by_loan = defaultdict(Decimal)
        for row in chunk_rows:
            paid_by_loan[row.loan_id] += row.amount
        _read_installments(chunk, paid_by_loan)
        posted += zip(chunk_rows, _post_chunk(chunk_rows, chunk, source, actor), strict=True)
        _write_ledgers(chunk.values())
    payments = [payment for _row, payment in sorted(posted, key=lambda pair: _posting_order(pair[0]))]
    _replay_late_money(payments, actor)
    _check_settlements({payment.loan_id for payment in payments}, actor)
    singles = [_post_one(row, source, actor) for row in one_by_one]
    _audit_file(payments + singles, actor=actor, source=source, file_name=file_name, report=report)
    payments_imported.send(sender=Payment, payments=payments, actor=actor)


def _post_one(row: PaymentRow, source: str, actor) -> Payment:
    payment, _created = payment_post(
        loan=Loan.objects.get(pk=row.loan_id), source=source, external_ref=row.external_ref,
        amount=row.amount, received_on=row.received_on, channel=row.channel, actor=actor,
    )  # fmt: skip
    return payment


def _check_settlements(loan_ids: set[int], actor) -> None:
    """A loan with a settlement waiting for payment settles with discount once the file paid it."""
    for chunk in chunked(sorted(loan_ids)):
        waiting = Settlement.objects.filter(one_of("loan_id", chunk), status=Settlement.Status.ACTIVE)
        for loan_id in waiting.values_list("loan_id", flat=True):
            settlement_check(loan_id=loan_id, actor=actor)


def _replay_late_money(payments: list[Payment], actor) -> None:
    """Money received before days already charged with penalty, before a payment posted earlier or before a
    waiver of a later day re-plays its loan from that date (as payment_post does, lending/penalty_replay.py).
    Which loans need it is read for a chunk of loans at a time; the replays themselves are per loan."""
    first_of_loan: dict[int, Payment] = {}
    for payment in payments:  # in received order
        first_of_loan.setdefault(payment.loan_id, payment)
    first_id_of_file = min((payment.pk for payment in payments), default=0)
    for loan_ids in chunked(sorted(first_of_loan)):
        charged_through = dict(
            PenaltyEntry.objects.filter(one_of("loan_id", loan_ids), kind=PenaltyEntry.Kind.ACCRUAL)
            .filter(removals__isnull=True)
            .values("loan_id")
            .annotate(last=Max("accrued_on"))
            .order_by()
            .values_list("loan_id", "last")
        )
        received_through = dict(
            Payment.objects.filter(one_of("loan_id", loan_ids), pk__lt=first_id_of_file)
            .values("loan_id")
            .annotate(last=Max("received_on"))
            .order_by()
            .values_list("loan_id", "last")
        )
        waived_through = dict(
            LedgerEntry.objects.filter(one_of("loan_id", loan_ids), kind=LedgerEntry.Kind.WAIVER)
            .values("loan_id")
            .annotate(last=Max("effective_on"))
            .order_by()
            .values_list("loan_id", "last")
        )
        for loan_id in loan_ids:
            first = first_of_loan[loan_id]
            later = (charged_through.get(loan_id), received_through.get(loan_id), waived_through.get(loan_id))
            if any(day and day > first.received_on for day in later):
                since = replay_since(loan_id, first.received_on)
                penalty_replay(loan_id=loan_id, since=since, cause=first, actor=actor)


def _posting_order(row: PaymentRow):
    return row.received_on, row.row


def _post_chunk(rows: list[PaymentRow], ledgers: dict[int, LoanLedger], source, actor) -> list[Payment]:
    posted_by_id = actor.pk if actor is not None and actor.is_authenticated else None
    payments, lines_of_payments = [], []
    for row in rows:
        lines, excess = _allocate(ledgers[row.loan_id], row.amount, row.received_on)
        payments.append(
            Payment(
                loan_id=row.loan_id, source=source, external_ref=row.external_ref, amount=row.amount,
                received_on=row.received_on, channel=row.channel, unallocated_amount=excess, posted_by_id=posted_by_id,
            )
        )  # fmt: skip
        lines_of_payments.append(lines)
    objects_insert(Payment, payments)
    rows_insert(
        PaymentAllocation,
        ["payment_id", "installment_id", *AMOUNT_FIELDS],
        (
            (payment.pk, line.key.pk, *(line.amounts[part] for part in COMPONENTS))
            for payment, lines in zip(payments, lines_of_payments, strict=True)
            for line in lines
        ),
    )
    _audit_payments(payments, ledgers, actor)
    return payments


def _allocate(ledger: LoanLedger, amount: Decimal, received_on: datetime.date):
    """Post one payment on the in-memory ledger exactly as payment_post posts it on the database."""
    reachable, covered = [], ZERO
    for item in ledger.items:
        if covered >= amount:
            break  # allocate() would stop before this installment: leave the rest out of its list
        if item.owes:
            reachable.append(OpenInstallment(key=item, outstanding=item.outstanding))
            covered += sum(item.outstanding.values())
    lines, excess = allocate(amount, reachable, ledger.waterfall)
    for line in lines:
        line.key.pay(line.amounts)
    ledger.credit_balance_amount += excess
    _settle(ledger, received_on, owes_anything=ledger.owes_anything())
    return lines, excess


def _settle(ledger: LoanLedger, on: datetime.date, *, owes_anything: bool) -> None:
    """posting.refresh_settlement on the in-memory ledger: the payment that pays the last installment
    settles the loan on its date (loans closed by an entry never come here)."""
    if owes_anything:
        ledger.status, ledger.settled_on = Loan.Status.ACTIVE, None
    elif ledger.status != Loan.Status.SETTLED:
        ledger.status, ledger.settled_on = Loan.Status.SETTLED, on


def _write_ledgers(ledgers) -> None:
    items = [item for ledger in ledgers for item in ledger.items if item.changed]
    rows_update(Installment, PAID_FIELDS, [(item.pk, *(getattr(item, name) for name in PAID_FIELDS)) for item in items])
    # Most payments change nothing on the loan row itself (no excess, no settlement): those are not rewritten.
    changed = [(ledger.pk, *ledger.loan_fields()) for ledger in ledgers if ledger.loan_fields() != ledger.as_read]
    rows_update(Loan, ["credit_balance_amount", "status", "settled_on"], changed)
    for ledger in ledgers:
        ledger.items = []  # written: let the chunk's installments go


def _audit_payments(payments, ledgers, actor) -> None:
    """The same payment.posted event per payment as payment_post records — the rows audit_record_many
    writes, streamed in by rows_insert instead: 100,000 events through bulk_create would take a third of
    the time the whole file may."""
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    rows_insert(
        AuditEvent,
        ["actor_id", "event", "subject_type", "subject_id", "detail"],
        (
            (
                actor_id, "payment.posted", Payment._meta.label_lower, str(payment.pk),
                {
                    "loan": ledgers[payment.loan_id].reference,
                    "amount": str(payment.amount),
                    "to_credit": str(payment.unallocated_amount),
                },
            )
            for payment in payments
        ),
    )  # fmt: skip


def _audit_file(payments, *, actor, source, file_name, report) -> None:
    detail = {
        "file": file_name, "source": source, "rows": report.rows_read, "posted": len(payments),
        "duplicates": len(report.duplicates),
        "amount": str(sum((payment.amount for payment in payments), ZERO)),
    }  # fmt: skip
    audit_record(actor=actor, event="payments.imported", detail=detail)
