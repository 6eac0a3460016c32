from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.paginator import Paginator
from django.db import models
from django.http import Http404
from django.utils.functional import cached_property

from .db import estimated_row_count, planner_row_estimate
from .models import ReferenceCounter
from .money import format_money

# Below this many rows an exact COUNT(*) is cheap, so the estimate is not worth its imprecision.
EXACT_COUNT_THRESHOLD = 100_000
# A filtered list counts exactly up to this many rows; beyond it the planner's estimate is shown.
FILTERED_COUNT_CAP = 10_000


# Where a row's currency is, tried in order (list_select_related should follow the one that applies, so no
# row costs a query).
CURRENCY_PATHS = ["currency", "loan.currency", "case.loan.currency", "installment.loan.currency",
                  "plan.case.loan.currency", "product.currency"]  # fmt: skip


def currency_of(obj) -> str:
    for path in CURRENCY_PATHS:
        value = obj
        for step in path.split("."):
            value = getattr(value, step, None)
        if value:
            return value
    return ""


def money_column(field_name: str, description):
    """A list or read-only column showing a money field as '1,234.50 CNY' (the one money format of every
    screen), sortable by the field."""

    @admin.display(description=description, ordering=field_name)
    def column(*args):
        obj = args[-1]  # called as a method of the admin (self, obj) or on its own (obj)
        return format_money(getattr(obj, field_name), currency_of(obj))

    column.__name__ = f"{field_name}_display"
    column.do_not_call_in_templates = True  # the admin's templates hold it as a value, not a method
    return column


def is_money(field) -> bool:
    return isinstance(field, models.DecimalField) and field.decimal_places == 2 and field.max_digits == 18


class MoneyDisplayMixin:
    """Money fields shown read-only — list columns, read-only change pages, inlines — print as
    '15,200.00 CNY', like everywhere else, instead of Django's bare '15200.00'. Editable inputs keep the
    plain number."""

    def _money_columns(self) -> dict:
        if "_money_column_cache" not in self.__dict__:
            self._money_column_cache = {
                field.name: money_column(field.name, field.verbose_name)
                for field in self.model._meta.concrete_fields
                if is_money(field)
            }
        return self._money_column_cache

    def _as_money(self, names, shown_read_only) -> list:
        columns = self._money_columns()
        return [columns[name] if name in columns and name in shown_read_only else name for name in names]

    def get_list_display(self, request):
        names = super().get_list_display(request)
        return self._as_money(names, set(names))

    def get_readonly_fields(self, request, obj=None):
        names = super().get_readonly_fields(request, obj)
        return self._as_money(names, set(names))

    def get_fields(self, request, obj=None):
        names = super().get_fields(request, obj)
        read_only = set(super().get_readonly_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            read_only |= {name for name in names if isinstance(name, str)}
        return self._as_money(names, read_only)


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


class BigTableAdmin(MoneyDisplayMixin, admin.ModelAdmin):
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
