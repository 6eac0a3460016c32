from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from .db import estimated_row_count
from .models import ReferenceCounter

# Below this many rows an exact COUNT(*) is cheap, so the estimate is not worth its imprecision.
EXACT_COUNT_THRESHOLD = 100_000


class EstimatedCountPaginator(Paginator):
    """Paginator for huge tables: an unfiltered list takes its total from pg_class.reltuples instead of a
    full COUNT(*) scan. Filtered lists (which use an index) still count exactly."""

    @cached_property
    def count(self):
        queryset = self.object_list
        if not queryset.query.where:
            estimate = estimated_row_count(queryset.model, using=queryset.db)
            if estimate is not None and estimate > EXACT_COUNT_THRESHOLD:
                return estimate
        return super().count


class BigTableAdmin(admin.ModelAdmin):
    """Defaults for changelists over tables that reach millions of rows."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50


@admin.register(ReferenceCounter)
class ReferenceCounterAdmin(admin.ModelAdmin):
    list_display = ["prefix", "year", "last_value"]
    readonly_fields = ["prefix", "year", "last_value"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
