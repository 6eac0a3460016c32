"""Reading one cell's text as a typed value; a CellError's message says what is wrong with it."""

import datetime
import re
from decimal import Decimal

from django.utils.translation import gettext as _

from creditops.core.money import to_money

from .files import Row
from .report import ImportReport

# ASCII digits only: Decimal() would also accept "1e3", "NaN" and digits of other scripts.
DECIMAL_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
WHOLE_NUMBER_TEXT = re.compile(r"[0-9]+")
# Year first, so a date is never ambiguous: 2026-11-28 or 2026/11/28.
DATE_TEXT = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})")
# A money column holds up to 18 digits of which 2 are cents.
MAX_AMOUNT = Decimal(10) ** 16
# Whole-number columns (term in months) are small; more digits than this is a typing mistake.
MAX_WHOLE_NUMBER_DIGITS = 9
# Dates outside these years are typing mistakes, and a schedule 30 years on must still be a date.
YEARS = range(1900, 2200)


class CellError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def parse_cells(row: Row, parsers: dict, report: ImportReport) -> tuple[dict, bool]:
    """The row's cells read by `parsers` (column → function of the text), each bad cell reported.
    Returns (the values of the good cells, whether every cell was good)."""
    values, valid = {}, True
    for column, parse in parsers.items():
        try:
            values[column] = parse(row.cells.get(column, ""))
        except CellError as error:
            report.add_error(row.number, column, error.message)
            valid = False
    return values, valid


def positive_amount(text: str) -> Decimal:
    """A positive amount in whole cents: '1066.19', '500', '500.00'."""
    if not DECIMAL_TEXT.fullmatch(text):
        message = _("%(value)s is not an amount: write digits with a decimal point, without separators or currency.")
        raise CellError(message % {"value": quoted(text)})
    amount = Decimal(text)
    if amount < 0:
        raise CellError(_("The amount is negative; only money received can be imported."))
    if amount == 0:
        raise CellError(_("The amount is zero."))
    if amount >= MAX_AMOUNT:  # first: rounding a number of 29 digits or more fails
        raise CellError(_("The amount is too large."))
    if to_money(amount) != amount:
        raise CellError(_("The amount has more than 2 decimal places."))
    return to_money(amount)


def date_value(text: str) -> datetime.date:
    """A date written YYYY-MM-DD or YYYY/MM/DD (an XLSX date cell arrives as YYYY-MM-DD)."""
    match = DATE_TEXT.fullmatch(text)
    if not match:
        raise CellError(_("%(value)s is not a date in the form YYYY-MM-DD.") % {"value": quoted(text)})
    year, _separator, month, day = match.groups()
    try:
        day = datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise CellError(_("%(value)s is not a real date.") % {"value": quoted(text)}) from None
    if day.year not in YEARS:
        raise CellError(_("%(value)s is not between 1900 and 2199.") % {"value": quoted(text)})
    return day


def whole_number(text: str) -> int:
    if not WHOLE_NUMBER_TEXT.fullmatch(text):
        raise CellError(_("%(value)s is not a whole number.") % {"value": quoted(text)})
    if len(text) > MAX_WHOLE_NUMBER_DIGITS:  # Python refuses to read numbers of over 4,300 digits
        raise CellError(_("The number is too large."))
    return int(text)


def quoted(text: str) -> str:
    """The cell as typed, shortened: a report line must stay readable whatever the cell held."""
    return f"“{text[:40]}…”" if len(text) > 40 else f"“{text}”"
