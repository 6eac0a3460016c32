"""Money is Decimal, rounded to cents ROUND_HALF_UP in exactly one place: here."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

from .errors import DomainError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Round any number (Decimal, int or numeric string) to cents, half up unless told otherwise.
    Floats are refused."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a Decimal or a string")
    rounded = Decimal(value).quantize(CENT, rounding=rounding)
    return rounded.copy_abs() if rounded.is_zero() else rounded  # never "-0.00"


def format_money(amount, currency: str | None = None) -> str:
    """'1,234.50 CNY': the one way every screen, message and export for people writes an amount —
    thousands separated, two decimals, the currency (the book's default when none is given)."""
    if amount in (None, ""):
        return "—"
    text = f"{to_money(amount):,.2f}"
    return f"{text} {currency or default_currency()}"


def default_currency() -> str:
    return settings.CREDITOPS["DEFAULT_CURRENCY"]


def positive_whole_cents(value, *, code: str, message: str) -> Decimal:
    """The value as a Decimal if it is a positive amount in whole cents; a DomainError with `code` and
    `message` otherwise (text that is not a number, NaN and Infinity included)."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise DomainError(message, code=code) from None
    if not (amount.is_finite() and amount > 0 and to_money(amount) == amount):
        raise DomainError(message, code=code)
    return to_money(amount)  # "500" becomes 500.00


def rate_as_percent(rate: Decimal) -> str:
    """A rate as per cent, trailing zeros dropped: 0.0005 → "0.05", 0.24 → "24"."""
    return format((Decimal(rate) * 100).normalize(), "f")
