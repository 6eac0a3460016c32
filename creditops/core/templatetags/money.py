"""The one money format on every page: `{{ amount|money:currency }}` → '1,234.50 CNY'."""

from django import template

from creditops.core.money import format_money, rate_as_percent

register = template.Library()


@register.filter
def money(amount, currency: str = "") -> str:
    """1234.5 → '1,234.50 CNY' (the book's default currency when none is given)."""
    return format_money(amount, currency)


@register.filter
def percent(rate) -> str:
    """0.0005 → '0.05 %' (a rate stored as a fraction, shown as per cent)."""
    return f"{rate_as_percent(rate)} %"
