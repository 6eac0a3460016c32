"""The payment waterfall, a pure function shared by payment posting and the demo/benchmark seeder."""

from dataclasses import dataclass, field
from decimal import Decimal

from creditops.core.money import ZERO

COMPONENTS = ("penalty", "fee", "interest", "principal")
DEFAULT_WATERFALL = "penalty,fee,interest,principal"


@dataclass
class OpenInstallment:
    """What is still owed on one installment, per component."""

    key: object
    outstanding: dict[str, Decimal]


@dataclass
class AllocationLine:
    key: object
    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, ZERO))

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)


def parse_waterfall(text: str) -> tuple[str, ...]:
    order = tuple(part.strip() for part in text.split(",") if part.strip())
    if sorted(order) != sorted(COMPONENTS):
        raise ValueError(f"a waterfall names each of {', '.join(COMPONENTS)} exactly once")
    return order


def allocate(amount: Decimal, installments: list[OpenInstallment], waterfall: tuple[str, ...]):
    """Spread `amount` over `installments` (oldest first, as given), each installment's components in
    waterfall order. Returns (lines, excess): the lines sum to `amount - excess`; excess is what is left
    once everything is paid, which becomes the loan's credit balance."""
    remaining = amount
    lines = []
    for installment in installments:
        if remaining <= 0:
            break
        line = AllocationLine(key=installment.key)
        for component in waterfall:
            applied = min(remaining, installment.outstanding[component])
            if applied > 0:
                line.amounts[component] = applied
                remaining -= applied
        if line.total > 0:
            lines.append(line)
    return lines, remaining


def outstanding_parts(installment) -> dict[str, Decimal]:
    """What is still owed of each part of an installment (anything with the model's amount fields): due,
    less paid, less what ledger entries closed (waived, written off, restructured)."""
    return {
        part: getattr(installment, f"{part}_amount")
        - getattr(installment, f"{part}_paid_amount")
        - getattr(installment, f"{part}_adjusted_amount")
        for part in COMPONENTS
    }
