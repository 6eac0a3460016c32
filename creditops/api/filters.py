"""Filters of every API list. Each narrows on an indexed column (or a range of one); a value that cannot
be a filter's (a word for a number, an out-of-range id, an unknown status) answers 400, never 500."""

import django_filters
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from drf_spectacular.utils import extend_schema_field

from dunning.models import CaseStatus, Channel, CollectionCase, ContactAttempt, DunningRun, NoticeKind, PromiseToPay
from lending.models import Borrower, Loan, Payment
from notices.models import Notice

from .strict import AnyOfFilter, DaysPastDueFilter, IdFilter, IsoDateFilter, MoneyFilter, TextFilter, YesNoFilter


def date_range(field_name: str, label: str):
    """`<name>_from` / `<name>_to` filters, both inclusive."""
    return (
        IsoDateFilter(
            field_name=field_name, lookup_expr="gte", label=format_lazy(pgettext_lazy("date range", "{} from"), label)
        ),
        IsoDateFilter(
            field_name=field_name, lookup_expr="lte", label=format_lazy(pgettext_lazy("date range", "{} to"), label)
        ),
    )


def dpd_range(field_name: str = "days_past_due"):
    return (
        DaysPastDueFilter(field_name=field_name, lookup_expr="gte", label=_("Days past due at least")),
        DaysPastDueFilter(field_name=field_name, lookup_expr="lte", label=_("Days past due at most")),
    )


class BorrowerFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Borrower.Kind.choices)
    risk_grade = django_filters.ChoiceFilter(choices=Borrower.RiskGrade.choices)
    province = TextFilter()
    id_number = TextFilter(method="filter_id_number", label=_("ID number (exact)"))
    created_from, created_to = date_range("created_at__date", _("Created"))

    class Meta:
        model = Borrower
        fields = []

    def filter_id_number(self, queryset, name, value):
        return queryset.filter(id_number=value.strip().upper())


@extend_schema_field(
    {
        "type": "boolean",
        "description": "true: loans restructured at least once (see restructure_count); false: never restructured.",
    }
)
class RestructuredFilter(YesNoFilter):
    """Restructured loans are few: the partial index `loan_restructured_idx` holds just them."""

    def filter(self, queryset, value):
        if value is None:
            return queryset
        return queryset.filter(restructure_count__gt=0) if value else queryset.filter(restructure_count=0)


class LoanFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Loan.Status.choices)
    bucket = AnyOfFilter(field_name="aging_bucket", choices=Loan.Bucket.choices)
    product = TextFilter(field_name="product__code", label=_("Product code"))
    borrower = IdFilter(field_name="borrower_id", label=_("Borrower id"))
    reference = TextFilter(label=_("Loan reference (exact)"))
    dpd_min, dpd_max = dpd_range()
    disbursed_from, disbursed_to = date_range("disbursed_on", _("Disbursed"))
    restructured = RestructuredFilter(label=_("Restructured"))

    class Meta:
        model = Loan
        fields = []


class PaymentFilter(django_filters.FilterSet):
    loan = IdFilter(field_name="loan_id", label=_("Loan id"))
    loan_reference = TextFilter(field_name="loan__reference")
    borrower = IdFilter(field_name="loan__borrower_id", label=_("Borrower id"))
    product = TextFilter(field_name="loan__product__code", label=_("Product code"))
    source = TextFilter()
    external_ref = TextFilter()
    status = django_filters.ChoiceFilter(choices=Payment.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Payment.Channel.choices)
    received_from, received_to = date_range("received_on", _("Received"))
    amount_min = MoneyFilter(field_name="amount", lookup_expr="gte", label=_("Amount at least"))
    amount_max = MoneyFilter(field_name="amount", lookup_expr="lte", label=_("Amount at most"))

    class Meta:
        model = Payment
        fields = []


class CaseFilter(django_filters.FilterSet):
    status = AnyOfFilter(choices=CaseStatus.choices)
    is_open = YesNoFilter()
    bucket = AnyOfFilter(field_name="aging_bucket", choices=Loan.Bucket.choices)
    product = TextFilter(field_name="loan__product__code", label=_("Product code"))
    borrower = IdFilter(field_name="borrower_id", label=_("Borrower id"))
    loan = IdFilter(field_name="loan_id", label=_("Loan id"))
    stage = IdFilter(field_name="stage_id", label=_("Stage id"))
    assigned_to = IdFilter(field_name="assigned_to_id", label=_("Collector id"))
    team = IdFilter(field_name="team_id", label=_("Team id"))
    dpd_min, dpd_max = dpd_range()
    opened_from, opened_to = date_range("opened_on", _("Opened"))

    class Meta:
        model = CollectionCase
        fields = []


class ContactAttemptFilter(django_filters.FilterSet):
    case = IdFilter(field_name="case_id", label=_("Case id"))
    borrower = IdFilter(field_name="borrower_id", label=_("Borrower id"))
    loan = IdFilter(field_name="loan_id", label=_("Loan id"))
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    decision = django_filters.ChoiceFilter(choices=ContactAttempt.Decision.choices)
    rule = TextFilter()
    attempted_from, attempted_to = date_range("attempted_at__date", _("Attempted"))

    class Meta:
        model = ContactAttempt
        fields = []


class PromiseFilter(django_filters.FilterSet):
    case = IdFilter(field_name="case_id", label=_("Case id"))
    status = django_filters.ChoiceFilter(choices=PromiseToPay.Status.choices)
    promised_from, promised_to = date_range("promised_for", _("Pay-by date"))
    made_from, made_to = date_range("made_on", _("Made"))

    class Meta:
        model = PromiseToPay
        fields = []


class NoticeFilter(django_filters.FilterSet):
    case = IdFilter(field_name="case_id", label=_("Case id"))
    loan = IdFilter(field_name="loan_id", label=_("Loan id"))
    borrower = IdFilter(field_name="borrower_id", label=_("Borrower id"))
    kind = django_filters.ChoiceFilter(choices=NoticeKind.choices)
    reference = TextFilter(label=_("Notice reference (exact)"))
    issued_from, issued_to = date_range("issued_on", _("Issued"))

    class Meta:
        model = Notice
        fields = []


class RunFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DunningRun.Status.choices)
    as_of_from, as_of_to = date_range("as_of", _("Business date"))

    class Meta:
        model = DunningRun
        fields = []
