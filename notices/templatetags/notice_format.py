"""Formatting for notices: how a stored figure or ISO date is written in the notice's language. No
arithmetic happens here; the numbers come computed in the notice's data."""

import datetime
from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def amount(value: str) -> str:
    """ "12345.6" → "12,345.60"."""
    return f"{Decimal(value):,.2f}"


@register.filter
def notice_date(value: str, language: str) -> str:
    """An ISO date written as the notice's language writes it: 2026年12月05日 / 5 December 2026."""
    day = datetime.date.fromisoformat(value)
    if language == "zh-hans":
        return f"{day.year}年{day.month:02d}月{day.day:02d}日"
    return f"{day.day} {day:%B %Y}"
