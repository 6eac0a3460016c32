"""Small database helpers that keep set-based SQL portable between PostgreSQL and SQLite."""

import json

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
