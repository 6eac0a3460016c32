"""What the API shows of each record, and the requests it accepts. Reading only: every write goes through
a service (views call them); serializers here parse and describe, nothing more."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dunning.models import CaseEvent, Channel, CollectionCase, ContactAttempt, DunningRun, PromiseToPay
from dunning.services.cases import NOTE_MAX_LENGTH
from lending.models import Borrower, Installment, Loan, Payment, PenaltyEntry, PenaltyPause
from lending.selectors import loan_penalty
from lending.services import EXTERNAL_REF_MAX_LENGTH, REVERSAL_REASON_MAX_LENGTH, SOURCE_MAX_LENGTH
from notices.models import Notice

from .strict import StrictCharField, StrictIdField, StrictMoneyAmountField


class BorrowerSerializer(serializers.ModelSerializer):
    """ID number and phone are masked: the full values are shown only in the portal, where each look is
    audited."""

    id_number = serializers.CharField(source="masked_id_number", read_only=True)
    phone = serializers.CharField(source="masked_phone", read_only=True)

    class Meta:
        model = Borrower
        fields = [
            "id", "kind", "name", "name_latin", "id_type", "id_number", "phone", "province", "city",
            "preferred_language", "time_zone", "risk_grade", "has_open_dispute", "is_bankrupt", "is_deceased",
            "cease_communication", "do_not_contact", "created_at",
        ]  # fmt: skip


class InstallmentSerializer(serializers.ModelSerializer):
    # A generated column: without this DRF would not know it is money and would send a float.
    outstanding_amount = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)

    class Meta:
        model = Installment
        fields = [
            "sequence", "due_date", "principal_amount", "interest_amount", "fee_amount", "penalty_amount",
            "principal_paid_amount", "interest_paid_amount", "fee_paid_amount", "penalty_paid_amount",
            "outstanding_amount", "penalty_exact_amount", "penalty_accrued_on",
        ]  # fmt: skip


class LoanSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="product.code", read_only=True)

    class Meta:
        model = Loan
        fields = [
            "id", "reference", "borrower", "product", "currency", "principal_amount", "annual_interest_rate",
            "monthly_fee_rate", "penalty_daily_rate", "term_months", "disbursed_on", "first_due_date",
            "maturity_date", "status", "settled_on", "credit_balance_amount", "days_past_due", "aging_bucket",
            "overdue_amount", "oldest_overdue_due_date", "penalty_base", "grace_days", "penalty_grace_rule",
            "penalty_compounds", "penalty_cost_cap_rate", "penalty_pause_in_plan", "penalty_pause_in_dispute",
            "penalty_terms_version", "penalty_accrued_amount",
        ]  # fmt: skip


class PenaltyEntrySerializer(serializers.ModelSerializer):
    installment = serializers.IntegerField(source="installment.sequence", read_only=True)
    removes = serializers.IntegerField(source="removes_id", read_only=True, allow_null=True)

    class Meta:
        model = PenaltyEntry
        fields = [
            "id", "installment", "accrued_on", "kind", "revision", "days", "base_amount", "daily_rate",
            "exact_amount", "amount", "removes", "cause_payment",
        ]  # fmt: skip


class PenaltyPauseSerializer(serializers.ModelSerializer):
    class Meta:
        model = PenaltyPause
        fields = ["reason", "started_on", "ended_on"]


class LoanPenaltySerializer(serializers.Serializer):
    """The loan's penalty interest: totals, pauses and the latest entries (newest first)."""

    charged = serializers.DecimalField(
        max_digits=18, decimal_places=2, help_text=_("Penalty charged so far, net of what was taken back.")
    )
    removed = serializers.DecimalField(
        max_digits=18, decimal_places=2, help_text=_("Taken back because money had arrived earlier.")
    )
    paid = serializers.DecimalField(max_digits=18, decimal_places=2, help_text=_("Penalty paid."))
    pauses = PenaltyPauseSerializer(many=True)
    entries = PenaltyEntrySerializer(many=True)


class LoanDetailSerializer(LoanSerializer):
    """A loan with its whole repayment schedule and its penalty interest."""

    schedule = InstallmentSerializer(source="installments", many=True, read_only=True)
    penalty = serializers.SerializerMethodField()

    class Meta(LoanSerializer.Meta):
        fields = [*LoanSerializer.Meta.fields, "schedule", "penalty"]

    @extend_schema_field(LoanPenaltySerializer)
    def get_penalty(self, loan):
        return LoanPenaltySerializer(loan_penalty(loan)).data


class PaymentSerializer(serializers.ModelSerializer):
    loan_reference = serializers.CharField(source="loan.reference", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id", "loan", "loan_reference", "source", "external_ref", "amount", "received_on", "channel",
            "status", "unallocated_amount", "reversed_on", "reversal_reason", "created_at",
        ]  # fmt: skip


class PaymentCreateSerializer(serializers.Serializer):
    """Posting is idempotent on (source, external_ref): the same request again answers 200 with the first
    payment; the same pair with another loan, amount or date answers 409."""

    loan_reference = StrictCharField(max_length=20, help_text=_("The loan's reference, e.g. LN-2026-000123."))
    source = StrictCharField(max_length=SOURCE_MAX_LENGTH, help_text=_("The sending system or bank file."))
    external_ref = StrictCharField(
        max_length=EXTERNAL_REF_MAX_LENGTH, help_text=_("The payment's id in the sending system.")
    )
    amount = StrictMoneyAmountField(help_text=_('Positive, in whole cents, e.g. "1200.50".'))
    received_on = serializers.DateField()
    channel = serializers.ChoiceField(choices=Payment.Channel.choices)


class PaymentReverseSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=REVERSAL_REASON_MAX_LENGTH)
    reversed_on = serializers.DateField(required=False, help_text=_("Defaults to the business date."))


class CaseSerializer(serializers.ModelSerializer):
    loan_reference = serializers.CharField(source="loan.reference", read_only=True)
    stage_name = serializers.CharField(source="stage.name", read_only=True, default="")

    class Meta:
        model = CollectionCase
        fields = [
            "id", "loan", "loan_reference", "borrower", "stage", "stage_name", "status", "is_open",
            "assigned_to", "team", "priority_score", "days_past_due", "aging_bucket", "opened_overdue_amount",
            "overdue_amount", "broken_promises", "legal_hold", "opened_on", "closed_on", "close_reason",
            "last_contact_at", "settlement_amount",
        ]  # fmt: skip


class CaseEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseEvent
        fields = ["id", "kind", "as_of", "occurred_at", "actor", "detail"]


class ContactAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactAttempt
        fields = [
            "id", "case", "borrower", "loan", "channel", "target_contact", "outcome", "decision", "rule",
            "profile", "note", "is_automatic", "actor", "attempted_at",
        ]  # fmt: skip


class ContactAttemptCreateSerializer(serializers.Serializer):
    """A contact about to be made, recorded now. It passes the same guardrails as in the portal, judged at
    the time of the request (the guardrail decides before a contact happens, so there is no way to
    record one at another time): a refused one is recorded as blocked and answers 422 with the rule's
    code."""

    case = StrictIdField(help_text=_("The case's id."))
    channel = serializers.ChoiceField(choices=Channel.choices)
    outcome = serializers.ChoiceField(choices=ContactAttempt.Outcome.choices, required=False, allow_blank=True)
    target_contact = StrictIdField(
        required=False, allow_null=True, help_text=_("A third party's contact id, when one was called.")
    )
    note = StrictCharField(trimmed=False, max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True)
    promise_amount = StrictMoneyAmountField(required=False, help_text=_("With promise_date: the promise made."))
    promise_date = serializers.DateField(required=False, help_text=_("With promise_amount: the pay-by date."))
    call_back_at = serializers.DateTimeField(
        required=False,
        help_text=_(
            "With the outcome call_back: when the borrower asked to be called back (ISO 8601 with its offset; "
            "later today or within 14 days, inside the borrower's contact hours). It becomes a callback task."
        ),
    )


class PromiseSerializer(serializers.ModelSerializer):
    class Meta:
        model = PromiseToPay
        fields = ["id", "case", "amount", "promised_for", "made_on", "status", "evaluated_on", "created_by"]


class PromiseCreateSerializer(serializers.Serializer):
    case = StrictIdField(help_text=_("The case's id."))
    amount = StrictMoneyAmountField()
    promised_for = serializers.DateField()


class NoticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notice
        fields = [
            "id", "reference", "kind", "language", "case", "loan", "borrower", "replaces", "correction_reason",
            "issued_on", "issued_at", "template_version", "sha256", "size_bytes", "page_count",
        ]  # fmt: skip


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = DunningRun
        fields = ["id", "as_of", "status", "started_at", "finished_at", "duration_ms", "attempts", "counts", "error"]
