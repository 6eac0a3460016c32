"""How a timeline entry reads in the workspace: one short line per kind, from the entry's detail."""

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from creditops.core.money import format_money

from ..models import ActionKind, ApprovalRequest, CaseEvent, Channel, CloseReason, ContactAttempt, NoticeKind
from ..services.guardrails import rule_label

register = template.Library()
Event = CaseEvent.Kind


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value or ""


def _contact(detail) -> str:
    return " — ".join(
        part
        for part in (_label(Channel, detail.get("channel")), _label(ContactAttempt.Outcome, detail.get("outcome")))
        if part
    )


def _blocked(detail) -> str:
    return _("%(channel)s refused by the rule %(rule)s") % {
        "channel": _label(Channel, detail.get("channel")),
        "rule": rule_label(detail.get("rule", "")),
    }


def _approval(detail) -> str:
    kind = _label(ApprovalRequest.Kind, detail.get("kind"))
    if "approved" not in detail:
        return kind
    return _("%(kind)s: approved") % {"kind": kind} if detail["approved"] else _("%(kind)s: rejected") % {"kind": kind}


SUMMARIES = {
    Event.OPENED: lambda d: _("DPD %(dpd)s, overdue %(overdue)s") % {"dpd": d.get("dpd"), "overdue": d.get("overdue")},
    Event.STAGE_CHANGED: lambda d: _("to %(stage)s at DPD %(dpd)s") % {"stage": d.get("stage"), "dpd": d.get("dpd")},
    Event.CONTACT: _contact,
    Event.CONTACT_BLOCKED: _blocked,
    Event.NOTE: lambda d: d.get("text", ""),
    Event.PROMISE: lambda d: _("%(amount)s by %(date)s") % {"amount": d.get("amount"), "date": d.get("promised_for")},
    Event.DISPUTE_RAISED: lambda d: d.get("reason", ""),
    Event.DISPUTE_RESOLVED: lambda d: d.get("resolution", ""),
    Event.APPROVAL_REQUESTED: _approval,
    Event.APPROVAL_DECIDED: _approval,
    Event.NOTICE: lambda d: " ".join(
        part for part in (d.get("reference", ""), _label(NoticeKind, d.get("kind")), d.get("status", "")) if part
    ),
    Event.PAYMENT: lambda d: (
        (_("%(amount)s reversed") if d.get("reversed") else _("%(amount)s received")) % {"amount": d.get("amount")}
    ),
    Event.CLOSED: lambda d: _label(CloseReason, d.get("reason")),
    Event.ACTION_DONE: lambda d: _label(ActionKind, d.get("kind")),
}


@register.filter
def event_summary(event: CaseEvent) -> str:
    summary = SUMMARIES.get(event.kind)
    return summary(event.detail or {}) if summary else ""


@register.filter
def money(amount, currency: str = "") -> str:
    """1234.5 → '1,234.50 CNY'."""
    return format_money(amount, currency)


@register.filter(name="rule_label")
def rule_label_filter(code: str) -> str:
    """contact.quiet_hours → "Outside contact hours" (translated)."""
    return rule_label(code)


@register.filter
def event_when(event: CaseEvent) -> str:
    """When the entry happened: its time when it was recorded on its business date, otherwise the business
    date with the time it was recorded (a payment received on the 1st and posted on the 4th)."""
    recorded = timezone.localtime(event.occurred_at)
    if recorded.date() == event.as_of:
        return recorded.strftime("%Y-%m-%d %H:%M")
    return _("%(date)s (recorded %(recorded)s)") % {
        "date": event.as_of.isoformat(),
        "recorded": recorded.strftime("%Y-%m-%d %H:%M"),
    }
