"""Reads for the ledger: searches that stay on an index at millions of rows, and the reconcile check."""

import re
from decimal import Decimal

from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Upper

from creditops.core.money import ZERO, to_money

from .adjustments import adjusted_by_kind
from .allocation import COMPONENTS
from .models import Borrower, Installment, LedgerEntry, Loan, PenaltyEntry
from .settlements import settlement_paid_amount
from .write_off import written_off_summary

LOAN_REFERENCE = re.compile(r"^LN-\d{4}-\d{6,}$", re.IGNORECASE)
DIGITS = re.compile(r"^\d{5,20}$")
# Resident ID, unified social credit code or passport: letters and digits, at least one digit.
ID_NUMBER = re.compile(r"^(?=.*\d)[0-9A-Z]{5,20}$", re.IGNORECASE)


def normalise_phone(term: str, default_country_code: str = "86") -> str:
    """'13800138000' → '+8613800138000'; numbers already in +E.164 form are kept."""
    digits = term.lstrip("+")
    if term.startswith("+"):
        return "+" + digits
    if len(digits) == 11 and digits.startswith("1"):  # a mainland mobile number typed without +86
        return f"+{default_country_code}{digits}"
    return "+" + digits


def borrowers_matching(term: str) -> QuerySet:
    """Borrowers by exact ID number, exact phone, or name prefix — each answered from an index."""
    term = term.strip()
    if not term:
        return Borrower.objects.all()
    if term.startswith("+") and DIGITS.match(term[1:]):
        return Borrower.objects.filter(phone=normalise_phone(term))
    if DIGITS.match(term):  # a phone number typed without +, or an all-digit passport number
        return Borrower.objects.filter(Q(phone=normalise_phone(term)) | Q(id_number=term))
    if ID_NUMBER.match(term):
        return Borrower.objects.filter(id_number=term.upper())
    # Case-insensitive on every database, through the upper(name) and upper(name_latin) indexes.
    prefix = term.upper()
    return Borrower.objects.annotate(name_upper=Upper("name"), latin_upper=Upper("name_latin")).filter(
        Q(name_upper__startswith=prefix) | Q(latin_upper__startswith=prefix)
    )


def loans_matching(queryset: QuerySet, term: str) -> QuerySet:
    """Loans by exact reference, or by their borrower (ID number, phone, name prefix). A borrower match
    becomes `borrower_id IN (subquery)` so the database walks two indexes instead of scanning a join."""
    term = term.strip()
    if not term:
        return queryset
    if LOAN_REFERENCE.match(term):
        return queryset.filter(reference=term.upper())
    return queryset.filter(borrower_id__in=borrowers_matching(term).values("pk"))


def contacts_matching(queryset: QuerySet, term: str) -> QuerySet:
    term = term.strip()
    return queryset.filter(phone=normalise_phone(term)) if term else queryset


def payments_matching(queryset: QuerySet, term: str) -> QuerySet:
    term = term.strip()
    if not term:
        return queryset
    if LOAN_REFERENCE.match(term):
        return queryset.filter(loan__reference=term.upper())
    return queryset.filter(external_ref=term)


RECONCILE_CHECKS = {
    "installment_paid_equals_allocations": """
        SELECT i.id FROM lending_installment i
        LEFT JOIN (
            SELECT installment_id, SUM(principal_amount) AS principal, SUM(interest_amount) AS interest,
                   SUM(fee_amount) AS fee, SUM(penalty_amount) AS penalty
            FROM lending_paymentallocation GROUP BY installment_id
        ) a ON a.installment_id = i.id
        WHERE ROUND(i.principal_paid_amount - COALESCE(a.principal, 0), 2) <> 0
           OR ROUND(i.interest_paid_amount - COALESCE(a.interest, 0), 2) <> 0
           OR ROUND(i.fee_paid_amount - COALESCE(a.fee, 0), 2) <> 0
           OR ROUND(i.penalty_paid_amount - COALESCE(a.penalty, 0), 2) <> 0
        LIMIT %s
    """,
    "payment_allocations_equal_amount": """
        SELECT p.id FROM lending_payment p
        LEFT JOIN (
            SELECT payment_id,
                   SUM(principal_amount + interest_amount + fee_amount + penalty_amount) AS allocated
            FROM lending_paymentallocation GROUP BY payment_id
        ) a ON a.payment_id = p.id
        WHERE (p.status = 'posted'
               AND ROUND(COALESCE(a.allocated, 0) + p.unallocated_amount + p.refunded_amount - p.amount, 2) <> 0)
           OR (p.status = 'reversed' AND ROUND(COALESCE(a.allocated, 0), 2) <> 0)
        LIMIT %s
    """,
    "payment_refunded_equals_refunds": """
        SELECT p.id FROM lending_payment p
        LEFT JOIN (SELECT payment_id, SUM(amount) AS refunded FROM lending_paymentrefund GROUP BY payment_id) r
          ON r.payment_id = p.id
        WHERE ROUND(p.refunded_amount - COALESCE(r.refunded, 0), 2) <> 0
        LIMIT %s
    """,
    "installment_adjusted_equals_lines": """
        SELECT i.id FROM lending_installment i
        LEFT JOIN (
            SELECT installment_id, SUM(principal_amount) AS principal, SUM(interest_amount) AS interest,
                   SUM(fee_amount) AS fee, SUM(penalty_amount) AS penalty
            FROM lending_ledgerentryline GROUP BY installment_id
        ) a ON a.installment_id = i.id
        WHERE ROUND(i.principal_adjusted_amount - COALESCE(a.principal, 0), 2) <> 0
           OR ROUND(i.interest_adjusted_amount - COALESCE(a.interest, 0), 2) <> 0
           OR ROUND(i.fee_adjusted_amount - COALESCE(a.fee, 0), 2) <> 0
           OR ROUND(i.penalty_adjusted_amount - COALESCE(a.penalty, 0), 2) <> 0
        LIMIT %s
    """,
    "loan_written_off_equals_lines": """
        SELECT l.id FROM lending_loan l
        LEFT JOIN (
            SELECT e.loan_id,
                   SUM(x.principal_amount + x.interest_amount + x.fee_amount + x.penalty_amount) AS left_off
            FROM lending_ledgerentry e JOIN lending_ledgerentryline x ON x.entry_id = e.id
            WHERE e.kind IN ('write_off', 'recovery', 'write_off_undo') GROUP BY e.loan_id
        ) w ON w.loan_id = l.id
        WHERE ROUND(l.written_off_amount - COALESCE(w.left_off, 0), 2) <> 0
        LIMIT %s
    """,
    "loan_status_agrees_with_balances": """
        SELECT l.id FROM lending_loan l
        LEFT JOIN (
            SELECT loan_id, SUM(outstanding_amount) AS owed FROM lending_installment
            WHERE is_open GROUP BY loan_id
        ) o ON o.loan_id = l.id
        WHERE (l.status = 'active' AND COALESCE(o.owed, 0) = 0)
           OR (l.status <> 'active' AND COALESCE(o.owed, 0) > 0)
           OR (l.status = 'written_off' AND l.written_off_amount < 0)
        LIMIT %s
    """,
    "loan_credit_equals_unallocated": """
        SELECT l.id FROM lending_loan l
        LEFT JOIN (
            SELECT loan_id, SUM(unallocated_amount) AS credit FROM lending_payment
            WHERE status = 'posted' GROUP BY loan_id
        ) c ON c.loan_id = l.id
        WHERE ROUND(l.credit_balance_amount - COALESCE(c.credit, 0), 2) <> 0
        LIMIT %s
    """,
    "installment_penalty_equals_entries": """
        SELECT i.id FROM lending_installment i
        LEFT JOIN (
            SELECT installment_id, SUM(amount) AS amount, SUM(exact_amount) AS exact
            FROM lending_penaltyentry GROUP BY installment_id
        ) e ON e.installment_id = i.id
        WHERE ROUND(i.penalty_amount - COALESCE(e.amount, 0), 2) <> 0
           OR ROUND(i.penalty_exact_amount - COALESCE(e.exact, 0), 6) <> 0
        LIMIT %s
    """,
    # The entry table has no foreign-key constraints (see PenaltyEntry): this check stands in for them.
    "penalty_entry_installment_of_its_loan": """
        SELECT e.id FROM lending_penaltyentry e
        LEFT JOIN lending_installment i ON i.id = e.installment_id
        WHERE i.id IS NULL OR i.loan_id <> e.loan_id
        LIMIT %s
    """,
    "loan_penalty_equals_entries": """
        SELECT l.id FROM lending_loan l
        LEFT JOIN (
            SELECT loan_id, SUM(amount) AS amount FROM lending_penaltyentry WHERE kind <> 'carried' GROUP BY loan_id
        ) e ON e.loan_id = l.id
        WHERE ROUND(l.penalty_accrued_amount - COALESCE(e.amount, 0), 2) <> 0
        LIMIT %s
    """,
    # Restructuring closes the old schedule's principal and books it again, with the capitalised arrears.
    "schedule_principal_equals_loan": """
        SELECT l.id FROM lending_loan l
        JOIN (SELECT loan_id, SUM(principal_amount) AS principal FROM lending_installment GROUP BY loan_id) s
          ON s.loan_id = l.id
        LEFT JOIN (
            SELECT e.loan_id, SUM(x.principal_amount) AS closed
            FROM lending_ledgerentry e JOIN lending_ledgerentryline x ON x.entry_id = e.id
            WHERE e.kind = 'restructure' GROUP BY e.loan_id
        ) r ON r.loan_id = l.id
        WHERE ROUND(s.principal - COALESCE(r.closed, 0) - l.principal_amount - l.capitalised_amount, 2) <> 0
        LIMIT %s
    """,
}


def loan_outstanding_amount(loan_id: int) -> Decimal:
    """Everything the loan still owes, due or not (its unpaid installments, from their partial index)."""
    total = Installment.objects.filter(loan_id=loan_id, is_open=True).aggregate(total=Sum("outstanding_amount"))[
        "total"
    ]
    return to_money(total) if total is not None else ZERO  # SQLite sums decimals as binary floats


def ledger_mismatches(limit: int = 20) -> dict[str, list[int]]:
    """For each ledger invariant, up to `limit` ids of rows that break it (empty lists: all is well).
    Set-based SQL, one statement per invariant, so it runs on the whole book. Differences are rounded to
    cents because SQLite sums decimals as binary floats; on PostgreSQL the arithmetic is exact anyway."""
    found = {}
    with connection.cursor() as cursor:
        for name, sql in RECONCILE_CHECKS.items():
            cursor.execute(sql, [limit])
            found[name] = [row[0] for row in cursor.fetchall()]
    return found


PENALTY_ENTRIES_LIMIT = 30


def loan_penalty(loan: Loan, *, schedule=None, limit: int = PENALTY_ENTRIES_LIMIT) -> dict:
    """A loan's penalty interest as the case shows it: what was charged (net of removals), removed and
    paid, the pauses, and the latest entries (bounded: a long-overdue loan has one entry per installment
    a day). `schedule`, the loan's installments if the caller has them, saves a query."""
    totals = PenaltyEntry.by_loan(loan.pk).values("kind").annotate(total=Sum("amount")).order_by()
    by_kind = {row["kind"]: to_money(row["total"]) for row in totals}
    schedule = schedule if schedule is not None else list(loan.installments.all())
    pauses = list(loan.penalty_pauses.order_by("-started_on", "-id"))
    return {
        "charged": by_kind.get(PenaltyEntry.Kind.ACCRUAL, ZERO) + by_kind.get(PenaltyEntry.Kind.REMOVAL, ZERO),
        "removed": -by_kind.get(PenaltyEntry.Kind.REMOVAL, ZERO),
        "paid": sum((item.penalty_paid_amount for item in schedule), ZERO),
        "pauses": pauses,
        "open_pause": next((pause for pause in pauses if pause.ended_on is None), None),
        "entries": list(
            PenaltyEntry.by_loan(loan.pk).select_related("installment").order_by("-accrued_on", "-id")[:limit]
        ),
    }


ENTRIES_LIMIT = 30
WAIVED_KINDS = (LedgerEntry.Kind.WAIVER, LedgerEntry.Kind.SETTLEMENT_DISCOUNT)


def loan_adjustments(loan: Loan, *, schedule: list) -> dict:
    """What ledger entries did to a loan, as the case shows it: each installment of `schedule` gets
    `waived`, `written_off` and `restructured` (what entries of that kind close of it now); then the
    waived totals per part, the latest entries, its settlements, restructurings and write-off. A loan
    without entries costs two queries."""
    entries = list(loan.ledger_entries.order_by("-effective_on", "-id")[:ENTRIES_LIMIT])
    by_kind = adjusted_by_kind(loan) if entries else {}
    waived = dict.fromkeys(COMPONENTS, ZERO)
    for item in schedule:
        kinds = by_kind.get(item.pk, {})
        item.waived = _kinds_total(kinds, WAIVED_KINDS)
        item.written_off = _kinds_total(kinds, LedgerEntry.WRITE_OFF_KINDS)
        item.restructured = _kinds_total(kinds, [LedgerEntry.Kind.RESTRUCTURE])
        for kind in WAIVED_KINDS:
            for part, amount in kinds.get(kind, {}).items():
                waived[part] += amount
    settlements = list(loan.settlements.prefetch_related("instalments").order_by("-id")[:5])
    for settlement in settlements:
        settlement.paid = settlement_paid_amount(settlement)
    ever_written_off = loan.written_off_on or (
        entries and loan.ledger_entries.filter(kind=LedgerEntry.Kind.WRITE_OFF).exists()
    )
    return {
        "waived": waived,
        "waived_total": sum(waived.values(), ZERO),
        "entries": entries,
        "settlements": settlements,
        "active_settlement": next((s for s in settlements if s.status == s.Status.ACTIVE), None),
        "restructurings": list(loan.restructurings.order_by("-effective_on", "-id")) if loan.restructure_count else [],
        "write_off": written_off_summary(loan) if ever_written_off else None,
    }


def _kinds_total(kinds: dict, wanted) -> Decimal:
    return sum((sum(kinds[kind].values(), ZERO) for kind in wanted if kind in kinds), ZERO)
