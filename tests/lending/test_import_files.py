"""Reading import files (lending/imports/files.py): CSV encodings, XLSX cells, headers, row numbers and
the limits. The helpers that write real files are shared by the other import tests."""

import csv
import datetime
import io
from decimal import Decimal

import openpyxl
import pytest

from lending.imports.files import Columns, FileRejectedError, read_rows

COLUMNS = Columns(required=("loan_reference", "amount"), optional=("channel",))


def write_csv(path, rows, *, encoding="utf-8", bom=False):
    """Rows of cells as CSV text (commas, quotes where needed), in `encoding`."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode(encoding))
    return path


def write_xlsx(path, rows):
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def read(path, columns=COLUMNS, **kwargs):
    with path.open("rb") as opened:
        return read_rows(opened, name=path.name, columns=columns, **kwargs)


def rejection(path, columns=COLUMNS, **kwargs):
    with pytest.raises(FileRejectedError) as caught:
        read(path, columns, **kwargs)
    return caught.value.messages


def test_csv_rows_are_numbered_as_the_spreadsheet_shows_them_and_blank_rows_skipped(tmp_path):
    path = write_csv(
        tmp_path / "pay.csv",
        [[" Loan_Reference ", "AMOUNT"], ["LN-2026-000001", " 10.00 "], [], ["LN-2026-000002", "20"], ["", ""]],
    )
    rows = read(path)
    assert [(row.number, row.cells) for row in rows] == [
        (2, {"loan_reference": "LN-2026-000001", "amount": "10.00"}),
        (4, {"loan_reference": "LN-2026-000002", "amount": "20"}),
    ]


def test_a_utf8_byte_order_mark_and_chinese_text_are_read(tmp_path):
    path = write_csv(tmp_path / "pay.csv", [["loan_reference", "amount", "channel"], ["张三", "1", "支付宝"]], bom=True)
    assert read(path)[0].cells == {"loan_reference": "张三", "amount": "1", "channel": "支付宝"}


def test_a_gbk_file_is_named_as_such(tmp_path):
    path = write_csv(tmp_path / "pay.csv", [["loan_reference", "amount"], ["张三的贷款", "1"]], encoding="gbk")
    assert rejection(path) == ["The file is not UTF-8 (it looks like GBK/GB18030); save it as UTF-8 and load it again."]


def test_a_file_in_neither_encoding_says_where_the_first_bad_byte_is(tmp_path):
    path = tmp_path / "pay.csv"
    path.write_bytes(b"loan_reference,amount\nLN-1,1\nLN-2,\xff\xfe\n")
    assert rejection(path) == ["The file is not UTF-8 text (the first bad byte is on line 3); save it as UTF-8."]


def test_missing_and_unknown_columns_are_one_file_level_error_each(tmp_path):
    path = write_csv(tmp_path / "pay.csv", [["loan_reference", "amt", "note"], ["LN-1", "1", "x"]])
    assert rejection(path) == [
        "Missing columns: amount.",
        "Unknown columns: amt, note (the layout has loan_reference, amount, channel).",
    ]


def test_repeated_and_nameless_columns_are_refused(tmp_path):
    path = write_csv(tmp_path / "pay.csv", [["loan_reference", "", "amount", "amount"], ["LN-1", "", "1", "1"]])
    assert rejection(path) == [
        "Column 2 of the header has no name.",
        "These columns appear more than once: amount.",
    ]


def test_an_empty_file_and_a_row_wider_than_the_header_are_refused(tmp_path):
    assert rejection(write_csv(tmp_path / "empty.csv", [])) == ["The file is empty."]
    wide = write_csv(tmp_path / "wide.csv", [["loan_reference", "amount"], ["LN-1", "1", "surprise"]])
    assert rejection(wide) == ["Row 2 has more cells than the header has columns."]


def test_only_csv_and_xlsx_are_accepted(tmp_path):
    path = tmp_path / "pay.xls"
    path.write_bytes(b"whatever")
    assert rejection(path) == ["Only CSV and XLSX files can be imported (this one is pay.xls)."]


def test_a_damaged_xlsx_is_refused_plainly(tmp_path):
    path = tmp_path / "pay.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    assert rejection(path) == ["This is not a readable XLSX file."]


def test_more_rows_than_the_cap_are_refused(tmp_path):
    path = write_csv(tmp_path / "pay.csv", [["loan_reference", "amount"]] + [["LN-1", "1"]] * 4)
    assert len(read(path, max_rows=4)) == 4
    assert rejection(path, max_rows=3) == ["The file has more than 3 rows; split it into smaller files."]


def test_xlsx_cells_become_the_same_text_a_csv_would_hold(tmp_path):
    path = write_xlsx(
        tmp_path / "pay.xlsx",
        [
            ["loan_reference", "amount", "channel"],
            ["LN-1", 1066.19, None],
            ["LN-2", 500, datetime.datetime(2026, 11, 28, 0, 0)],
            [None, None, None],
            ["LN-3", Decimal("7.50"), datetime.date(2026, 11, 27)],
        ],
    )
    assert [(row.number, row.cells) for row in read(path)] == [
        (2, {"loan_reference": "LN-1", "amount": "1066.19", "channel": ""}),
        (3, {"loan_reference": "LN-2", "amount": "500", "channel": "2026-11-28"}),
        (5, {"loan_reference": "LN-3", "amount": "7.5", "channel": "2026-11-27"}),
    ]
