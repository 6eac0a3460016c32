"""The monthly management report: a real PDF (read back as text) with the month's figures, downloaded by a
manager or e-mailed to every manager in their language by the schedule."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from accounts.models import AuditEvent
from creditops.dashboards.report import monthly_report_pdf, monthly_report_send, previous_month
from creditops.dashboards.tasks import MonthStartNotRunError, send_monthly_report
from dunning.services.run import dunning_run
from lending.services import loan_create
from tests.factories import BorrowerFactory, UserFactory
from tests.notices.conftest import pdf_text

pytestmark = pytest.mark.django_db

APRIL, MAY = datetime.date(2026, 4, 1), datetime.date(2026, 5, 1)


@pytest.fixture
def two_month_starts(team, cn_product):
    for disbursed_on in (datetime.date(2026, 1, 15), datetime.date(2026, 3, 5), datetime.date(2026, 3, 20)):
        loan_create(borrower=BorrowerFactory(), product=cn_product, principal_amount=Decimal("6000.00"),
                    term_months=6, disbursed_on=disbursed_on, actor=None)  # fmt: skip
    dunning_run(as_of=APRIL)
    dunning_run(as_of=datetime.date(2026, 4, 30))
    dunning_run(as_of=MAY)


def manager(username="boss", **fields):
    user = UserFactory(username=username, **fields)
    user.groups.add(Group.objects.get(name="Manager"))
    return user


def test_the_report_pdf_carries_the_months_figures_in_both_languages(two_month_starts):
    english = pdf_text(monthly_report_pdf(APRIL, "en"))
    assert "CreditOps management report · 2026-04" in english
    assert "The book as of 2026-04-30" in english
    assert "Roll rates · 2026-04" in english and "30+ DPD rate (balance)" in english
    chinese = pdf_text(monthly_report_pdf(APRIL, "zh-hans"))
    assert "迁徙率" in chinese and "账龄分布" in chinese


def test_a_manager_downloads_a_months_report_and_the_download_is_audited(client, two_month_starts):
    boss = manager()
    client.force_login(boss)
    response = client.get(reverse("dashboards:report"), {"month": "2026-04"})
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    event = AuditEvent.objects.get(event="dashboard.exported")
    assert event.detail == {"table": "monthly_report", "month": "2026-04"}


def test_collectors_cannot_download_the_report(client, two_month_starts, collector):
    client.force_login(collector)
    assert client.get(reverse("dashboards:report")).status_code == 403


def test_the_report_is_mailed_to_every_manager_with_an_address_in_their_language(two_month_starts):
    manager("boss_en", email="boss.en@example.com", preferred_language="en")
    manager("boss_zh", email="boss.zh@example.com", preferred_language="zh-hans")
    manager("boss_none", email="")
    assert monthly_report_send(APRIL) == 2
    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects == {
        "boss.en@example.com": "CreditOps management report, 2026-04",
        "boss.zh@example.com": "CreditOps 管理报告（2026-04）",
    }
    name, content, mimetype = mail.outbox[1].attachments[0]
    assert (name, mimetype) == ("creditops-report-2026-04.pdf", "application/pdf")
    assert "迁徙率" in pdf_text(content)
    assert AuditEvent.objects.get(event="report.sent").detail == {"month": "2026-04", "recipients": 2, "failed": []}


def test_the_schedule_reports_on_the_month_before():
    assert previous_month(datetime.date(2026, 1, 1)) == datetime.date(2025, 12, 1)
    assert previous_month(datetime.date(2026, 5, 17)) == APRIL


def test_the_schedule_waits_for_the_run_of_the_first(db):
    with pytest.raises(MonthStartNotRunError):
        send_monthly_report()
    assert not mail.outbox
