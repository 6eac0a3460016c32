"""The audit trail in words: each event code and each detail as a reader of either language reads it. The
codes stay stored (and in the export beside the words) so a search or a script still finds them. Apps
above accounts register how their own detail values read (a guardrail rule's code → its name), so this
module knows none of them."""

from collections.abc import Callable

from django.apps import apps
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from creditops.core.money import format_money

EVENT_LABELS = {
    "action.completed": _("Stage action completed"),
    "admin.exported": _("Admin list exported"),
    "api_key.issued": _("API key issued"),
    "api_key.revoked": _("API key revoked"),
    "approval.decided": _("Approval decided"),
    "approval.requested": _("Approval requested"),
    "audit.exported": _("Audit trail exported"),
    "borrower.created": _("Borrower created"),
    "case.assigned": _("Case assigned"),
    "contact.blocked": _("Contact refused by a guardrail"),
    "dashboard.exported": _("Dashboard exported"),
    "demo.seeded": _("Demo data created"),
    "dispute.raised": _("Dispute raised"),
    "dispute.resolved": _("Dispute resolved"),
    "dunning.run": _("Nightly run"),
    "guardrailprofile.versioned": _("Guardrail profile versioned"),
    "loan.created": _("Loan booked"),
    "loan.written_off": _("Loan written off"),
    "notice.bounced": _("Notice returned undelivered"),
    "notice.downloaded": _("Notice downloaded"),
    "notice.issued": _("Notice issued"),
    "notice.previewed": _("Notice previewed"),
    "notice.print_batch": _("Notices printed"),
    "payment.posted": _("Payment posted"),
    "payment.reversed": _("Payment reversed"),
    "payments.imported": _("Payments imported"),
    "risk_model.approved": _("Risk model approved"),
    "risk_model.rejected": _("Risk model rejected"),
    "risk_model.trained": _("Risk model trained"),
    "personal_data.revealed": _("Personal data revealed"),
    "personal_data.viewed": _("Personal data viewed"),
    "promise.recorded": _("Promise to pay recorded"),
    "report.sent": _("Monthly report sent"),
    "review.completed": _("Supervisor review completed"),
    "borrowers.imported": _("Borrowers imported"),
    "loans.imported": _("Loans imported"),
}

DETAIL_LABELS = {
    "action": pgettext_lazy("audit detail", "action"),
    "amount": pgettext_lazy("audit detail", "amount"),
    "approval": pgettext_lazy("audit detail", "approval request"),
    "approved": pgettext_lazy("audit detail", "approved"),
    "as_of": pgettext_lazy("audit detail", "business date"),
    "attempt": pgettext_lazy("audit detail", "contact attempt"),
    "borrowers": pgettext_lazy("audit detail", "borrowers"),
    "case": pgettext_lazy("audit detail", "case"),
    "channel": pgettext_lazy("audit detail", "channel"),
    "delivery": pgettext_lazy("audit detail", "delivery"),
    "deliveries": pgettext_lazy("audit detail", "deliveries"),
    "export": pgettext_lazy("audit detail", "export"),
    "field": pgettext_lazy("audit detail", "field"),
    "filters": pgettext_lazy("audit detail", "filters"),
    "format": pgettext_lazy("audit detail", "file format"),
    "kind": pgettext_lazy("audit detail", "kind"),
    "loans": pgettext_lazy("audit detail", "loans"),
    "month": pgettext_lazy("audit detail", "month"),
    "note": pgettext_lazy("audit detail", "note"),
    "notice": pgettext_lazy("audit detail", "notice"),
    "outcome": pgettext_lazy("audit detail", "outcome"),
    "payments": pgettext_lazy("audit detail", "payments"),
    "profile": pgettext_lazy("audit detail", "profile"),
    "reason": pgettext_lazy("audit detail", "reason"),
    "reference": pgettext_lazy("audit detail", "reference number"),
    "replaces": pgettext_lazy("audit detail", "replaces"),
    "requirements": pgettext_lazy("audit detail", "requirements"),
    "rows": pgettext_lazy("audit detail", "rows"),
    "rule": pgettext_lazy("audit detail", "rule"),
    "seed": pgettext_lazy("audit detail", "seed"),
    "status": pgettext_lazy("audit detail", "status"),
    "table": pgettext_lazy("audit detail", "table"),
    "team": pgettext_lazy("audit detail", "team"),
    "third_party": pgettext_lazy("audit detail", "third party"),
    "to": pgettext_lazy("audit detail", "assigned to"),
}

# key → how its value reads; the apps that write a detail add theirs (see register_detail_words).
_VALUE_WORDS: dict[str, Callable[[object], str]] = {"amount": format_money}


def register_detail_words(key: str, words: Callable[[object], str]) -> None:
    _VALUE_WORDS[key] = words


def event_label(code: str) -> str:
    label = EVENT_LABELS.get(code)
    return str(label) if label is not None else code


def subject_label(subject_type: str) -> str:
    """ "dunning.contactattempt" → "contact attempt" (the model's name in the reader's language)."""
    if not subject_type:
        return ""
    try:
        return str(apps.get_model(subject_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return subject_type


def detail_words(detail: dict) -> str:
    """The detail as "label: value" pairs in the reader's language."""
    return "; ".join(f"{_label(key)}: {_value(key, value)}" for key, value in sorted((detail or {}).items()))


def _label(key: str) -> str:
    label = DETAIL_LABELS.get(key)
    return str(label) if label is not None else key.replace("_", " ")


def detail_value(key: str, value) -> str:
    return _value(key, value)


def _value(key: str, value) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    words = _VALUE_WORDS.get(key)
    if words is not None:
        return str(words(value))
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return "(" + detail_words(value) + ")"
    return str(value)
