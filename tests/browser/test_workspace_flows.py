"""The collections workspace in a real browser: a collector's day (a quiet-hours refusal, a promise to pay, a
notice and its PDF), a supervisor's (the team queue, the approvals inbox), case scope, the Content-Security-
Policy and the language switch. Cases are opened by the real nightly run (tests/dunning/conftest.py)."""

import datetime
import urllib.error
from decimal import Decimal

import pytest
from django.utils import translation
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from accounts.models import AuditEvent
from creditops.core.dates import business_today
from dunning.models import ApprovalRequest, CollectionCase, ContactAttempt, PaymentPlan, PromiseToPay
from dunning.services.approvals import approval_request, plan_installments_even, plan_request
from notices.models import Notice
from tests.factories import ASLEEP_HOURS, AWAKE_HOURS, BorrowerFactory, time_zone_where_local_hour_is

pytestmark = pytest.mark.django_db(transaction=True)


def assign(cases, user):
    CollectionCase.objects.filter(pk__in=[case.pk for case in cases]).update(assigned_to=user)
    for case in cases:
        case.refresh_from_db()


def worklist_rows(portal):
    rows = portal.visible("table#worklist").find_elements(By.CSS_SELECTOR, "tbody tr")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def test_a_collector_is_refused_in_quiet_hours_then_records_a_promise_and_issues_a_notice(
    portal, overdue_cases, collector
):
    asleep = BorrowerFactory(name="赵敏", time_zone=time_zone_where_local_hour_is(ASLEEP_HOURS))
    awake = BorrowerFactory(name="王芳", time_zone=time_zone_where_local_hour_is(AWAKE_HOURS))
    others = [BorrowerFactory(name=name) for name in ("李娜", "刘洋", "陈静", "杨磊")]
    # Each loan is 1,000 larger than the one before: the asleep borrower's, last, has the most overdue and
    # tops the worklist (priority grows with the overdue amount; all cases have the same DPD).
    cases = {case.borrower_id: case for case in overdue_cases(6, borrowers=[awake, *others, asleep])}
    asleep_case, awake_case = cases[asleep.pk], cases[awake.pk]
    assign([asleep_case, awake_case], collector)

    portal.log_in(collector)  # lands on the worklist
    rows = worklist_rows(portal)
    priorities = [int(row[0]) for row in rows]
    assert priorities == sorted(priorities, reverse=True)
    assert rows[0][1:3] == [asleep_case.loan.reference, "赵敏"]
    assert {awake_case.loan.reference, asleep_case.loan.reference} <= {row[1] for row in rows}
    portal.screenshot("worklist.png")

    # The top case: a call at night is refused in plain words, and what was typed stays in the form.
    portal.console_errors()  # empty the log: only the workspace counts
    portal.submit(portal.find("table#worklist tbody tr:first-child td a"))
    assert portal.visible("h1").text.startswith(f"{asleep_case.loan.reference} · 赵敏")
    assert portal.console_errors() == []  # the workspace loads without console errors (CSP included)
    contact = portal.visible("details#contact form")
    Select(portal.find("[name=contact-channel]", contact)).select_by_value("call")
    Select(portal.find("[name=contact-target]", contact)).select_by_value("borrower")
    Select(portal.find("[name=contact-outcome]", contact)).select_by_value("reached")
    note = "借款人称明早发工资后回电"
    portal.fill(portal.find("[name=contact-note]", contact), note)
    portal.submit(portal.find("button[type=submit]", contact))
    refusal = portal.visible("details#contact #refusal")
    assert "Not allowed now" in refusal.text
    assert portal.find("details#contact [name=contact-note]").get_attribute("value") == note
    attempt = ContactAttempt.objects.get(case=asleep_case)
    # A refused call reached no one: recorded as blocked, with the note but no outcome.
    assert (attempt.decision, attempt.outcome, attempt.note) == (ContactAttempt.Decision.BLOCKED, "", note)
    assert "Outside contact hours" in refusal.text and attempt.rule not in refusal.text  # words, not the code
    # It was recorded, so the page came by redirect: a refresh records nothing again.
    portal.driver.refresh()
    portal.visible("h1")
    assert ContactAttempt.objects.filter(case=asleep_case).count() == 1

    # The next case (an awake borrower): a call ending in a promise to pay, then a collection notice.
    portal.submit(portal.find("header nav a[href='/cases/']"))
    portal.submit(portal.visible("table#worklist").find_element(By.LINK_TEXT, awake_case.loan.reference))
    contact = portal.visible("details#contact form")
    Select(portal.find("[name=contact-channel]", contact)).select_by_value("call")
    Select(portal.find("[name=contact-outcome]", contact)).select_by_value("promise_to_pay")
    portal.fill(portal.find("[name=contact-promise_amount]", contact), "800.00")
    pay_by = business_today() + datetime.timedelta(days=7)
    portal.set_value(portal.find("[name=contact-promised_for]", contact), pay_by.isoformat())
    portal.fill(portal.find("[name=contact-note]", contact), "本人接听，承诺下周还款 800 元")
    portal.submit(portal.find("button[type=submit]", contact))
    assert "Contact logged and promise to pay recorded." in portal.messages()
    promise = PromiseToPay.objects.get(case=awake_case)
    assert (promise.amount, promise.promised_for) == (Decimal("800.00"), pay_by)
    assert promise.contact.decision == ContactAttempt.Decision.ALLOWED

    portal.find("details#notice > summary").click()
    notice_form = portal.visible("details#notice form")
    Select(portal.find("[name=notice-kind]", notice_form)).select_by_value("collection_notice")
    portal.submit(portal.find("button[type=submit]", notice_form), seconds=60)  # the PDF is rendered now
    notice = Notice.objects.get(case=awake_case)
    assert f"Notice {notice.reference} issued." in portal.messages()
    link = portal.visible(f"a.download[href='/notices/{notice.pk}/pdf/']")
    assert notice.reference in link.find_element(By.XPATH, "./ancestor::tr").text
    status, content_type, body = portal.download(link.get_attribute("href"))
    assert (status, content_type) == (200, "application/pdf")
    assert body.startswith(b"%PDF")

    portal.driver.execute_script("window.scrollTo(0, 0);")
    portal.screenshot("workspace.png", full_page=True)


def test_a_supervisor_reassigns_unassigned_cases_and_approves_a_payment_plan(
    portal, overdue_cases, supervisor, collector, other_collector
):
    names = ["周杰", "吴婷", "郑浩", "孙丽", "马超"]
    cases = overdue_cases(5, borrowers=[BorrowerFactory(name=name) for name in names])
    unassigned, theirs = cases[:2], cases[2]
    CollectionCase.objects.filter(pk__in=[case.pk for case in unassigned]).update(assigned_to=None)
    assign([theirs], other_collector)

    portal.log_in(supervisor)
    portal.submit(portal.find("header nav a[href='/team/']"))
    queue = portal.visible("form#reassign")
    listed = [row.text for row in queue.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert len(listed) == 2
    assert {case.loan.reference for case in unassigned} == {row.split()[1] for row in listed}
    for case in unassigned:
        portal.find(f"input[name=cases][value='{case.pk}']", queue).click()
    Select(portal.find("select[name=collector]", queue)).select_by_value(str(collector.pk))
    portal.fill(portal.find("input[name=reason]", queue), "新案件分配")
    portal.submit(queue.find_element(By.XPATH, ".//button[normalize-space()='Reassign selected cases']"))
    assert f"2 case(s) given to {collector.username}." in portal.messages()
    assert "No cases here." in portal.find("form#reassign").text
    assert set(
        CollectionCase.objects.filter(pk__in=[case.pk for case in unassigned]).values_list("assigned_to", flat=True)
    ) == {collector.pk}
    loads = {row.find_element(By.TAG_NAME, "td").text: row.text for row in portal.find_all("table#loads tbody tr")}
    assert set(loads) == {collector.username, other_collector.username}

    # The collector asks for a payment plan on one of them; another request waits too, as on a working day.
    case = CollectionCase.objects.select_related("loan").get(pk=unassigned[0].pk)
    installments = plan_installments_even(
        total=case.loan.overdue_amount,
        count=3,
        first_due=business_today() + datetime.timedelta(days=10),
        frequency="monthly",
    )
    plan = plan_request(
        case=case, installments=installments, reason="借款人失业三个月，申请分三期还款", actor=collector
    )
    approval = ApprovalRequest.objects.get(plan=plan)
    approval_request(
        case=theirs, kind=ApprovalRequest.Kind.LEGAL_REFERRAL, reason="多次失联，建议法律移交", actor=other_collector
    )

    portal.submit(portal.find("header nav a[href='/approvals/']"))
    row = portal.visible(f"table#inbox tr#approval-{approval.pk}")
    assert case.loan.reference in row.text
    assert len(portal.find_all("table#inbox tbody tr")) == 2
    portal.screenshot("approvals.png", full_page=True)

    # Without a reason: the form says so, and nothing is decided.
    portal.find(f"input[name=approvals][value='{approval.pk}']").click()
    portal.submit(portal.find("button[name=decision][value=approve]"))
    assert "Give a reason for the decision." in portal.visible("form#decide .errorlist").text
    assert ApprovalRequest.objects.get(pk=approval.pk).status == ApprovalRequest.Status.PENDING
    assert portal.find(f"input[name=approvals][value='{approval.pk}']").is_selected()  # the tick is kept
    portal.fill(portal.find("textarea[name=reason]"), "收入证明已核实，同意分期")
    portal.submit(portal.find("button[name=decision][value=approve]"))
    assert "1 request approved." in portal.messages()
    assert not portal.find_all(f"#approval-{approval.pk}")
    approval.refresh_from_db()
    plan.refresh_from_db()
    assert (approval.status, approval.decided_by, approval.decision_reason) == (
        ApprovalRequest.Status.APPROVED,
        supervisor,
        "收入证明已核实，同意分期",
    )
    assert plan.status == PaymentPlan.Status.ACTIVE


def test_another_collectors_case_is_not_found(portal, overdue_cases, collector, other_collector):
    (theirs,) = overdue_cases(1, borrowers=[BorrowerFactory(name="钱伟")])
    assign([theirs], collector)

    portal.log_in(other_collector)
    assert theirs.loan.reference not in portal.visible("table#worklist").text
    url = f"/cases/{theirs.pk}/"
    portal.open(url)
    assert portal.visible("h1").text == "Not found"
    assert portal.driver.title.startswith("Not found")
    assert "钱伟" not in portal.driver.page_source
    assert theirs.loan.reference not in portal.driver.page_source
    with pytest.raises(urllib.error.HTTPError) as answer:  # the same request, with the same session
        portal.download(portal.base_url + url)
    answer.value.close()
    assert answer.value.code == 404


def test_the_workspace_runs_under_its_content_security_policy_without_console_errors(portal, overdue_cases, collector):
    (case,) = overdue_cases(1, borrowers=[BorrowerFactory(name="冯雪")])
    assign([case], collector)

    portal.log_in(collector)
    portal.console_errors()  # empty the log: only the workspace counts
    portal.open(f"/cases/{case.pk}/")
    portal.visible("details#contact form")
    # htmx (a script file, as the policy allows) posts with the page's CSRF token and swaps in the number.
    portal.find("#reveal-phone button").click()
    portal.wait().until(lambda _driver: portal.find("#reveal-phone").text == case.borrower.phone)
    portal.find("details#note > summary").click()
    portal.visible("details#note textarea[name=note-text]")
    assert portal.console_errors() == []
    assert AuditEvent.objects.filter(event="personal_data.revealed", actor=collector).count() == 1


def test_the_language_switch_submits_itself_and_is_remembered(portal, overdue_cases, collector):
    (case,) = overdue_cases(1)
    assign([case], collector)

    portal.log_in(collector)
    assert portal.find("html").get_attribute("lang") == "en"
    with translation.override("zh-hans"):
        bucket_in_chinese = str(case.get_aging_bucket_display())
    portal.submit(lambda: Select(portal.find("select#language-switch")).select_by_value("zh-hans"))
    assert portal.find("html").get_attribute("lang") == "zh-hans"
    assert portal.driver.current_url == portal.base_url + "/cases/"
    assert worklist_rows(portal)[0][5] == bucket_in_chinese
    collector.refresh_from_db()
    assert collector.preferred_language == "zh-hans"
    portal.open(f"/cases/{case.pk}/")
    with translation.override("zh-hans"):
        assert translation.gettext("Where this case stands") in portal.find("#standing").text
    portal.screenshot("workspace-zh-hans.png", full_page=True)
