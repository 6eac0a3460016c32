"""Small database helpers that keep set-based SQL portable between PostgreSQL and SQLite."""

import json
from contextlib import contextmanager

from django.core.exceptions import EmptyResultSet
from django.db import connections, models


class DaysBetween(models.Func):
    """Whole days from `start` to `end` (end - start) as an integer, on PostgreSQL and SQLite."""

    output_field = models.IntegerField()

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(%(expressions)s)", arg_joiner=" - ", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "CAST(julianday(%(expressions)s) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, arg_joiner=") - julianday(", **extra)


def planner_row_estimate(queryset) -> int | None:
    """PostgreSQL's planner estimate of how many rows a queryset returns (EXPLAIN, nothing executed)."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def estimated_row_count(model, using="default") -> int | None:
    """PostgreSQL's planner estimate of a table's rows (pg_class.reltuples); None where unavailable."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    if not row or row[0] is None or row[0] < 0:
        return None  # never analysed yet
    return row[0]


class UpperPrefixIndex(models.Index):
    """An index on UPPER(field) for case-insensitive prefix search (`Upper(field)__startswith`).
    On PostgreSQL it uses the text_pattern_ops operator class, without which LIKE 'PREFIX%' cannot use a
    b-tree under a non-C collation; other databases get the plain expression index."""

    def __init__(self, field_name: str, *, name: str):
        super().__init__(models.functions.Upper(field_name), name=name)
        self.field_name = field_name

    def deconstruct(self):
        path, _args, kwargs = super().deconstruct()
        return path, (self.field_name,), {"name": kwargs["name"]}

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            from django.contrib.postgres.indexes import OpClass

            pattern_index = models.Index(OpClass(*self.expressions, name="text_pattern_ops"), name=self.name)
            return pattern_index.create_sql(model, schema_editor, using, **kwargs)
        return super().create_sql(model, schema_editor, using, **kwargs)


@contextmanager
def jit_off(using="default"):
    """Inside a transaction: no JIT compilation on PostgreSQL for the statements run here. The nightly
    run's big statements are planned on estimates that make PostgreSQL compile them to machine code, which
    costs seconds more than executing them (measured at 1M loans: 2.6 s of JIT for a 0.3 s query)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit')")
        before = cursor.fetchone()[0]
        cursor.execute("SET LOCAL jit = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', %s, true)", [before])


def insert_from_select(model, columns: list[str], queryset) -> int:
    """INSERT INTO model's table (columns) SELECT … — one statement, rows never pass through Python.
    `queryset` must be a values_list() whose items line up with `columns`. Returns the rows inserted."""
    connection = connections[queryset.db]
    try:
        select_sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (e.g. `pk__in=[]`)
        return 0
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(column).column) for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({names}) {select_sql}", params)
        return cursor.rowcount


def append_only_trigger(table: str):
    """A migration operation that makes PostgreSQL itself refuse UPDATE and DELETE on `table` (raw SQL
    included); other databases rely on the model's and queryset's refusals."""
    create = f"""
    CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{table} is append-only (%% refused)', TG_OP;
    END;
    $$ LANGUAGE plpgsql;
    CREATE TRIGGER {table}_no_change
        BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
    """
    drop = f"""
    DROP TRIGGER IF EXISTS {table}_no_change ON {table};
    DROP FUNCTION IF EXISTS {table}_append_only();
    """
    return postgresql_only_sql(create, drop)


def postgresql_only_sql(create: str, drop: str):
    """A migration operation that runs `create` (and `drop` when reversed) on PostgreSQL only."""
    from django.db import migrations

    def on_postgresql(sql):
        def run(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(sql)

        return run

    return migrations.RunPython(on_postgresql(create), on_postgresql(drop))
