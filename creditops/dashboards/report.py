"""The monthly management report: the dashboard's figures for one month as a PDF (WeasyPrint, the same
server-drawn SVG charts), generated on demand or by the schedule on the 1st, and e-mailed to managers."""

import calendar
import datetime
import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import MANAGER
from accounts.services import audit_record
from creditops.core.dates import add_months, business_today
from notices.rendering import html_to_pdf

from . import charts, selectors

WHOLE_BOOK = selectors.Scope()
logger = logging.getLogger(__name__)


def report_context(month: datetime.date) -> dict:
    """Figures of `month` (its first day): the book at its last snapshot, the month's activity, the roll
    rates of the month (complete once the next month has started) and the six months before."""
    last_day = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    as_of = selectors.latest_snapshot_date(on_or_before=last_day)
    if as_of is None:
        return {"month": month, "as_of": None}
    buckets = selectors.bucket_distribution(as_of, WHOLE_BOOK)
    trend = selectors.trend(as_of, WHOLE_BOOK, days=(as_of - month).days + 1)
    vintages = selectors.vintage_curves(WHOLE_BOOK)
    next_month = add_months(month, 1)
    rollrates = selectors.roll_rate_matrix(month, WHOLE_BOOK)
    performance = selectors.collector_performance(last_day, WHOLE_BOOK, days=last_day.day)
    return {
        "month": month, "as_of": as_of,
        "headline": selectors.period_headline(month, last_day, WHOLE_BOOK),
        "buckets": buckets,
        "bucket_chart": charts.bar_chart([(row["label"], row["outstanding"]) for row in buckets]),
        "overdue_chart": charts.line_chart([(row["day"], row["overdue"]) for row in trend]),
        "stages": selectors.cases_per_stage(as_of, WHOLE_BOOK),
        "rollrates": rollrates,
        "has_roll_rates": any(row["balance"] for row in rollrates),
        "roll_targets": selectors.roll_target_labels(),
        "flows": selectors.flow_rates(next_month, WHOLE_BOOK),
        "flow_labels": selectors.flow_labels(),
        "vintages": vintages,
        "vintage_chart": charts.vintage_chart(vintages),
        "performance": performance,
        "teams": selectors.team_performance(performance),
        "compliance": selectors.compliance_panel(last_day, days=last_day.day),
    }  # fmt: skip


def monthly_report_pdf(month: datetime.date, language: str) -> bytes:
    with translation.override(language):
        html = render_to_string("dashboards/report.html", report_context(month))
    return html_to_pdf(html).content


def previous_month(today: datetime.date | None = None) -> datetime.date:
    return add_months((today or business_today()).replace(day=1), -1)


def monthly_report_send(month: datetime.date | None = None) -> int:
    """E-mail last month's report to every active manager with an address, each in their language.
    Returns how many were sent."""
    month = month or previous_month()
    managers = User.objects.filter(groups__name=MANAGER, is_active=True).exclude(email="").order_by("pk")
    rendered: dict[str, bytes] = {}
    sent, failed = 0, []
    for manager in managers:
        language = manager.preferred_language or settings.LANGUAGE_CODE
        if language not in rendered:
            rendered[language] = monthly_report_pdf(month, language)
        try:
            _send(manager, month, language, rendered[language])
            sent += 1
        except (OSError, smtplib.SMTPException):  # one mailbox failing does not stop the others
            logger.exception("The monthly report could not be sent to %s", manager.email)
            failed.append(manager.get_username())
    detail = {"month": f"{month:%Y-%m}", "recipients": sent, "failed": failed}
    audit_record(actor=None, event="report.sent", detail=detail)
    return sent


def _send(manager, month: datetime.date, language: str, pdf: bytes) -> None:
    with translation.override(language):
        subject = _("CreditOps management report, %(month)s") % {"month": f"{month:%Y-%m}"}
        body = _("Attached: the collections management report for %(month)s.") % {"month": f"{month:%Y-%m}"}
    message = EmailMessage(subject, body, to=[manager.email])
    message.attach(f"creditops-report-{month:%Y-%m}.pdf", pdf, "application/pdf")
    message.send()
