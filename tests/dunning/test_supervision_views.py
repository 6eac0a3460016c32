"""The supervisor's screens (team queue, approvals inbox) through the test client, and query-count bounds on
the busiest pages: a page's queries do not grow with the rows it shows."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import roles
from accounts.models import AuditEvent, Team
from creditops.core.dates import business_today
from dunning import selectors
from dunning.models import ApprovalRequest, AssignmentRule, CollectionCase, PaymentPlan, PromiseToPay
from dunning.services.approvals import approval_request, plan_installments_even, plan_request
from dunning.services.cases import case_note_add, cases_reassign, promise_record
from lending.models import BorrowerContact
from notices.services.issue import notice_issue
from tests.dunning.conftest import staff
from tests.factories import AWAKE_HOURS, BorrowerFactory, time_zone_where_local_hour_is

pytestmark = pytest.mark.django_db

UNSTAFFED_PROVINCE, OTHER_TEAM_PROVINCE = "广东省", "上海市"


def awake_borrower(**fields):
    return BorrowerFactory(time_zone=time_zone_where_local_hour_is(AWAKE_HOURS), **fields)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def floor(team, supervisor, overdue_cases, collector, other_collector):
    """Four cases in Team A (two each for col1 and col2), one in a team `sup` also supervises that has no
    collector yet (so it stays unassigned), and one in Team B of another supervisor."""
    unstaffed = Team.objects.create(name="Team A night shift", supervisor=supervisor)
    AssignmentRule.objects.create(position=0, team=unstaffed, provinces=[UNSTAFFED_PROVINCE])
    team_b = Team.objects.create(name="Team B", supervisor=staff("sup_b", roles.SUPERVISOR))
    team_b.members.add(staff("col_b", roles.COLLECTOR))
    AssignmentRule.objects.create(position=0, team=team_b, provinces=[OTHER_TEAM_PROVINCE])
    borrowers = [awake_borrower() for _ in range(4)] + [
        awake_borrower(province=UNSTAFFED_PROVINCE),
        awake_borrower(province=OTHER_TEAM_PROVINCE),
    ]
    cases = overdue_cases(6, borrowers=borrowers)
    by_province = {case.borrower.province: case for case in cases}
    team_a = [case for case in cases if case.team_id == team.pk]
    assert len(team_a) == 4
    assert sorted(case.assigned_to.username for case in team_a) == ["col1", "col1", "col2", "col2"]
    unassigned, elsewhere = by_province[UNSTAFFED_PROVINCE], by_province[OTHER_TEAM_PROVINCE]
    assert (unassigned.team, unassigned.assigned_to) == (unstaffed, None)
    assert (elsewhere.team, elsewhere.assigned_to.username) == (team_b, "col_b")
    return {
        "col1": [case for case in team_a if case.assigned_to == collector],
        "col2": [case for case in team_a if case.assigned_to == other_collector],
        "unassigned": unassigned,
        "elsewhere": elsewhere,
    }


def load_rows(html: str) -> list[tuple[str, int, Decimal, int]]:
    """The loads table as the supervisor reads it: collector, open cases, overdue total, promises due today."""
    table = re.search(r'<table id="loads">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(
        r'<tr[^>]*><td>([^<]*)</td><td class="num">([^<]*)</td><td class="num">([^<]*)</td>'
        r'<td class="num">([^<]*)</td>',
        table,
    )
    assert all(overdue.endswith(" CNY") for _name, _count, overdue, _promises in rows)  # one money format
    return [
        (name, int(count), Decimal(overdue.removesuffix(" CNY").replace(",", "")), int(promises))
        for name, count, overdue, promises in rows
    ]


def counted_load(user) -> tuple[str, int, Decimal, int]:
    """The same figures counted here, independently of the selector."""
    open_cases = list(CollectionCase.objects.filter(assigned_to=user, is_open=True))
    promises = PromiseToPay.objects.filter(
        case__assigned_to=user, case__is_open=True, status=PromiseToPay.Status.PENDING, promised_for=business_today()
    ).count()
    return user.username, len(open_cases), sum((case.overdue_amount for case in open_cases), Decimal("0")), promises


def test_the_team_queue_shows_each_collectors_load_as_counted_and_the_unassigned_cases(
    client, floor, supervisor, collector, other_collector
):
    today = business_today()
    promise_record(case=floor["col1"][0], amount="300.00", promised_for=today, actor=collector)
    promise_record(
        case=floor["col1"][1], amount="300.00", promised_for=today + datetime.timedelta(days=1), actor=collector
    )
    promise_record(case=floor["col2"][0], amount="200.00", promised_for=today, actor=other_collector)
    client.force_login(supervisor)
    response = client.get(reverse("cases:team_queue"))
    assert response.status_code == 200
    page = response.content.decode()
    assert load_rows(page) == [counted_load(collector), counted_load(other_collector)]
    assert [(name, count, promises) for name, count, _overdue, promises in load_rows(page)] == [
        ("col1", 2, 1),
        ("col2", 2, 1),
    ]
    assert "col_b" not in page  # another team's collector
    assert [case.pk for case in response.context["cases"]] == [floor["unassigned"].pk]
    assert floor["unassigned"].loan.reference in page
    assert floor["elsewhere"].loan.reference not in page


def test_a_collectors_cases_are_listed_when_chosen(client, floor, supervisor, collector):
    client.force_login(supervisor)
    response = client.get(reverse("cases:team_queue"), {"collector": collector.pk})
    assert sorted(case.pk for case in response.context["cases"]) == sorted(case.pk for case in floor["col1"])


def test_bulk_reassigning_two_cases_moves_both_and_audits_each(client, floor, supervisor, other_collector):
    moving = [floor["unassigned"], floor["col1"][0]]
    client.force_login(supervisor)
    response = client.post(
        reverse("cases:team_queue"),
        {"cases": [case.pk for case in moving], "collector": other_collector.pk, "reason": "col1 on leave"},
    )
    assert response.status_code == 302
    assert list(
        CollectionCase.objects.filter(pk__in=[case.pk for case in moving]).values_list("assigned_to", flat=True)
    ) == [other_collector.pk, other_collector.pk]
    audited = AuditEvent.objects.filter(event="case.assigned", actor=supervisor)
    assert audited.count() == 2
    assert sorted(event.subject_id for event in audited) == sorted(str(case.pk) for case in moving)
    assert {event.detail["to"] for event in audited} == {other_collector.pk}
    assert {event.detail["reason"] for event in audited} == {"col1 on leave"}
    assert "2 case(s) given to col2." in client.get(response["Location"]).content.decode()


def test_reassigning_a_case_outside_the_supervisors_scope_is_refused_and_changes_nothing(
    client, floor, supervisor, other_collector
):
    elsewhere, mine = floor["elsewhere"], floor["col1"][0]
    client.force_login(supervisor)
    response = client.post(
        reverse("cases:team_queue"), {"cases": [mine.pk, elsewhere.pk], "collector": other_collector.pk}
    )
    assert response.status_code == 400
    assert "cases" in response.context["form"].errors
    assert "Select a valid choice." in response.content.decode()
    elsewhere.refresh_from_db()
    mine.refresh_from_db()
    assert (elsewhere.assigned_to.username, elsewhere.team.name) == ("col_b", "Team B")
    assert mine.assigned_to.username == "col1"  # all or nothing: the in-scope case did not move either
    assert not AuditEvent.objects.filter(event="case.assigned").exists()


def test_reassigning_to_another_teams_collector_is_refused(client, floor, supervisor):
    mine = floor["col1"][0]
    col_b = floor["elsewhere"].assigned_to
    client.force_login(supervisor)
    response = client.post(reverse("cases:team_queue"), {"cases": [mine.pk], "collector": col_b.pk})
    assert response.status_code == 400
    assert "collector" in response.context["form"].errors
    mine.refresh_from_db()
    assert mine.assigned_to.username == "col1"
    assert not AuditEvent.objects.filter(event="case.assigned").exists()


@pytest.mark.parametrize("chosen", ["abc", "²", ""])
def test_a_hand_made_collector_choice_shows_the_unassigned_cases(client, floor, supervisor, chosen):
    client.force_login(supervisor)
    response = client.get(reverse("cases:team_queue"), {"collector": chosen})
    assert response.status_code == 200
    assert [case.pk for case in response.context["cases"]] == [floor["unassigned"].pk]


def test_a_collector_is_refused_the_supervisor_screens(client, collector):
    client.force_login(collector)
    assert client.get(reverse("cases:team_queue")).status_code == 403
    assert client.post(reverse("cases:team_queue"), {}).status_code == 403
    assert client.get(reverse("cases:approvals")).status_code == 403


def request_plan(case, actor) -> PaymentPlan:
    rows = plan_installments_even(
        total=case.loan.overdue_amount,
        count=3,
        first_due=business_today() + datetime.timedelta(days=10),
        frequency="monthly",
    )
    return plan_request(case=case, installments=rows, reason="失业三个月", actor=actor)


def test_a_collectors_plan_waits_in_the_supervisors_inbox_and_never_as_decidable_by_its_requester(
    client, overdue_cases, supervisor
):
    mine, own = overdue_cases(2)
    requester = mine.assigned_to
    plan = request_plan(mine, requester)
    own_plan = request_plan(own, supervisor)  # the supervisor's own request: someone else decides it
    approval, own_approval = ApprovalRequest.objects.get(plan=plan), ApprovalRequest.objects.get(plan=own_plan)
    client.force_login(supervisor)
    response = client.get(reverse("cases:approvals"))
    assert [pending.pk for pending in response.context["pending"]] == [approval.pk]
    assert [request.pk for request in response.context["own_requests"]] == [own_approval.pk]
    page = response.content.decode()
    assert f'name="approvals" value="{approval.pk}"' in page
    assert f'name="approvals" value="{own_approval.pk}"' not in page
    assert "失业三个月" in page
    client.force_login(requester)
    assert client.get(reverse("cases:approvals")).status_code == 403
    assert not selectors.approvals_decidable_by(requester).exists()


def test_approving_without_a_reason_keeps_the_page_with_an_error_and_decides_nothing(client, overdue_case, supervisor):
    case = overdue_case(20)
    plan = request_plan(case, case.assigned_to)
    approval = ApprovalRequest.objects.get(plan=plan)
    client.force_login(supervisor)
    response = client.post(reverse("cases:approvals"), {"approvals": [approval.pk], "decision": "approve"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Give a reason for the decision." in page.split('id="decision-errors"')[1].split("</ul>")[0]  # at the top
    assert f'value="{approval.pk}" id="tick-{approval.pk}" checked' in page  # the ticks are kept
    approval.refresh_from_db()
    plan.refresh_from_db()
    assert (approval.status, approval.decided_by, plan.status) == (
        ApprovalRequest.Status.PENDING,
        None,
        PaymentPlan.Status.REQUESTED,
    )
    assert not AuditEvent.objects.filter(event="approval.decided").exists()


def test_approving_with_a_reason_starts_the_plan(client, overdue_case, supervisor):
    case = overdue_case(20)
    plan = request_plan(case, case.assigned_to)
    approval = ApprovalRequest.objects.get(plan=plan)
    client.force_login(supervisor)
    response = client.post(
        reverse("cases:approvals"), {"approvals": [approval.pk], "decision": "approve", "reason": "收入证明已核"}
    )
    assert (response.status_code, response["Location"]) == (302, reverse("cases:approvals"))
    approval.refresh_from_db()
    plan.refresh_from_db()
    assert (approval.status, approval.decided_by, approval.decision_reason) == (
        ApprovalRequest.Status.APPROVED,
        supervisor,
        "收入证明已核",
    )
    assert plan.status == PaymentPlan.Status.ACTIVE
    decided = AuditEvent.objects.get(event="approval.decided")
    assert (decided.actor, decided.detail["approved"]) == (supervisor, True)
    assert client.get(reverse("cases:approvals")).context["pending"] == []


# Query counts: the same page with few and with many rows costs the same number of queries.


@pytest.fixture
def queries(client, django_assert_max_num_queries):
    """queries(url, at_most) → (how many queries the GET ran, the response); fails past `at_most`."""

    def measure(url, at_most):
        with django_assert_max_num_queries(at_most) as captured:
            response = client.get(url)
        assert response.status_code == 200
        assert isinstance(captured, CaptureQueriesContext)
        return len(captured.captured_queries), response

    return measure


def test_the_worklist_costs_the_same_queries_for_3_and_for_12_cases(
    client, queries, overdue_cases, supervisor, collector, other_collector
):
    cases = overdue_cases(15)
    col1 = [case.pk for case in cases if case.assigned_to == collector]
    cases_reassign(case_ids=col1[3:], collector=other_collector, actor=supervisor)
    url = reverse("cases:worklist")
    client.force_login(collector)
    client.get(url)  # warm Django's per-process caches (content types, translations)
    few, few_page = queries(url, at_most=20)
    client.force_login(other_collector)
    many, many_page = queries(url, at_most=20)
    assert (len(few_page.context["cases"]), len(many_page.context["cases"])) == (3, 12)
    assert few == many


def test_the_workspace_costs_the_same_queries_whatever_its_timeline_and_contacts(
    client, queries, overdue_cases, supervisor, media
):
    small, large = overdue_cases(2, borrowers=[awake_borrower(), awake_borrower()])
    for case, notes, contacts in [(small, 1, 1), (large, 5, 3)]:
        for number in range(notes):
            case_note_add(case=case, text=f"第{number + 1}次跟进", actor=case.assigned_to)
        for number in range(contacts):
            BorrowerContact.objects.create(
                borrower=case.borrower,
                relation=BorrowerContact.Relation.RELATIVE,
                name=f"亲属{number}",
                phone=f"+86139{case.pk:04d}{number:04d}",
            )
        notice_issue(case=case, kind="collection_notice", actor=None)
    client.force_login(supervisor)
    client.get(reverse("cases:detail", args=[small.pk]))  # warm the per-process caches
    counts, pages = [], []
    for case in (small, large):
        count, page = queries(reverse("cases:detail", args=[case.pk]), at_most=36)
        counts.append(count)
        pages.append(page)
    assert [len(page.context["contacts"]) for page in pages] == [1, 3]
    assert [sum(event.kind == "note" for event in page.context["timeline"]) for page in pages] == [1, 5]
    assert [len(page.context["notices"]) for page in pages] == [1, 1]
    assert counts[0] == counts[1]


def test_the_approvals_inbox_costs_the_same_queries_for_1_and_for_4_requests(client, overdue_cases, supervisor):
    cases = overdue_cases(4)
    request_plan(cases[0], cases[0].assigned_to)
    client.force_login(supervisor)
    url = reverse("cases:approvals")
    client.get(url)  # warm the per-process caches
    with CaptureQueriesContext(connection) as one:
        first = client.get(url)
    request_plan(cases[1], cases[1].assigned_to)
    request_plan(cases[2], cases[2].assigned_to)
    approval_request(case=cases[3], kind="write_off", amount="1000.00", reason="失联", actor=cases[3].assigned_to)
    with CaptureQueriesContext(connection) as four:
        second = client.get(url)
    assert (len(first.context["pending"]), len(second.context["pending"])) == (1, 4)
    assert len(one.captured_queries) == len(four.captured_queries)
