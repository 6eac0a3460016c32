"""Reading an uploaded CSV or XLSX file into rows of text, or refusing it with the reasons.

Every cell becomes stripped text (an XLSX date becomes YYYY-MM-DD, a number its shortest decimal form), so
the importers validate one kind of input whichever format the file came in. Row numbers are the
spreadsheet's: the header is row 1, the first data row is row 2.
"""

import csv
import datetime
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

MAX_ROWS = 200_000
MAX_BYTES = 50 * 1024 * 1024
FORMATS = ("csv", "xlsx")
# What openpyxl raises on a file that is not a workbook, or a damaged one (XML errors are SyntaxErrors).
UNREADABLE_XLSX = (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError, TypeError)


class FileRejectedError(Exception):
    """The file as a whole cannot be imported; `messages` says why, each a complete sentence."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class Row:
    number: int
    cells: dict[str, str]


@dataclass(frozen=True)
class Columns:
    """The layout an importer reads: columns every file must have, and columns it may have."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.required + self.optional


def file_format(name: str) -> str:
    """'csv' or 'xlsx' from the file name, or FileRejectedError."""
    suffix = PurePath(name).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise FileRejectedError([_("Only CSV and XLSX files can be imported (this one is %(name)s).") % {"name": name}])
    return suffix


# Characters no text column may hold (a NUL cannot be stored in PostgreSQL, and XLSX cannot hold any of
# them): tab, line feed and carriage return are text.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def read_rows(file, *, name: str, columns: Columns, max_rows: int = MAX_ROWS) -> list[Row]:
    """The data rows of an open binary file named `name`, each cell keyed by its normalised column name.
    Blank rows are skipped (their numbers are not reused). Raises FileRejectedError."""
    reader = _read_xlsx if file_format(name) == "xlsx" else _read_csv
    records = reader(file)
    header = _normalised_header(next(records, None), columns)
    rows, unprintable = [], []
    for number, values in enumerate(records, start=2):
        cells = [_as_text(value) for value in values]
        if not any(cells):
            continue
        unprintable += [
            _("Row %(row)d, column %(column)s holds a control character.") % {"row": number, "column": column}
            for column, cell in zip(header, cells, strict=False)
            if CONTROL_CHARACTER.search(cell)
        ]
        if len(rows) == max_rows:
            raise FileRejectedError(
                [_("The file has more than %(max)d rows; split it into smaller files.") % {"max": max_rows}]
            )
        if any(cells[len(header) :]):
            raise FileRejectedError([_("Row %(row)d has more cells than the header has columns.") % {"row": number}])
        cells += [""] * (len(header) - len(cells))
        rows.append(Row(number=number, cells=dict(zip(header, cells, strict=False))))
    if unprintable:
        raise FileRejectedError(unprintable)
    return rows


def _normalised_header(values, columns: Columns) -> list[str]:
    if values is None:
        raise FileRejectedError([_("The file is empty.")])
    header = [_as_text(value).lower() for value in values]
    while header and not header[-1]:
        header.pop()  # trailing empty cells (a trailing comma, formatting in a spreadsheet)
    problems = []
    if "" in header:
        problems.append(_("Column %(number)d of the header has no name.") % {"number": header.index("") + 1})
    repeated = sorted({column for column in header if column and header.count(column) > 1})
    if repeated:
        problems.append(_("These columns appear more than once: %(columns)s.") % {"columns": ", ".join(repeated)})
    missing = [column for column in columns.required if column not in header]
    if missing:
        problems.append(_("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)})
    unknown = [column for column in header if column and column not in columns.all]
    if unknown:
        problems.append(
            _("Unknown columns: %(columns)s (the layout has %(expected)s).")
            % {"columns": ", ".join(unknown), "expected": ", ".join(columns.all)}
        )
    if problems:
        raise FileRejectedError(problems)
    return header


def _read_bounded(file) -> bytes:
    data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FileRejectedError([_("The file is larger than %(max)d MB.") % {"max": MAX_BYTES // (1024 * 1024)}])
    return data


def _read_csv(file):
    text = _decoded(_read_bounded(file))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        yield from reader
    except csv.Error as error:
        # The reader counts physical lines; a quoted cell may span several, so this is a line, not a row.
        message = _("The CSV file cannot be read at line %(line)d: %(error)s.")
        raise FileRejectedError([message % {"line": reader.line_num, "error": error}]) from None


def _decoded(data: bytes) -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped). Chinese spreadsheets often save GBK, which
    decodes as something else entirely rather than failing later, so it is recognised and named."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        message = _("The file is not UTF-8 text (the first bad byte is on line %(line)d); save it as UTF-8.")
        raise FileRejectedError([message % {"line": line}]) from None
    message = _("The file is not UTF-8 (it looks like GBK/GB18030); save it as UTF-8 and load it again.")
    raise FileRejectedError([message]) from None


def _read_xlsx(file):
    """The first sheet's rows, read in streaming mode (memory stays flat on big sheets); values, not
    formulas."""
    data = _read_bounded(file)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except UNREADABLE_XLSX:
        raise FileRejectedError([_("This is not a readable XLSX file.")]) from None
    try:
        if not workbook.worksheets:
            raise FileRejectedError([_("The file is empty.")])
        yield from workbook.worksheets[0].iter_rows(values_only=True)
    except UNREADABLE_XLSX:
        raise FileRejectedError([_("This is not a readable XLSX file.")]) from None
    finally:
        workbook.close()


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()  # a date cell; any time of day on it is ignored
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
