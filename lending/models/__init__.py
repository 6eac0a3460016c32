"""The ledger's models: borrowers, products, loans, schedules and payments (ledger.py), penalty interest
(penalty.py), entries that change what is owed without money (entries.py) and the settlements and
restructurings that end or replace a schedule (arrangements.py)."""

from .arrangements import Restructuring, Settlement, SettlementInstalment
from .entries import Component, CreditRefund, LedgerEntry, LedgerEntryLine, PaymentRefund
from .ledger import (
    PENALTY_TERM_FIELDS,
    Borrower,
    BorrowerContact,
    GraceRule,
    Installment,
    Loan,
    MoneyField,
    Payment,
    PaymentAllocation,
    PenaltyBase,
    Product,
    RateField,
    default_cost_cap,
    default_currency,
)
from .penalty import PenaltyEntry, PenaltyPause, PenaltyTerms

__all__ = [
    "PENALTY_TERM_FIELDS", "Borrower", "BorrowerContact", "Component", "CreditRefund",
    "GraceRule", "Installment", "LedgerEntry", "LedgerEntryLine", "Loan", "MoneyField", "Payment",
    "PaymentAllocation", "PaymentRefund", "PenaltyBase", "PenaltyEntry", "PenaltyPause", "PenaltyTerms", "Product",
    "RateField", "Restructuring", "Settlement", "SettlementInstalment", "default_cost_cap", "default_currency",
]  # fmt: skip
