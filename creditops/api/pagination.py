from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination

from .strict import WHOLE_NUMBER


class IdCursorPagination(CursorPagination):
    """Cursor pages: each page starts after the last row of the previous one, so page 20,000 of a
    million-row list costs what page 1 costs and rows written meanwhile never shift or repeat a page.
    Without `ordering`, newest first (by id); `page_size` 1 to 200."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        given = request.query_params.get(self.page_size_query_param, "")
        if given == "":
            return self.page_size
        if not WHOLE_NUMBER.fullmatch(given) or not 1 <= int(given) <= self.max_page_size:
            message = _("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size}
            raise exceptions.ValidationError({self.page_size_query_param: [message]})
        return int(given)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
        return parameters
