"""How a timeline entry reads in the workspace: one short line per kind, from the entry's detail."""

import datetime
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from creditops.core.money import format_money
from lending.models import Component, LedgerEntry, Restructuring, Settlement

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


def _approval_requested(detail, currency) -> str:
    """ "Waiver 20.00 CNY", or the kind alone when the request names no amount."""
    kind = _label(ApprovalRequest.Kind, detail.get("kind"))
    if not detail.get("amount"):
        return kind
    return _("%(kind)s %(amount)s") % {"kind": kind, "amount": _stored_money(detail["amount"], currency)}


def _approval(detail) -> str:
    kind = _label(ApprovalRequest.Kind, detail.get("kind"))
    if "approved" not in detail:
        return kind
    return _("%(kind)s: approved") % {"kind": kind} if detail["approved"] else _("%(kind)s: rejected") % {"kind": kind}


def _notice(detail) -> str:
    """ "CN-2026-000038 Payment reminder", or a delivery's news: "CN-2026-000038 e-mail sent"."""
    reference = detail.get("reference") or (detail["notice"] if isinstance(detail.get("notice"), str) else "")
    status = {"sent": _("e-mail sent"), "bounced": _("e-mail returned undelivered")}.get(detail.get("status", ""))
    parts = (reference, _label(NoticeKind, detail.get("kind")), status or detail.get("status", ""))
    return " ".join(str(part) for part in parts if part)


def _stored_money(value, currency) -> str:
    """An amount as the timeline stored it: a string ("500.00"), or a JSON number (2488.2) where the run
    wrote the entry in SQL; its decimal text is exact either way."""
    return format_money(str(value) if isinstance(value, int | float) else value, currency)


def _local_time(iso: str | None) -> str:
    if not iso:
        return ""
    return timezone.localtime(datetime.datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M")


def _opened(detail, currency) -> str:
    return _("%(dpd)s days past due, %(overdue)s overdue") % {
        "dpd": detail.get("dpd"),
        "overdue": _stored_money(detail.get("overdue"), currency),
    }


def _promise(detail, currency) -> str:
    return _("%(amount)s by %(date)s") % {
        "amount": _stored_money(detail.get("amount"), currency),
        "date": detail.get("promised_for"),
    }


def _payment(detail, currency) -> str:
    text = _("%(amount)s reversed") if detail.get("reversed") else _("%(amount)s received")
    return text % {"amount": _stored_money(detail.get("amount"), currency)}


def _penalty_replayed(detail, currency) -> str:
    return _("from %(date)s: %(removed)s taken back, %(charged)s charged on what was left") % {
        "date": detail.get("since"),
        "removed": _stored_money(detail.get("removed"), currency),
        "charged": _stored_money(detail.get("charged"), currency),
    }


def _ledger_entry(detail, currency) -> str:
    """ "Waiver of penalty interest: 25.00 CNY", "Write-off: 8,200.00 CNY", "Waiver reversed: …"."""
    kind = _label(LedgerEntry.Kind, detail.get("kind"))
    if detail.get("component"):
        kind = _("%(kind)s of %(part)s") % {"kind": kind, "part": _label(Component, detail["component"])}
    if detail.get("reversal"):
        kind = _("%(kind)s taken back") % {"kind": kind}
    amount = _stored_money(str(abs(Decimal(str(detail.get("amount") or 0)))), currency)
    return _("%(kind)s: %(amount)s") % {"kind": kind, "amount": amount}


def _settlement_ended(detail) -> str:
    parts = (
        _label(Settlement.Status, detail.get("status")), _label(Settlement.EndReason, detail.get("reason")),
        detail.get("note"),
    )  # fmt: skip
    return " — ".join(str(part) for part in parts if part)


# Each kind's line; those that print an amount take the case's currency as well.
WITH_CURRENCY = {
    Event.OPENED: _opened, Event.PROMISE: _promise, Event.PAYMENT: _payment, Event.PENALTY_REPLAYED: _penalty_replayed,
    Event.LEDGER_ENTRY: _ledger_entry, Event.APPROVAL_REQUESTED: _approval_requested,
}  # fmt: skip
SUMMARIES = {
    Event.CONTACT: _contact,
    Event.CONTACT_BLOCKED: _blocked,
    Event.NOTE: lambda d: d.get("text", ""),
    Event.DISPUTE_RAISED: lambda d: d.get("reason", ""),
    Event.DISPUTE_RESOLVED: lambda d: d.get("resolution", ""),
    Event.APPROVAL_DECIDED: _approval,
    Event.NOTICE: lambda d: _notice(d),
    Event.CLOSED: lambda d: _label(CloseReason, d.get("reason")),
    Event.CALLBACK: lambda d: _local_time(d.get("at")),
    Event.ACTION_DONE: lambda d: _label(ActionKind, d.get("kind")),
    Event.SETTLEMENT_ENDED: _settlement_ended,
}


def _stage_changed(event: CaseEvent) -> str:
    """The stage by its current name in the reader's language (the name stored then if it is gone)."""
    stage = getattr(event, "stage", None)
    name = stage.local_name if stage is not None else event.detail.get("stage")
    return _("to %(stage)s at %(dpd)s days past due") % {"stage": name, "dpd": event.detail.get("dpd")}


@register.filter
def event_summary(event: CaseEvent, currency: str = "") -> str:
    detail = event.detail or {}
    if event.kind == Event.STAGE_CHANGED:
        return _stage_changed(event)
    if event.kind in WITH_CURRENCY:
        return WITH_CURRENCY[event.kind](detail, currency)
    summary = SUMMARIES.get(event.kind)
    return summary(detail) if summary else ""


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


@register.filter
def request_reason(approval: ApprovalRequest) -> str:
    """Why the request was made: the requester's words, or for a request of the nightly run the stage rule
    that asked for it, in the reader's language."""
    if approval.request_reason:
        return approval.request_reason
    rule = approval.rule or {}
    if not rule:
        return ""
    stage = approval.action.stage.local_name if approval.action_id and approval.action.stage_id else ""
    return _("The ladder's stage “%(stage)s” asks for this from %(start)s days past due; the case was at %(dpd)s.") % {
        "stage": stage,
        "start": rule.get("start_dpd"),
        "dpd": rule.get("dpd"),
    }


@register.filter
def approval_terms(approval: ApprovalRequest, currency: str = "") -> str:
    """A request's terms in words: the part a waiver waives (and how much of it is owed), a settlement's
    deadline and instalments, a restructuring's method, term, first due date and what it would book."""
    terms = approval.terms or {}
    if approval.kind == ApprovalRequest.Kind.WAIVER:
        part = _label(Component, terms.get("component"))
        if "owed" not in terms:
            return part
        return _("%(part)s, of %(owed)s owed") % {"part": part, "owed": _stored_money(terms["owed"], currency)}
    if approval.kind == ApprovalRequest.Kind.SETTLEMENT_DISCOUNT and terms.get("deadline"):
        text = _("paid by %(day)s") % {"day": terms["deadline"]}
        instalments = terms.get("instalments") or []
        if instalments:
            text += _(", in %(count)d instalments from %(day)s") % {"count": len(instalments), "day": instalments[0][0]}
        return text
    if approval.kind == ApprovalRequest.Kind.RESTRUCTURE and terms.get("method"):
        text = _("%(method)s; %(months)s months from %(day)s") % {
            "method": _label(Restructuring.Method, terms["method"]),
            "months": terms.get("term_months"),
            "day": terms.get("first_due_date"),
        }
        preview = terms.get("preview")
        if preview:
            text += _("; arrears %(arrears)s, new principal %(principal)s, instalments of %(instalment)s") % {
                key: _stored_money(preview[key], currency) for key in ("arrears", "principal", "instalment")
            }
        return text
    return ""
