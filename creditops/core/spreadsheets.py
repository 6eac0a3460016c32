"""Files that people open in a spreadsheet: cells that cannot run as formulas, and CSV streamed as Excel
reads it (UTF-8 with a byte-order mark, so Chinese text opens correctly)."""

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text a spreadsheet would run as a formula (=, +, -, @ first) is opened as text: a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_file_name(name: str, extension: str) -> str:
    return f"{name}-{timezone.localtime():%Y%m%d-%H%M}.{extension}"


class _Echo:
    def write(self, value):
        return value


def csv_response(rows, columns, *, name: str, limit: int) -> StreamingHttpResponse:
    """Stream `rows` as CSV, one column per (header, value function) of `columns`; at most `limit` rows,
    then a line saying the file stopped there."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + writer.writerow([str(header) for header, _value in columns])
        for count, row in enumerate(rows, start=1):
            if count > limit:
                yield writer.writerow([_("Stopped at %(limit)d rows: narrow the filters.") % {"limit": limit}])
                return
            yield writer.writerow([spreadsheet_safe(value(row)) for _header, value in columns])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export_file_name(name, "csv")}"'
    return response
