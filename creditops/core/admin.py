from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.paginator import Paginator
from django.http import Http404
from django.utils.functional import cached_property

from .db import estimated_row_count, planner_row_estimate
from .models import ReferenceCounter

# Below this many rows an exact COUNT(*) is cheap, so the estimate is not worth its imprecision.
EXACT_COUNT_THRESHOLD = 100_000
# A filtered list counts exactly up to this many rows; beyond it the planner's estimate is shown.
FILTERED_COUNT_CAP = 10_000


class EstimatedCountPaginator(Paginator):
    """Paginator for huge tables, so no list ever waits for a COUNT(*) over millions of rows:
    - unfiltered: the table's size from pg_class.reltuples;
    - filtered: an exact count up to FILTERED_COUNT_CAP (a LIMITed subquery), and past it the planner's
      estimate for the filter (EXPLAIN; nothing is counted).
    Elsewhere than PostgreSQL, and for small tables, it counts exactly."""

    @cached_property
    def count(self):
        queryset = self.object_list
        if not queryset.query.where:
            estimate = estimated_row_count(queryset.model, using=queryset.db)
            if estimate is not None and estimate > EXACT_COUNT_THRESHOLD:
                return estimate
            return super().count
        capped = queryset[: FILTERED_COUNT_CAP + 1].count()
        if capped <= FILTERED_COUNT_CAP:
            return capped
        estimate = planner_row_estimate(queryset)
        return max(estimate, capped) if estimate is not None else queryset.count()


class IndexedOrderingChangeList(ChangeList):
    """Honours ?o= only for the columns in sortable_by, so a hand-made URL cannot sort a big table by a
    column without an index either."""

    def get_ordering(self, request, queryset):
        if ORDER_VAR in self.params:
            kept = [part for part in self.params[ORDER_VAR].split(".") if self._may_sort_by(part)]
            if kept:
                self.params[ORDER_VAR] = ".".join(kept)
            else:
                del self.params[ORDER_VAR]
        return super().get_ordering(request, queryset)

    def _may_sort_by(self, part: str) -> bool:
        try:
            column = self.list_display[int(part.lstrip("-"))]
        except (ValueError, IndexError):
            return False
        return column in self.sortable_by


class BigTableAdmin(admin.ModelAdmin):
    """Defaults for changelists over tables that reach millions of rows."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    # Sorting by a column without an index sorts the whole table; subclasses list the indexed ones.
    sortable_by = ()

    def get_changelist(self, request, **kwargs):
        return IndexedOrderingChangeList

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # The admin would redirect with "does not exist"; a record outside the viewer's scope (or none at
        # all) answers 404, as everywhere else in the portal.
        raise Http404(f"No {opts.model_name} {object_id!s:.40} here.")


@admin.register(ReferenceCounter)
class ReferenceCounterAdmin(admin.ModelAdmin):
    list_display = ["prefix", "year", "last_value"]
    readonly_fields = ["prefix", "year", "last_value"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
