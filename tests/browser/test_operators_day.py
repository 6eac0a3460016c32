"""The operator's day in a real browser: a supervisor completes a review from the queue (and reads the inbox
in Chinese); a collector sees a callback due at the top of the worklist, walks the list with "Next case" and
sees a plan's instalments before requesting it."""

import datetime

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from creditops.core.dates import business_today
from dunning.models import ActionKind, Callback, CollectionCase, DunningAction, PaymentPlan
from dunning.services.approvals import approval_request
from dunning.services.cases import contact_attempt_log
from tests.factories import AWAKE_HOURS, BorrowerFactory, time_zone_where_local_hour_is

pytestmark = pytest.mark.django_db(transaction=True)


def awake(name):
    return BorrowerFactory(name=name, time_zone=time_zone_where_local_hour_is(AWAKE_HOURS))


def test_a_supervisor_completes_a_review_from_the_queue_and_reads_the_inbox_in_chinese(
    portal, overdue_case, supervisor
):
    case = overdue_case(31, borrower=awake("韩梅"))  # the D+30 stage asks for a supervisor review
    approval_request(case=case, kind="settlement_discount", amount="5000.00", reason="一次性结清",
                     actor=case.assigned_to)  # fmt: skip
    portal.log_in(supervisor)
    portal.submit(portal.find("header nav a[href='/reviews/']"))
    review = case.actions.get(kind=ActionKind.SUPERVISOR_REVIEW)
    article = portal.visible(f"article#review-{review.pk}")
    assert case.loan.reference in article.text
    portal.screenshot("reviews.png", full_page=True)
    Select(portal.find("[name=review-outcome]", article)).select_by_value("offer_plan")
    portal.fill(portal.find("[name=review-note]", article), "收入下降，建议分期")
    portal.submit(portal.find("button[type=submit]", article))
    assert "Review completed: Offer a payment plan." in portal.messages()
    review.refresh_from_db()
    assert (review.status, review.result) == (DunningAction.Status.DONE, "offer_plan")

    portal.submit(lambda: Select(portal.find("select#language-switch")).select_by_value("zh-hans"))
    portal.submit(portal.find("header nav a[href='/approvals/']"))
    inbox = portal.visible("table#inbox").text
    assert "约定金额" in inbox and "贷款尚欠" in inbox  # agreed amount, and the discount against what is owed
    for english in ("Final demand", "Second notice", "DPD", "Settlement"):
        assert english not in portal.find("main").text
    portal.screenshot("approvals-zh-hans.png", full_page=True)


def test_a_collector_calls_back_walks_the_worklist_and_previews_a_plan(portal, overdue_cases, collector):
    cases = overdue_cases(4, borrowers=[awake(name) for name in ("林涛", "何静", "罗军", "梁红")])
    CollectionCase.objects.filter(pk__in=[case.pk for case in cases]).update(assigned_to=collector)
    first = cases[0]
    contact_attempt_log(case=first, channel="call", outcome="call_back", actor=collector,
                        call_back_at=timezone.now() + datetime.timedelta(minutes=30))  # fmt: skip
    Callback.objects.update(due_at=timezone.now() - datetime.timedelta(minutes=2))  # the time has come

    portal.log_in(collector)
    callbacks = portal.visible("table#callbacks")
    assert first.loan.reference in callbacks.text and "allowed" in callbacks.text
    portal.screenshot("worklist-callbacks.png")

    # Open the top case of the worklist and walk the list with "Next case".
    listed = [link.text for link in portal.find_all("table#worklist tbody td.ref a")]
    portal.submit(portal.find("table#worklist tbody tr:first-child td.ref a"))
    walked = [portal.visible("h1").text.split(" · ")[0]]
    for _following in listed[1:]:
        portal.submit(portal.find("a[rel=next].button"))
        walked.append(portal.visible("h1").text.split(" · ")[0])
    assert walked == listed
    portal.submit(portal.find("a[rel=next].button"))  # after the last case: the list again, saying so
    assert portal.find_all("table#worklist") and portal.visible("ul.messages li.info").text
    portal.submit(portal.find("table#worklist tbody tr:last-child td.ref a"))
    assert portal.visible("h1").text.split(" · ")[0] == listed[-1]

    # The plan form shows the instalments as the terms are typed (htmx), before anything is requested.
    portal.find("details#plan > summary").click()
    plan = portal.visible("details#plan form")
    # The form came by htmx when the section opened; its own hx-trigger is wired when the swap settles.
    portal.wait().until(lambda driver: not driver.find_elements(By.CSS_SELECTOR, ".htmx-settling, .htmx-request"))
    portal.fill(portal.find("[name=plan-installments]", plan), "3")
    first_due = business_today() + datetime.timedelta(days=7)
    portal.set_value(portal.find("[name=plan-first_due]", plan), first_due.isoformat())
    Select(portal.find("[name=plan-frequency]", plan)).select_by_value("weekly")  # a change: the preview follows
    rows = portal.wait().until(lambda _driver: portal.find_all("#plan-preview tbody tr"))
    assert len(rows) == 3
    assert all(row.find_elements(By.CSS_SELECTOR, "td.num")[-1].text.endswith(" CNY") for row in rows)
    assert not PaymentPlan.objects.exists()  # shown, not requested
    portal.screenshot("plan-preview.png", full_page=True)
