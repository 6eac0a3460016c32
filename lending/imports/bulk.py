"""Set-based reads and writes for the bulk import: id lists in chunks, many new rows inserted at once, many
rows updated at once.

On PostgreSQL new rows go in with COPY and updates as UPDATE … FROM unnest(arrays): for the
100,000-payment bank file Django's bulk_create and bulk_update spend more Python time compiling SQL
and converting parameters than the whole import may take (bench/README.md §7 has the figures). Other
databases (SQLite, the demo's) use bulk_create and bulk_update.
"""

import json
from itertools import islice

from django.db import connection, models
from django.utils import timezone

# Ids per IN (…) list, rows per UPDATE, and rows per INSERT elsewhere than PostgreSQL: big enough to need
# few round trips, small enough for SQLite's limit on bound parameters (32,766) and for plans that look
# rows up by primary key.
CHUNK = 5_000
COPY_BLOCK_ROWS = 20_000
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def chunked(items, size: int = CHUNK):
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def one_of(field_name: str, values: list):
    """A filter: `field_name` is one of `values`. On PostgreSQL `field = ANY(%s)` with the list as one array
    parameter: with an IN list of 5,000 placeholders Django and psycopg spend more time preparing the
    query than the database spends answering it."""
    if connection.vendor == "postgresql":
        return _EqualsAny(field_name, values)
    return models.Q(**{f"{field_name}__in": values})


class _EqualsAny(models.Expression):
    output_field = models.BooleanField()

    def __init__(self, field_name: str, values: list):
        super().__init__()
        self.lhs, self.values = models.F(field_name), list(values)

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        resolved = self.copy()
        resolved.lhs = self.lhs.resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return resolved

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.lhs)
        return f"{sql} = ANY(%s)", [*params, self.values]


def objects_insert(model, objects: list) -> None:
    """INSERT new, unsaved instances of `model`; afterwards each has its primary key, as after
    bulk_create. On PostgreSQL the keys are drawn from the table's sequence first and the rows COPYed."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=CHUNK)
        return
    fields = _insertable_fields(model)
    stamped = [field.attname for field in fields if getattr(field, "auto_now_add", False)]
    now = timezone.now()
    for instance, pk in zip(objects, _reserved_ids(model, len(objects)), strict=True):
        instance.pk = pk
        for attname in stamped:
            setattr(instance, attname, now)  # as bulk_create's pre_save would
        instance._state.adding, instance._state.db = False, connection.alias
    attnames = [field.attname for field in fields]
    rows_insert(model, attnames, ([getattr(instance, name) for name in attnames] for instance in objects))


def rows_insert(model, attnames: list[str], rows) -> None:
    """INSERT rows of `model` given as tuples of the `attnames` fields (any iterable, consumed once); the
    other fields get what a new instance would have (defaults, auto_now_add, a new primary key). No
    model instances are built on PostgreSQL: the rows are COPYed as they are generated, which overlaps
    building the next ones with the server writing the last ones."""
    given = [model._meta.get_field(name) for name in attnames]
    filled = [field for field in _insertable_fields(model) if field not in given and not field.primary_key]
    if connection.vendor != "postgresql":
        model.objects.bulk_create((model(**dict(zip(attnames, row, strict=True))) for row in rows), batch_size=CHUNK)
        return
    now = timezone.now()  # what bulk_create gives every auto_now_add field (created_at)
    extra = [now if getattr(field, "auto_now_add", False) else field.get_default() for field in filled]
    fields = given + filled
    formats = [_copy_format(field) for field in fields]

    def lines():
        for row in rows:
            yield "\t".join([text(value) for text, value in zip(formats, (*row, *extra), strict=True)]) + "\n"

    _copy_lines(model, [field.column for field in fields], lines())


def rows_update(model, fields: list[str], rows: list[tuple]) -> None:
    """Set `fields` on many rows of `model`; each row is (pk, *values in the order of fields).

    PostgreSQL: one UPDATE … FROM unnest(one array per column) per CHUNK rows. In chunks, not one
    statement over a staging table, because for a single big join the planner may prefer reading the
    whole installment table (16.5 million rows) to 100,000 index lookups."""
    if connection.vendor == "postgresql":
        _update_from_arrays(model, fields, rows)
    else:
        _bulk_update(model, fields, rows)


def _update_from_arrays(model, fields, rows):
    quote = connection.ops.quote_name
    pk = model._meta.pk
    columns = [pk.column] + [model._meta.get_field(name).column for name in fields]
    types = [pk.rel_db_type(connection)] + [model._meta.get_field(name).db_type(connection) for name in fields]
    assignments = ", ".join(f"{quote(column)} = v.{quote(column)}" for column in columns[1:])
    arrays = ", ".join(f"%s::{column_type}[]" for column_type in types)
    names = ", ".join(quote(column) for column in columns)
    # Only quoted names of the model's own table and columns are formatted in; the values are parameters.
    sql = (
        f"UPDATE {quote(model._meta.db_table)} AS t SET {assignments} "  # noqa: S608
        f"FROM unnest({arrays}) AS v({names}) WHERE t.{quote(pk.column)} = v.{quote(pk.column)}"
    )
    with connection.cursor() as cursor:
        for chunk in chunked(sorted(rows)):
            cursor.execute(sql, [list(column) for column in zip(*chunk, strict=True)])


def _bulk_update(model, fields, rows):
    objects = [model(pk=row[0], **dict(zip(fields, row[1:], strict=True))) for row in rows]
    model.objects.bulk_update(objects, fields, batch_size=500)


def _reserved_ids(model, count: int) -> list[int]:
    """`count` new primary keys from the table's own sequence, so concurrent inserts never collide."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _insertable_fields(model) -> list:
    return [field for field in model._meta.concrete_fields if not field.generated]


def _copy_lines(model, columns: list[str], lines) -> None:
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(column) for column in columns)}) FROM STDIN"
    # COPY goes through psycopg's own cursor: its errors are made Django's (IntegrityError, …) by hand.
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        for block in chunked(lines, COPY_BLOCK_ROWS):
            copy.write("".join(block))


def _copy_format(field):
    """The function that writes one value of `field` in COPY's text format. Chosen once per column:
    formatting here is several times faster than psycopg's per-value adaptation (as the demo seeder
    found), and the largest Python cost of the import after the ledger itself."""
    if isinstance(field, models.JSONField):
        text = _json_text
    elif isinstance(field, models.CharField | models.TextField):
        text = _escaped
    else:
        text = str  # numbers, Decimal, dates, datetimes, booleans: their text is PostgreSQL's input
    if field.null:
        return lambda value: "\\N" if value is None else text(value)
    return text


def _escaped(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


def _json_text(value) -> str:
    return json.dumps(value, ensure_ascii=False).translate(_COPY_ESCAPES)
