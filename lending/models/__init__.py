"""The ledger's models: borrowers, products, loans, schedules and payments (ledger.py), and penalty
interest (penalty.py)."""

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
    "PENALTY_TERM_FIELDS", "Borrower", "BorrowerContact", "GraceRule", "Installment", "Loan", "MoneyField",
    "Payment", "PaymentAllocation", "PenaltyBase", "PenaltyEntry", "PenaltyPause", "PenaltyTerms", "Product",
    "RateField", "default_cost_cap", "default_currency",
]  # fmt: skip
