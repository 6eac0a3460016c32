"""What the API shows of each record, and the requests it accepts. Reading only: every write goes through
a service (views call them); serializers here parse and describe, nothing more."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dunning.models import CaseEvent, Channel, CollectionCase, ContactAttempt, DunningRun, PromiseToPay
from dunning.services.cases import NOTE_MAX_LENGTH
from lending.models import (
    Borrower,
    Installment,
    LedgerEntry,
    Loan,
    Payment,
    PenaltyEntry,
    PenaltyPause,
    Restructuring,
    Settlement,
    SettlementInstalment,
)
from lending.selectors import loan_adjustments, loan_penalty
from lending.services import EXTERNAL_REF_MAX_LENGTH, REVERSAL_REASON_MAX_LENGTH, SOURCE_MAX_LENGTH
from lending.write_off import written_off_summary
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


def money(help_text, **kwargs):
    """A read-only amount as the API sends every amount: a string with two decimals."""
    return serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True, help_text=help_text, **kwargs)


class InstallmentSerializer(serializers.ModelSerializer):
    # A generated column: without this DRF would not know it is money and would send a float.
    outstanding_amount = serializers.DecimalField(
        max_digits=18,
        decimal_places=2,
        read_only=True,
        help_text=_("Due + penalty accrued - paid - adjusted (waived, written off, restructured)."),
    )

    class Meta:
        model = Installment
        fields = [
            "sequence", "due_date", "principal_amount", "interest_amount", "fee_amount", "penalty_amount",
            "principal_paid_amount", "interest_paid_amount", "fee_paid_amount", "penalty_paid_amount",
            "outstanding_amount", "penalty_exact_amount", "penalty_accrued_on",
            "effective_due_date", "principal_adjusted_amount", "interest_adjusted_amount", "fee_adjusted_amount",
            "penalty_adjusted_amount",
        ]  # fmt: skip
        extra_kwargs = {
            "effective_due_date": {
                "help_text": _(
                    "The day days past due and penalty count from: the due date, or the next business day when "
                    "the product moves due dates off weekends and public holidays."
                )
            },
            "principal_adjusted_amount": {
                "help_text": _(
                    "Principal closed without money by ledger entries: waived (or by a settlement's discount), "
                    "written off and not recovered, or closed by a restructuring."
                )
            },
            "interest_adjusted_amount": {
                "help_text": _(
                    "Interest closed without money by ledger entries: waived (or by a settlement's discount), "
                    "written off and not recovered, or closed by a restructuring."
                )
            },
            "fee_adjusted_amount": {
                "help_text": _(
                    "Fees closed without money by ledger entries: waived (or by a settlement's discount), "
                    "written off and not recovered, or closed by a restructuring."
                )
            },
            "penalty_adjusted_amount": {
                "help_text": _(
                    "Penalty closed without money by ledger entries: waived (or by a settlement's discount), "
                    "written off and not recovered, or closed by a restructuring."
                )
            },
        }


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
            "written_off_on", "written_off_amount", "restructure_count", "restructured_on",
            "restructure_watch_until", "capitalised_amount",
        ]  # fmt: skip
        extra_kwargs = {
            "status": {
                "help_text": _(
                    "active; settled (paid in full); settled_discount (an agreed settlement was paid by its "
                    "deadline and the rest waived); written_off (off balance; the borrower still owes it)."
                )
            },
            "settled_on": {"help_text": _("When the loan was settled, in full or with discount.")},
            "credit_balance_amount": {"help_text": _("Money received beyond everything owed, not yet refunded.")},
            "written_off_on": {"help_text": _("When the loan was written off; null if it is not written off.")},
            "written_off_amount": {
                "help_text": _("What stays written off: the write-off less what recoveries paid since.")
            },
            "restructure_count": {"help_text": _("How many times the loan was restructured.")},
            "restructured_on": {"help_text": _("The day of the last restructuring.")},
            "restructure_watch_until": {"help_text": _("The end of the watch period after the last restructuring.")},
            "capitalised_amount": {
                "help_text": _("Arrears (interest, fees, penalty) made principal by restructurings, in all.")
            },
        }


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


class WaivedSerializer(serializers.Serializer):
    """Waived of each part, by waivers and settlement discounts, net of their reversals."""

    penalty_amount = money(_("Penalty interest waived."), source="penalty")
    fee_amount = money(_("Fees waived."), source="fee")
    interest_amount = money(_("Interest waived."), source="interest")
    principal_amount = money(_("Principal waived."), source="principal")
    total_amount = money(_("All parts waived."), source="total")


class WriteOffSerializer(serializers.Serializer):
    """The write-off and what was recovered since (all zero for a loan never written off)."""

    written_off_amount = money(_("Written off, in all."), source="written_off")
    recovered_amount = money(
        _("Money received since and allocated as recoveries, net of reversals."), source="recovered"
    )
    recovered_principal_amount = money(_("The principal part of the recoveries."), source="recovered_principal")
    still_written_off_amount = money(_("What stays written off (the loan's written_off_amount)."), source="left")
    written_off_on = serializers.DateField(
        read_only=True, allow_null=True, help_text=_("When the loan was written off; null if it is not now.")
    )
    undo_until = serializers.DateField(
        read_only=True, allow_null=True, help_text=_("The last day the write-off can be undone; null if none.")
    )


class LedgerEntrySerializer(serializers.ModelSerializer):
    reverses = serializers.IntegerField(
        source="reverses_id", read_only=True, allow_null=True, help_text=_("The id of the entry this one takes back.")
    )
    payment = serializers.IntegerField(
        source="payment_id", read_only=True, allow_null=True, help_text=_("A recovery's payment id.")
    )

    class Meta:
        model = LedgerEntry
        fields = [
            "id", "kind", "component", "effective_on", "amount", "requested_amount", "reason", "authority",
            "reverses", "payment", "created_at",
        ]  # fmt: skip
        extra_kwargs = {
            "kind": {
                "help_text": _(
                    "waiver, settlement_discount, write_off, recovery (reinstates what a recovery paid), "
                    "write_off_undo, restructure (the old schedule closed)."
                )
            },
            "component": {"help_text": _("The part a waiver waives; empty for the other kinds (every part).")},
            "effective_on": {"help_text": _("The day the entry takes effect.")},
            "amount": {"help_text": _("What the entry closes, net; negative when it reinstates debt.")},
            "requested_amount": {"help_text": _("A waiver's amount as asked for; null for the other kinds.")},
            "reason": {"help_text": _("Why.")},
            "authority": {"help_text": _("Whose decision this carries out, e.g. the approval's number.")},
            "created_at": {"help_text": _("When the entry was recorded.")},
        }


class SettlementInstalmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = SettlementInstalment
        fields = ["sequence", "due_date", "amount"]
        extra_kwargs = {
            "sequence": {"help_text": _("The instalment's number, from 1.")},
            "due_date": {
                "help_text": _("By this day payments since the agreement must reach this and the instalments before.")
            },
            "amount": {"help_text": _("This instalment's part of the agreed amount.")},
        }


class SettlementSerializer(serializers.ModelSerializer):
    paid_amount = money(
        _("Payments received from starts_on to the deadline, towards the agreed amount."), source="paid"
    )
    discount_amount = money(_("Owed when agreed less the agreed amount."))
    instalments = SettlementInstalmentSerializer(
        many=True, read_only=True, help_text=_("The agreed steps towards the agreed amount, if any, in order.")
    )

    class Meta:
        model = Settlement
        fields = [
            "id", "agreed_amount", "owed_amount", "discount_amount", "starts_on", "deadline", "status", "ended_on",
            "end_reason", "paid_amount", "authority", "instalments",
        ]  # fmt: skip
        extra_kwargs = {
            "agreed_amount": {"help_text": _("What settles the loan if paid by the deadline.")},
            "owed_amount": {"help_text": _("What the loan owed in all when the settlement was agreed.")},
            "starts_on": {"help_text": _("Payments received from this day on count towards the agreed amount.")},
            "deadline": {"help_text": _("The agreed amount must be received by this day.")},
            "status": {
                "help_text": _("active (waiting for payment), settled (paid: the loan settled), lapsed or cancelled.")
            },
            "ended_on": {"help_text": _("When it was paid, lapsed or was cancelled.")},
            "end_reason": {"help_text": _("Why it ended; empty while active.")},
            "authority": {"help_text": _("Whose decision it carries out.")},
        }


class RestructuringSerializer(serializers.ModelSerializer):
    closing_entry = serializers.IntegerField(
        source="closing_entry_id", read_only=True, help_text=_("The id of the entry that closed the old schedule.")
    )

    class Meta:
        model = Restructuring
        fields = [
            "id", "method", "effective_on", "term_months", "first_due_date", "first_sequence", "arrears_amount",
            "principal_amount", "capitalised_amount", "carried_amount", "closing_entry", "authority",
        ]  # fmt: skip
        extra_kwargs = {
            "method": {
                "help_text": _(
                    "capitalise (the arrears become principal) or carry_to_end (the arrears' principal becomes "
                    "principal, their interest, fees and penalty fall due with the last new installment)."
                )
            },
            "effective_on": {"help_text": _("The day of the restructuring.")},
            "term_months": {"help_text": _("The new schedule's term.")},
            "first_due_date": {"help_text": _("The new schedule's first due date.")},
            "first_sequence": {"help_text": _("The sequence of the new schedule's first installment.")},
            "arrears_amount": {"help_text": _("What the old schedule's overdue installments still owed.")},
            "principal_amount": {"help_text": _("The new schedule's principal.")},
            "capitalised_amount": {"help_text": _("Arrears (other than principal) capitalised.")},
            "carried_amount": {"help_text": _("Arrears (other than principal) carried to the last installment.")},
            "authority": {"help_text": _("Whose decision it carries out.")},
        }


class LoanAdjustmentsSerializer(serializers.Serializer):
    """What ledger entries did to the loan without money: waivers, settlements, restructurings, the
    write-off and recoveries."""

    waived = WaivedSerializer(help_text=_("Waived of each part."))
    write_off = WriteOffSerializer(help_text=_("The write-off and the recoveries since."))
    entries = LedgerEntrySerializer(many=True, help_text=_("The latest ledger entries (at most 30), newest first."))
    settlements = SettlementSerializer(many=True, help_text=_("The latest settlements (at most 5), newest first."))
    restructurings = RestructuringSerializer(many=True, help_text=_("Every restructuring, newest first."))


class LoanDetailSerializer(LoanSerializer):
    """A loan with its whole repayment schedule, its penalty interest and its ledger entries."""

    schedule = InstallmentSerializer(source="installments", many=True, read_only=True)
    penalty = serializers.SerializerMethodField()
    adjustments = serializers.SerializerMethodField()

    class Meta(LoanSerializer.Meta):
        fields = [*LoanSerializer.Meta.fields, "schedule", "penalty", "adjustments"]

    @extend_schema_field(LoanPenaltySerializer)
    def get_penalty(self, loan):
        return LoanPenaltySerializer(loan_penalty(loan)).data

    @extend_schema_field(LoanAdjustmentsSerializer)
    def get_adjustments(self, loan):
        # A bounded number of queries whatever the number of entries (see loan_adjustments).
        found = loan_adjustments(loan, schedule=list(loan.installments.all()))
        return LoanAdjustmentsSerializer(
            {
                "waived": {**found["waived"], "total": found["waived_total"]},
                # Never written off: its figures are zero (the selector reads them only for a loan that was).
                "write_off": found["write_off"] or written_off_summary(loan),
                "entries": found["entries"],
                "settlements": found["settlements"],
                "restructurings": found["restructurings"],
            }
        ).data


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
