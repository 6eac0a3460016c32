"""The API's endpoints. Each list is the user's scope (the same selectors as the portal: another
collector's case is simply not there, so it answers 404), filtered, ordered and paged by cursor; each
write calls the one service that owns it."""

import django_filters
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from dunning.models import ContactAttempt, DunningRun, PromiseToPay
from dunning.selectors import borrowers_visible_to, cases_visible_to, loans_visible_to, payments_visible_to
from dunning.services.cases import contact_attempt_log, promise_record
from dunning.services.guardrails import RULE_LABELS
from lending.models import BorrowerContact, Loan
from lending.services import payment_post, payment_reverse
from notices.selectors import notices_visible_to
from notices.views import notice_pdf_response

from . import filters, serializers
from .permissions import has_model_permission

ERROR = OpenApiResponse(description="The error, as {code, message, detail}.")
MAY_POST_PAYMENTS = has_model_permission("lending.add_payment")
MAY_READ_RUNS = has_model_permission("dunning.view_dunningrun")


def validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def unknown_reference(field: str, message: str, code: str) -> DomainError:
    """Well-formed, but naming a record that is not there: a refusal of the request's meaning (422)."""
    return DomainError(message, code=code, detail={field: [message]})


class StrictQueryMixin:
    """A parameter given twice (`?loan=1&loan=2`) is refused rather than silently read as its last value;
    only the lists' repeatable filters (e.g. `bucket`) may repeat."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and permissions answer first
        filterset_class = getattr(self, "filterset_class", None)
        declared = filterset_class.base_filters if filterset_class else {}
        repeated = sorted(
            name
            for name, values in request.query_params.lists()
            if len(values) > 1 and not isinstance(declared.get(name), django_filters.MultipleChoiceFilter)
        )
        if repeated:
            raise exceptions.ValidationError({name: [_("Give this parameter once.")] for name in repeated})


@extend_schema_view(list=extend_schema(summary="Borrowers"), retrieve=extend_schema(summary="One borrower"))
class BorrowerViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.BorrowerSerializer
    filterset_class = filters.BorrowerFilter
    ordering_fields = ["id"]

    def get_queryset(self):
        return borrowers_visible_to(self.request.user)


@extend_schema_view(
    list=extend_schema(summary="Loans, with their current delinquency"),
    retrieve=extend_schema(summary="One loan, with its repayment schedule and current delinquency"),
)
class LoanViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    filterset_class = filters.LoanFilter
    ordering_fields = ["id", "days_past_due"]

    def get_queryset(self):
        loans = loans_visible_to(self.request.user).select_related("product")
        return loans.prefetch_related("installments") if self.action == "retrieve" else loans

    def get_serializer_class(self):
        return serializers.LoanDetailSerializer if self.action == "retrieve" else serializers.LoanSerializer


@extend_schema_view(list=extend_schema(summary="Payments"), retrieve=extend_schema(summary="One payment"))
class PaymentViewSet(StrictQueryMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.PaymentSerializer
    filterset_class = filters.PaymentFilter
    ordering_fields = ["id", "received_on"]

    def get_queryset(self):
        return payments_visible_to(self.request.user).select_related("loan")

    def get_permissions(self):
        if self.action in ("create", "reverse"):
            return [MAY_POST_PAYMENTS()]
        return super().get_permissions()

    @extend_schema(
        summary="Post a payment (idempotent on source and external_ref)",
        request=serializers.PaymentCreateSerializer,
        responses={
            201: serializers.PaymentSerializer,
            200: OpenApiResponse(serializers.PaymentSerializer, description="The same payment, posted before."),
            409: OpenApiResponse(description="The reference was posted with another loan, amount or date."),
        },
    )
    def create(self, request, *args, **kwargs):
        data = validated(serializers.PaymentCreateSerializer, request)
        loan = Loan.objects.filter(reference=data["loan_reference"].strip().upper()).first()
        if loan is None:
            raise unknown_reference("loan_reference", _("No loan has this reference."), "payment.loan_unknown")
        payment, created = payment_post(
            loan=loan,
            source=data["source"],
            external_ref=data["external_ref"],
            amount=data["amount"],
            received_on=data["received_on"],
            channel=data["channel"],
            actor=request.user,
        )
        body = serializers.PaymentSerializer(payment).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Reverse a payment",
        request=serializers.PaymentReverseSerializer,
        responses={200: serializers.PaymentSerializer, 409: ERROR},
    )
    @action(detail=True, methods=["post"])
    def reverse(self, request, pk=None):
        payment = self.get_object()
        data = validated(serializers.PaymentReverseSerializer, request)
        payment = payment_reverse(
            payment=payment,
            reason=data["reason"],
            reversed_on=data.get("reversed_on") or business_today(),
            actor=request.user,
        )
        return Response(serializers.PaymentSerializer(payment).data)


@extend_schema_view(list=extend_schema(summary="Collection cases"), retrieve=extend_schema(summary="One case"))
class CaseViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.CaseSerializer
    filterset_class = filters.CaseFilter
    ordering_fields = ["id", "days_past_due"]  # by priority: the portal's worklist

    def get_queryset(self):
        return cases_visible_to(self.request.user).select_related("loan", "stage")

    @extend_schema(summary="The case's timeline, newest first", responses=serializers.CaseEventSerializer(many=True))
    @action(detail=True, filter_backends=[])
    def timeline(self, request, pk=None):
        case = self.get_object()
        page = self.paginate_queryset(case.events.all())
        return self.get_paginated_response(serializers.CaseEventSerializer(page, many=True).data)


def case_in_scope(user, case_id: int):
    """The case, if `user` may see it; 404 otherwise (another collector's case does not exist for them)."""
    return get_object_or_404(cases_visible_to(user).select_related("loan__product", "borrower"), pk=case_id)


@extend_schema_view(
    list=extend_schema(summary="Contact attempts, allowed and blocked"),
    retrieve=extend_schema(summary="One contact attempt"),
)
class ContactAttemptViewSet(StrictQueryMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.ContactAttemptSerializer
    filterset_class = filters.ContactAttemptFilter
    ordering_fields = ["id", "attempted_at"]

    def get_queryset(self):
        return ContactAttempt.objects.filter(case__in=cases_visible_to(self.request.user))

    @extend_schema(
        summary="Record a contact (through the guardrails)",
        request=serializers.ContactAttemptCreateSerializer,
        responses={
            201: serializers.ContactAttemptSerializer,
            409: OpenApiResponse(description="The case is closed."),
            422: OpenApiResponse(
                description="A guardrail refused the contact; `code` is the rule, one of "
                + ", ".join(sorted(RULE_LABELS))
                + "; the refusal is recorded as a blocked attempt (`detail.contact_attempt_id`)."
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        data = validated(serializers.ContactAttemptCreateSerializer, request)
        if ("promise_amount" in data) != ("promise_date" in data):
            raise DomainError(_("A promise needs both its amount and its date."), code="promise.incomplete")
        case = case_in_scope(request.user, data["case"])
        attempt = contact_attempt_log(
            case=case,
            channel=data["channel"],
            outcome=data.get("outcome", ""),
            actor=request.user,
            target_contact=self._third_party(case, data.get("target_contact")),
            note=data.get("note", ""),
            promise=(data["promise_amount"], data["promise_date"]) if "promise_amount" in data else None,
            call_back_at=data.get("call_back_at"),
        )
        return Response(serializers.ContactAttemptSerializer(attempt).data, status=status.HTTP_201_CREATED)

    def _third_party(self, case, contact_id):
        if contact_id is None:
            return None
        contact = BorrowerContact.objects.filter(pk=contact_id, borrower_id=case.borrower_id).first()
        if contact is None:
            message = _("The borrower has no contact with this id.")
            raise unknown_reference("target_contact", message, "contact.target_unknown")
        return contact


@extend_schema_view(list=extend_schema(summary="Promises to pay"), retrieve=extend_schema(summary="One promise"))
class PromiseViewSet(StrictQueryMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.PromiseSerializer
    filterset_class = filters.PromiseFilter
    ordering_fields = ["id", "promised_for", "made_on"]

    def get_queryset(self):
        return PromiseToPay.objects.filter(case__in=cases_visible_to(self.request.user))

    @extend_schema(
        summary="Record a promise to pay (replaces the case's pending one)",
        request=serializers.PromiseCreateSerializer,
        responses={201: serializers.PromiseSerializer, 409: OpenApiResponse(description="The case is closed.")},
    )
    def create(self, request, *args, **kwargs):
        data = validated(serializers.PromiseCreateSerializer, request)
        case = case_in_scope(request.user, data["case"])
        promise = promise_record(
            case=case, amount=data["amount"], promised_for=data["promised_for"], actor=request.user
        )
        return Response(serializers.PromiseSerializer(promise).data, status=status.HTTP_201_CREATED)


class FirstRendererNegotiation(BaseContentNegotiation):
    """The PDF endpoint answers a PDF (or a JSON error) whatever the client's Accept header says."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema_view(
    list=extend_schema(summary="Issued notices"), retrieve=extend_schema(summary="One notice's metadata")
)
class NoticeViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.NoticeSerializer
    filterset_class = filters.NoticeFilter
    ordering_fields = ["id", "issued_on"]

    def get_queryset(self):
        return notices_visible_to(self.request.user)

    @extend_schema(
        summary="The notice's PDF, exactly as issued (its SHA-256 is in the metadata)",
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    @action(detail=True, filter_backends=[], content_negotiation_class=FirstRendererNegotiation)
    def pdf(self, request, pk=None):
        return notice_pdf_response(self.get_object(), actor=request.user, via="api")


@extend_schema_view(list=extend_schema(summary="Dunning runs"), retrieve=extend_schema(summary="One dunning run"))
class RunViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.RunSerializer
    filterset_class = filters.RunFilter
    ordering_fields = ["id", "as_of"]
    permission_classes = [MAY_READ_RUNS]
    queryset = DunningRun.objects.all()


@csrf_exempt  # a POST to an unknown API address is a 404 like any other, not a CSRF failure page
def not_found(request, *args, **kwargs):
    """Any other address under /api/: the API's 404, in the API's error shape (not the portal's page)."""
    from .errors import error_body

    return JsonResponse(error_body("not_found", _("Not found.")), status=404)
