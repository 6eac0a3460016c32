"""Forms of the case workspace, the team queue and the approvals inbox. Each form checks the shape of what
was typed and hands it to one service (`submit`); the rules themselves live in the services, whose
DomainError comes back as a form error so the page keeps what the user typed."""

from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from lending.models import BorrowerContact, Component, Restructuring
from lending.settlements import MAX_INSTALMENTS as MAX_SETTLEMENT_INSTALMENTS
from notices.services.issue import ISSUED_BY_HAND, notice_issue

from .models import ActionKind, ApprovalRequest, Channel, CollectionCase, ContactAttempt, Dispute
from .services.approvals import (
    MAX_PLAN_INSTALLMENTS,
    REASON_MAX_LENGTH,
    PlanFrequency,
    approval_request,
    approvals_decide,
    plan_installments_even,
    plan_request,
    restructure_request,
    settlement_request,
    settlement_withdraw,
    waiver_request,
    write_off_undo_request,
)
from .services.cases import (
    NOTE_MAX_LENGTH,
    case_note_add,
    cases_reassign,
    contact_attempt_log,
    dispute_raise,
    dispute_resolve,
    promise_record,
)
from .services.reviews import ReviewOutcome, review_complete

BORROWER = "borrower"
DATE_INPUT = forms.DateInput(attrs={"type": "date"})
AMOUNT_FIELD = {"max_digits": 18, "decimal_places": 2, "min_value": 0.01}


class CaseForm(forms.Form):
    """A form about one case; `submit(actor)` performs it and returns the message to show. `button` is
    the label of its submit button."""

    button = ""

    def __init__(self, *args, case: CollectionCase, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case

    def submit(self, actor) -> str:
        raise NotImplementedError


class PromiseFields(forms.Form):
    promise_amount = forms.DecimalField(label=_("Promised amount"), required=False, **AMOUNT_FIELD)
    promised_for = forms.DateField(label=_("Pay by"), required=False, widget=DATE_INPUT)


class ContactForm(PromiseFields, CaseForm):
    prefix = "contact"
    button = _("Log contact")
    field_order = ["channel", "target", "outcome", "promise_amount", "promised_for", "call_back_at", "note"]
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.CALL)
    target = forms.ChoiceField(label=_("Who"))
    outcome = forms.ChoiceField(label=_("Outcome"), choices=ContactAttempt.Outcome.choices)
    call_back_at = forms.DateTimeField(
        label=_("Call back at (the borrower's local time)"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )  # fmt: skip
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        self.fields["target"].choices = [(BORROWER, _("The borrower"))] + [
            (str(contact.pk), f"{contact.name} ({contact.get_relation_display()})")
            for contact in case.borrower.contacts.order_by("id")
        ]

    def clean_call_back_at(self):
        """Typed as the borrower said it, in their time zone (a London borrower's 15:00 is 15:00 London)."""
        value = self.cleaned_data["call_back_at"]
        if value is None:
            return None
        zone = ZoneInfo(self.case.borrower.time_zone)
        return timezone.make_aware(timezone.make_naive(value), zone) if timezone.is_aware(value) else value

    def clean(self):
        data = super().clean()
        if data.get("outcome") == ContactAttempt.Outcome.PROMISE_TO_PAY:
            for name in ("promise_amount", "promised_for"):
                if not data.get(name):
                    self.add_error(name, _("A promise to pay needs an amount and a date."))
        if data.get("outcome") == ContactAttempt.Outcome.CALL_BACK and not data.get("call_back_at"):
            self.add_error("call_back_at", _("Say when the borrower asked to be called back."))
        return data

    def target_contact(self):
        target = self.cleaned_data["target"]
        if target == BORROWER:
            return None
        return BorrowerContact.objects.get(pk=int(target), borrower_id=self.case.borrower_id)

    def submit(self, actor) -> str:
        promised = self.cleaned_data["outcome"] == ContactAttempt.Outcome.PROMISE_TO_PAY
        contact_attempt_log(
            case=self.case, channel=self.cleaned_data["channel"], outcome=self.cleaned_data["outcome"], actor=actor,
            target_contact=self.target_contact(), note=self.cleaned_data["note"],
            promise=(self.cleaned_data["promise_amount"], self.cleaned_data["promised_for"]) if promised else None,
            call_back_at=self.cleaned_data["call_back_at"],
        )  # fmt: skip
        return gettext("Contact logged and promise to pay recorded.") if promised else gettext("Contact logged.")


class PromiseForm(PromiseFields, CaseForm):
    prefix = "promise"
    button = _("Record promise")

    def clean(self):
        data = super().clean()
        for name in ("promise_amount", "promised_for"):
            if not data.get(name):
                self.add_error(name, _("This field is required."))
        return data

    def submit(self, actor) -> str:
        promise_record(
            case=self.case, amount=self.cleaned_data["promise_amount"], promised_for=self.cleaned_data["promised_for"],
            actor=actor,
        )  # fmt: skip
        return gettext("Promise to pay recorded.")


class NoteForm(CaseForm):
    prefix = "note"
    button = _("Add note")
    text = forms.CharField(label=_("Note"), max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3}))

    def submit(self, actor) -> str:
        case_note_add(case=self.case, text=self.cleaned_data["text"], actor=actor)
        return gettext("Note added.")


class DisputeForm(CaseForm):
    prefix = "dispute"
    button = _("Raise dispute")
    reason = forms.CharField(label=_("What the borrower disputes"), widget=forms.Textarea(attrs={"rows": 3}))

    def submit(self, actor) -> str:
        dispute_raise(case=self.case, reason=self.cleaned_data["reason"], actor=actor)
        return gettext("Dispute raised: the case is on hold until it is resolved.")


class DisputeResolveForm(CaseForm):
    prefix = "resolve"
    button = _("Resolve")
    dispute = forms.ModelChoiceField(label=_("Dispute"), queryset=Dispute.objects.none())
    resolution = forms.CharField(label=_("Resolution"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        self.fields["dispute"].queryset = case.disputes.filter(status=Dispute.Status.OPEN)

    def submit(self, actor) -> str:
        dispute_resolve(dispute=self.cleaned_data["dispute"], resolution=self.cleaned_data["resolution"], actor=actor)
        return gettext("Dispute resolved.")


class PlanForm(CaseForm):
    prefix = "plan"
    button = _("Request plan")
    installments = forms.IntegerField(label=_("Instalments"), min_value=1, max_value=MAX_PLAN_INSTALLMENTS, initial=3)
    first_due = forms.DateField(label=_("First instalment due"), widget=DATE_INPUT)
    frequency = forms.ChoiceField(
        label=_("Every"),
        choices=[
            (PlanFrequency.MONTHLY, _("month")),
            (PlanFrequency.FORTNIGHTLY, _("two weeks")),
            (PlanFrequency.WEEKLY, _("week")),
        ],
    )
    reason = forms.CharField(label=_("Hardship reason"), widget=forms.Textarea(attrs={"rows": 2}))

    def installments_planned(self) -> list[tuple]:
        """The instalments the plan would have, shown before it is requested (a DomainError if none fit)."""
        return plan_installments_even(
            total=self.case.loan.overdue_amount, count=self.cleaned_data["installments"],
            first_due=self.cleaned_data["first_due"], frequency=self.cleaned_data["frequency"],
        )  # fmt: skip

    def submit(self, actor) -> str:
        rows = self.installments_planned()
        plan_request(case=self.case, installments=rows, reason=self.cleaned_data["reason"], actor=actor)
        return gettext("Payment plan requested; a supervisor will decide.")


class PlanPreviewForm(PlanForm):
    """The plan form's terms without the reason: enough to show the instalments as they are typed."""

    reason = None


ESCALATION_KINDS = [
    ApprovalRequest.Kind.LEGAL_REFERRAL,
    ApprovalRequest.Kind.CREDIT_BUREAU_REPORT,
    ApprovalRequest.Kind.WRITE_OFF,
    ApprovalRequest.Kind.WRITE_OFF_UNDO,
]


class EscalationForm(CaseForm):
    """Legal referral, credit-bureau report, write-off (of all the loan owes) or its undo."""

    prefix = "escalate"
    button = _("Send for approval")
    kind = forms.ChoiceField(label=_("Request"), choices=[(kind.value, kind.label) for kind in ESCALATION_KINDS])
    reason = forms.CharField(label=_("Why"), widget=forms.Textarea(attrs={"rows": 2}))

    def submit(self, actor) -> str:
        if self.cleaned_data["kind"] == ApprovalRequest.Kind.WRITE_OFF_UNDO:
            write_off_undo_request(case=self.case, reason=self.cleaned_data["reason"], actor=actor)
        else:
            approval_request(
                case=self.case, kind=self.cleaned_data["kind"], reason=self.cleaned_data["reason"], actor=actor
            )
        return gettext("Request sent for approval.")


class WaiverForm(CaseForm):
    prefix = "waiver"
    button = _("Request waiver")
    component = forms.ChoiceField(label=_("Waive"), choices=Component.choices, initial=Component.PENALTY)
    amount = forms.DecimalField(label=_("Amount"), **AMOUNT_FIELD)
    reason = forms.CharField(label=_("Why"), widget=forms.Textarea(attrs={"rows": 2}))

    def submit(self, actor) -> str:
        waiver_request(
            case=self.case, component=self.cleaned_data["component"], amount=self.cleaned_data["amount"],
            reason=self.cleaned_data["reason"], actor=actor,
        )  # fmt: skip
        return gettext("Waiver requested; a supervisor will decide.")


class SettlementForm(CaseForm):
    """A settlement: the agreed amount by a deadline, in one payment or in even instalments before it."""

    prefix = "settlement"
    button = _("Request settlement")
    amount = forms.DecimalField(label=_("Agreed amount"), **AMOUNT_FIELD)
    deadline = forms.DateField(label=_("Paid by"), widget=DATE_INPUT)
    instalments = forms.IntegerField(
        label=_("Instalments"), min_value=1, max_value=MAX_SETTLEMENT_INSTALMENTS, initial=1,
        help_text=_("1: the whole amount by the deadline."),
    )  # fmt: skip
    first_due = forms.DateField(label=_("First instalment due"), required=False, widget=DATE_INPUT)
    frequency = forms.ChoiceField(label=_("Every"), choices=PlanForm.base_fields["frequency"].choices, required=False)
    reason = forms.CharField(label=_("Why"), widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self):
        data = super().clean()
        if (data.get("instalments") or 1) > 1 and not (data.get("first_due") and data.get("frequency")):
            self.add_error("first_due", _("Instalments need the first one's date and how often they fall due."))
        return data

    def submit(self, actor) -> str:
        data = self.cleaned_data
        rows = []
        if data["instalments"] > 1:
            rows = plan_installments_even(
                total=data["amount"], count=data["instalments"], first_due=data["first_due"],
                frequency=data["frequency"],
            )  # fmt: skip
        settlement_request(
            case=self.case, amount=data["amount"], deadline=data["deadline"], instalments=rows,
            reason=data["reason"], actor=actor,
        )  # fmt: skip
        return gettext("Settlement requested; a supervisor will decide.")


class SettlementWithdrawForm(CaseForm):
    prefix = "withdraw"
    button = _("Withdraw")
    reason = forms.CharField(label=_("Why"), widget=forms.Textarea(attrs={"rows": 2}))

    def submit(self, actor) -> str:
        settlement_withdraw(case=self.case, reason=self.cleaned_data["reason"], actor=actor)
        return gettext("Settlement withdrawn: the case is back on the ladder.")


class RestructureForm(CaseForm):
    prefix = "restructure"
    button = _("Request restructuring")
    method = forms.ChoiceField(label=_("Arrears"), choices=Restructuring.Method.choices)
    term_months = forms.IntegerField(label=_("New term (months)"), min_value=1, max_value=360, initial=12)
    first_due_date = forms.DateField(label=_("First new due date"), widget=DATE_INPUT)
    reason = forms.CharField(label=_("Hardship reason"), widget=forms.Textarea(attrs={"rows": 2}))

    def submit(self, actor) -> str:
        restructure_request(
            case=self.case, method=self.cleaned_data["method"], term_months=self.cleaned_data["term_months"],
            first_due_date=self.cleaned_data["first_due_date"], reason=self.cleaned_data["reason"], actor=actor,
        )  # fmt: skip
        return gettext("Restructuring requested; a supervisor will decide.")


class NoticeIssueForm(CaseForm):
    prefix = "notice"
    button = _("Issue notice")
    kind = forms.ChoiceField(label=_("Notice"), choices=[(kind.value, kind.label) for kind in ISSUED_BY_HAND])

    def submit(self, actor) -> str:
        notice = notice_issue(case=self.case, kind=self.cleaned_data["kind"], actor=actor)
        return gettext("Notice %(reference)s issued.") % {"reference": notice.reference}


class ReviewForm(CaseForm):
    """Completes the case's pending supervisor review (the form shows only while one is pending)."""

    prefix = "review"
    button = _("Complete review")
    outcome = forms.ChoiceField(label=_("What happens next"), choices=ReviewOutcome.choices)
    note = forms.CharField(
        label=_("What the review found"), max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, case, action=None, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        self.action = action or case.actions.filter(kind=ActionKind.SUPERVISOR_REVIEW, status="pending").first()

    def submit(self, actor) -> str:
        if self.action is None:
            return gettext("This review is already done.")
        review_complete(action=self.action, outcome=self.cleaned_data["outcome"], note=self.cleaned_data["note"],
                        actor=actor)  # fmt: skip
        outcome = ReviewOutcome(self.cleaned_data["outcome"]).label
        return gettext("Review completed: %(outcome)s.") % {"outcome": outcome}


# The workspace's forms by the name in their URL (/cases/<id>/<name>/).
CASE_FORMS = {
    "contact": ContactForm,
    "promise": PromiseForm,
    "note": NoteForm,
    "dispute": DisputeForm,
    "resolve": DisputeResolveForm,
    "plan": PlanForm,
    "escalate": EscalationForm,
    "waiver": WaiverForm,
    "settlement": SettlementForm,
    "withdraw": SettlementWithdrawForm,
    "restructure": RestructureForm,
    "notice": NoticeIssueForm,
    "review": ReviewForm,
}


class ReassignForm(forms.Form):
    cases = forms.ModelMultipleChoiceField(label=_("Cases"), queryset=CollectionCase.objects.none())
    collector = forms.ModelChoiceField(label=_("Give to"), queryset=User.objects.none())
    reason = forms.CharField(label=_("Reason"), required=False, max_length=200)

    def __init__(self, *args, collectors, cases, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collector"].queryset = collectors
        # Cases outside `cases` (the reassigner's open cases) are "not one of the available choices".
        self.fields["cases"].queryset = cases

    def submit(self, actor) -> str:
        moved = cases_reassign(
            case_ids=[case.pk for case in self.cleaned_data["cases"]], collector=self.cleaned_data["collector"],
            actor=actor,
            reason=self.cleaned_data["reason"],
        )  # fmt: skip
        return gettext("%(count)d case(s) given to %(user)s.") % {
            "count": moved,
            "user": self.cleaned_data["collector"],
        }


class DecisionForm(forms.Form):
    """One decision and one reason for the requests ticked in the inbox."""

    APPROVE, REJECT = "approve", "reject"
    approvals = forms.ModelMultipleChoiceField(
        queryset=ApprovalRequest.objects.none(),
        error_messages={
            "required": _("Tick the requests to decide."),
            "invalid_choice": _("Request %(value)s is no longer waiting for your decision; nothing was decided."),
        },
    )
    decision = forms.ChoiceField(choices=[(APPROVE, _("Approve")), (REJECT, _("Reject"))])
    reason = forms.CharField(
        label=_("Reason for the decision"), max_length=REASON_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Give a reason for the decision.")},
    )  # fmt: skip

    def __init__(self, *args, decidable, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["approvals"].queryset = decidable

    def submit(self, actor) -> str:
        approve = self.cleaned_data["decision"] == self.APPROVE
        chosen = list(self.cleaned_data["approvals"].select_related("case__loan"))
        count = approvals_decide(approvals=chosen, approve=approve, reason=self.cleaned_data["reason"], actor=actor)
        if approve:
            return ngettext("%(count)d request approved.", "%(count)d requests approved.", count) % {"count": count}
        return ngettext("%(count)d request rejected.", "%(count)d requests rejected.", count) % {"count": count}


class InboxFilterForm(forms.Form):
    """The approvals inbox's filters: kind, team, how long the request has waited."""

    WAITING = [("", _("Any")), ("1", _("1 day or more")), ("3", _("3 days or more")), ("7", _("7 days or more")),
               ("14", _("14 days or more"))]  # fmt: skip
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("Any")), *ApprovalRequest.Kind.choices])
    team = forms.ModelChoiceField(label=_("Team"), required=False, queryset=None, empty_label=_("Any"))
    waiting = forms.ChoiceField(label=_("Waiting"), required=False, choices=WAITING)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams

    def criteria(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        team = data.get("team")
        return {
            "kind": data.get("kind", ""),
            "team_id": team.pk if team else None,
            "waiting_days": int(data["waiting"]) if data.get("waiting") else None,
        }
