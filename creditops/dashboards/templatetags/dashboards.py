"""How the dashboard prints its figures: money with separators, rates as percentages, signed changes."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.translation import pgettext

from creditops.core.money import format_money

register = template.Library()


@register.filter
def figure(value, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{_percent(value)} %"
    if kind == "money":
        return format_money(value)
    return f"{value:,}"


@register.filter
def change(value, kind: str) -> str:
    """+1.20 pp for rates (percentage points), +1,234.00 for money, +3 for counts; — when unknown."""
    if value is None:
        return "—"
    if kind == "rate":
        points = _percent(value)
        unit = pgettext("percentage points", "pp")
        return f"{'+' if points >= 0 else ''}{points} {unit}"
    if kind == "money":
        return ("+" if value >= 0 else "−") + format_money(abs(value))
    return f"{value:+,}"


def _percent(value) -> Decimal:
    """A rate as a percentage to two places, rounded half-up like every amount in CreditOps."""
    return (Decimal(value) * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
