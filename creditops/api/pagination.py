"""Keyset (cursor) pages: each page starts after the last row of the previous one, by the list's order and
then by id, so the 10,000th page of a million rows costs what the first does, and rows written meanwhile
never shift a page. DRF's CursorPagination keys on the ordering field alone and steps over ties by
offset (at most 1,000): ordering 900,000 current loans by days past due would repeat pages. Here the key
is (field, id), which is unique."""

import base64
import binascii
import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from .strict import WHOLE_NUMBER, OneFieldOrdering


class KeysetPagination(BasePagination):
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    page_size = 50
    max_page_size = 200
    default_ordering = "-id"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        ordering = self._ordering(request, queryset, view)
        field, descending = ordering.lstrip("-"), ordering.startswith("-")
        keys = (field, "id") if field != "id" else ("id",)
        queryset = queryset.order_by(*(("-" if descending else "") + key for key in keys))
        after = self._decode(request.query_params.get(self.cursor_query_param, ""), queryset.model, keys)
        if after is not None:
            queryset = queryset.filter(_beyond(queryset.model, keys, after, descending))
        size = self._page_size(request)
        rows = list(queryset[: size + 1])
        page, more = rows[:size], len(rows) > size
        self.next_key = [_plain(getattr(page[-1], key)) for key in keys] if more else None
        return page

    def get_paginated_response(self, data):
        return Response({"next": self._next_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {"type": "string", "format": "uri", "nullable": True, "description": "The next page."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "Where the page starts: the `next` link of the previous page carries it.",
             "schema": {"type": "string"}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Rows per page (default {self.page_size}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
        ]  # fmt: skip

    def _ordering(self, request, queryset, view) -> str:
        for backend in getattr(view, "filter_backends", []):
            if issubclass(backend, OneFieldOrdering):
                ordering = backend().get_ordering(request, queryset, view)
                return ordering[0] if ordering else self.default_ordering
        return self.default_ordering

    def _page_size(self, request) -> int:
        given = request.query_params.get(self.page_size_query_param, "")
        if given == "":
            return self.page_size
        if not WHOLE_NUMBER.fullmatch(given) or not 1 <= int(given) <= self.max_page_size:
            message = _("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size}
            raise exceptions.ValidationError({self.page_size_query_param: [message]})
        return int(given)

    def _decode(self, cursor: str, model, keys):
        """The key a cursor holds, as the fields' own values. A cursor we did not make points at no page:
        404, as DRF's cursor pages answer (any text is a well-formed cursor, so not a 400)."""
        if cursor == "":
            return None
        try:
            values = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")), parse_constant=_no_constant)
            if not isinstance(values, list) or len(values) != len(keys):
                raise ValueError
            return [model._meta.get_field(key).to_python(value) for key, value in zip(keys, values, strict=True)]
        except (UnicodeEncodeError, binascii.Error, ValueError, TypeError, OverflowError, DjangoValidationError):
            raise exceptions.NotFound(_("This cursor is not one of ours.")) from None

    def _next_link(self):
        if self.next_key is None:
            return None
        cursor = base64.urlsafe_b64encode(json.dumps(self.next_key).encode()).decode("ascii")
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, cursor)


def _beyond(model, keys, values, descending: bool):
    """Rows after `values` in the (field, id) order, as one row comparison — `(field, id) < (v, last_id)` —
    which PostgreSQL answers from an index on (field, id) as a range, where the equivalent OR of two
    conditions would walk the index from the top. Column names come from the views' fixed ordering
    fields, never from the request."""
    columns = ", ".join(f'"{model._meta.db_table}"."{model._meta.get_field(key).column}"' for key in keys)
    placeholders = ", ".join(["%s"] * len(keys))
    sql = f"({columns}) {'<' if descending else '>'} ({placeholders})"
    parameters = [
        model._meta.get_field(key).get_db_prep_value(value, connection) for key, value in zip(keys, values, strict=True)
    ]
    return RawSQL(sql, parameters, output_field=BooleanField())  # noqa: S611 - fixed columns, values as parameters


def _plain(value):
    """A key value as JSON holds it (dates and times as ISO text, numbers as they are)."""
    return value if isinstance(value, int) else value.isoformat() if hasattr(value, "isoformat") else str(value)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a key value")  # JSON's NaN and Infinity: never in a cursor we made
