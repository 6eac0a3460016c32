"""The worklist's filters. Each narrows the open cases on an indexed column or a small EXISTS, so any
combination stays fast at 100,000 open cases."""

import datetime

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from creditops.core.dates import business_today
from lending.models import Loan, Product
from lending.selectors import loans_matching

from .models import OPEN_STATUSES, CaseStatus, DunningStage, PromiseToPay

ANY = _("Any")


class AnyYesNo(django_filters.widgets.BooleanWidget):
    """Any / Yes / No (django-filter's default reads "Unknown" for "no filter")."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = (("", ANY), ("true", _("Yes")), ("false", _("No")))


LAST_CONTACT_CHOICES = [
    ("never", _("Never contacted")),
    ("today", _("Contacted today")),
    ("3", _("Not in the last 3 days")),
    ("7", _("Not in the last 7 days")),
]


class WorklistFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Loan, ID number, phone or name"), method="filter_search")
    bucket = django_filters.ChoiceFilter(
        field_name="aging_bucket", label=_("Aging bucket"), choices=Loan.Bucket.choices[1:], empty_label=ANY
    )
    stage = django_filters.ModelChoiceFilter(
        label=_("Stage"),
        queryset=DunningStage.objects.filter(is_active=True).order_by("policy", "start_dpd"),
        empty_label=ANY,
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[(status.value, status.label) for status in map(CaseStatus, OPEN_STATUSES)],
        empty_label=ANY,
    )
    product = django_filters.ModelChoiceFilter(
        field_name="loan__product", label=_("Product"), queryset=Product.objects.order_by("code"), empty_label=ANY
    )
    promise_due_today = django_filters.BooleanFilter(
        label=_("Promise due today"), method="filter_promise_due_today", widget=AnyYesNo
    )
    broken_promise = django_filters.BooleanFilter(
        label=_("Broken promise"), method="filter_broken_promise", widget=AnyYesNo
    )
    new_today = django_filters.BooleanFilter(label=_("New today"), method="filter_new_today", widget=AnyYesNo)
    last_contact = django_filters.ChoiceFilter(
        label=_("Last contact"), choices=LAST_CONTACT_CHOICES, method="filter_last_contact", empty_label=ANY
    )

    def filter_search(self, queryset, name, value):
        return queryset.filter(loan_id__in=loans_matching(Loan.objects.all(), value).values("pk"))

    def filter_promise_due_today(self, queryset, name, value):
        if value is None:
            return queryset
        due = PromiseToPay.objects.due_on(business_today()).filter(case=OuterRef("pk"))
        return queryset.filter(Exists(due)) if value else queryset.exclude(Exists(due))

    def filter_broken_promise(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(broken_promises__gt=0) if value else queryset.filter(broken_promises=0)

    def filter_new_today(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(opened_on=business_today()) if value else queryset.exclude(opened_on=business_today())

    def filter_last_contact(self, queryset, name, value):
        if value == "never":
            return queryset.filter(last_contact_at__isnull=True)
        start_of_today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        if value == "today":
            return queryset.filter(last_contact_at__gte=start_of_today)
        days = int(value)
        since = start_of_today - datetime.timedelta(days=days - 1)
        return queryset.filter(Q(last_contact_at__isnull=True) | Q(last_contact_at__lt=since))
