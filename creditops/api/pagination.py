from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Cursor pages: each page starts after the last row of the previous one, so page 20,000 of a
    million-row list costs what page 1 costs and rows written meanwhile never shift or repeat a page.
    Without `ordering`, newest first (by id); `page_size` up to 200."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
