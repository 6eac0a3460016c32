"""The operator's day in the browser's terms: the approvals inbox paged, filtered and decided in bulk; the
supervisor review completed from the case and from its queue; callbacks as dated worklist tasks; "next
case"; the plan's instalments shown before it is requested."""

import datetime
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.models import AuditEvent, Team
from creditops.core.dates import business_today
from dunning import selectors
from dunning.models import ActionKind, ApprovalRequest, Callback, CaseEvent, ContactAttempt, DunningAction
from dunning.selectors import supervision as supervision_reads
from dunning.selectors import worklist as worklist_reads
from dunning.services.approvals import approval_request
from dunning.services.cases import cases_reassign, contact_attempt_log
from dunning.services.guardrails import ContactBlockedError
from tests.dunning.conftest import staff
from tests.factories import ASLEEP_HOURS, AWAKE_HOURS, BorrowerFactory, time_zone_where_local_hour_is

pytestmark = pytest.mark.django_db


def awake_borrower():
    return BorrowerFactory(time_zone=time_zone_where_local_hour_is(AWAKE_HOURS))


def request_write_off(case, reason="失联半年"):
    return approval_request(case=case, kind="write_off", amount="1000.00", reason=reason, actor=case.assigned_to)


@pytest.fixture
def other_supervisor(db):
    supervisor = staff("sup_b", roles.SUPERVISOR)
    Team.objects.create(name="Team B", supervisor=supervisor)
    return supervisor


# The approvals inbox


def test_the_inbox_is_paged_oldest_first_and_the_pages_join_up(client, overdue_cases, supervisor, monkeypatch):
    monkeypatch.setattr(supervision_reads, "INBOX_PAGE_SIZE", 3)
    cases = overdue_cases(7)
    for case in cases:
        request_write_off(case)
    client.force_login(supervisor)
    seen, url = [], reverse("cases:approvals")
    for _page in range(5):
        response = client.get(url)
        seen += [approval.pk for approval in response.context["pending"]]
        if not response.context["next_cursor"]:
            break
        url = reverse("cases:approvals") + "?" + urlencode({"after": response.context["next_cursor"]})
    expected = list(ApprovalRequest.objects.order_by("requested_at", "id").values_list("pk", flat=True))
    assert seen == expected and len(seen) == 7  # 3 + 3 + 1, no repeats, none lost


def test_the_inbox_filters_by_kind_team_and_waiting_time(client, overdue_cases, supervisor, team):
    write_off_case, settle_case, other_team_case = overdue_cases(3)
    old = request_write_off(write_off_case)
    ApprovalRequest.objects.filter(pk=old.pk).update(requested_at=timezone.now() - datetime.timedelta(days=8))
    settlement = approval_request(
        case=settle_case,
        kind="settlement_discount",
        amount="800.00",
        reason="一次性结清",
        actor=settle_case.assigned_to,
    )
    second_team = Team.objects.create(name="Team C", supervisor=supervisor)
    other_team_case.team = second_team
    other_team_case.save(update_fields=["team"])
    other = request_write_off(other_team_case)
    client.force_login(supervisor)

    def shown(**query):
        return [approval.pk for approval in client.get(reverse("cases:approvals"), query).context["pending"]]

    assert shown() == [old.pk, settlement.pk, other.pk]
    assert shown(kind="settlement_discount") == [settlement.pk]
    assert shown(team=second_team.pk) == [other.pk]
    assert shown(team=team.pk, kind="write_off") == [old.pk]
    assert shown(waiting="7") == [old.pk]
    assert shown(waiting="14") == []


def inbox_pages(client, user) -> list[list[int]]:
    """Every page of the user's inbox, following the cursors."""
    client.force_login(user)
    pages, url = [], reverse("cases:approvals")
    for _page in range(20):
        response = client.get(url)
        pages.append([approval.pk for approval in response.context["pending"]])
        if not response.context["next_cursor"]:
            return pages
        url = reverse("cases:approvals") + "?" + urlencode({"after": response.context["next_cursor"]})
    raise AssertionError(f"the inbox's cursor never ends: {pages}")


def test_a_supervisor_of_two_teams_and_a_case_elsewhere_reads_one_inbox_in_time_order(
    client, overdue_cases, supervisor, team, other_supervisor, monkeypatch
):
    """The inbox is read per team (and for the supervisor's own cases in other teams) and merged: the pages
    follow the requests' time across all of them, no repeats, none lost, nothing of other teams."""
    monkeypatch.setattr(supervision_reads, "INBOX_PAGE_SIZE", 2)
    second_team = Team.objects.create(name="Team C", supervisor=supervisor)
    cases = overdue_cases(6)
    cases[1].team = cases[3].team = second_team
    cases[4].team, cases[4].assigned_to = Team.objects.get(supervisor=other_supervisor), supervisor
    cases[5].team = Team.objects.get(supervisor=other_supervisor)  # another supervisor's: never shown
    for case in cases:
        case.save(update_fields=["team", "assigned_to"])
    requests = [request_write_off(case) for case in cases[:4]]
    # The supervisor's own case in Team B: the nightly run asks (a supervisor never decides their own request).
    requests += [approval_request(case=case, kind="write_off", reason="", actor=None) for case in cases[4:]]
    start = timezone.now() - datetime.timedelta(days=1)
    for minutes, request in zip([5, 1, 4, 2, 3, 0], requests, strict=True):  # interleaved across the sources
        ApprovalRequest.objects.filter(pk=request.pk).update(requested_at=start + datetime.timedelta(minutes=minutes))
    expected = [requests[i].pk for i in (1, 3, 4, 2, 0)]
    assert inbox_pages(client, supervisor) == [expected[:2], expected[2:4], expected[4:]]
    decidable = selectors.approvals_decidable_by(supervisor).order_by("requested_at", "id")
    assert list(decidable.values_list("pk", flat=True)) == expected
    assert inbox_pages(client, other_supervisor) == [[requests[5].pk, requests[4].pk]]


def test_a_request_moves_with_its_reassigned_case_to_the_other_teams_inbox(
    client, overdue_case, supervisor, team, other_supervisor
):
    case = overdue_case()
    waiting = request_write_off(case)
    other_team = Team.objects.get(supervisor=other_supervisor)
    other_team.members.add(staff("col_b", roles.COLLECTOR))
    assert (waiting.team, inbox_pages(client, supervisor), inbox_pages(client, other_supervisor)) == (
        team, [[waiting.pk]], [[]],
    )  # fmt: skip
    cases_reassign(case_ids=[case.pk], collector=other_team.members.get(), actor=None, reason="换组")
    waiting.refresh_from_db()
    assert waiting.team == other_team
    assert (inbox_pages(client, supervisor), inbox_pages(client, other_supervisor)) == ([[]], [[waiting.pk]])


def test_a_supervisor_whose_team_has_nothing_waiting_reads_an_empty_inbox_in_a_fixed_number_of_queries(
    client, overdue_cases, supervisor, other_supervisor, django_assert_max_num_queries
):
    """Other teams' requests are not read at all: the empty team's inbox is one index range, whatever
    the rest of the book holds."""
    for case in overdue_cases(4):
        request_write_off(case)
    client.force_login(other_supervisor)
    client.get(reverse("cases:approvals"))  # session, roles
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("cases:approvals"))
    assert list(response.context["pending"]) == [] and response.context["next_cursor"] == ""
    inbox_reads = [q["sql"] for q in captured if 'FROM "dunning_approvalrequest"' in q["sql"]]
    team_id = Team.objects.get(supervisor=other_supervisor).pk
    assert any(f'"dunning_approvalrequest"."team_id" = {team_id}' in sql for sql in inbox_reads)
    assert not any("requested_by_id" in sql and "team_id" not in sql for sql in inbox_reads)


def test_several_requests_are_approved_with_one_reason_and_each_is_audited(client, overdue_cases, supervisor):
    cases = overdue_cases(3)
    chosen = [request_write_off(case) for case in cases[:2]]
    left = request_write_off(cases[2])
    client.force_login(supervisor)
    response = client.post(
        reverse("cases:approvals"),
        {"approvals": [a.pk for a in chosen], "decision": "approve", "reason": "核销委员会同意"},
    )
    assert response.status_code == 302
    statuses = dict(ApprovalRequest.objects.values_list("pk", "status"))
    assert [statuses[a.pk] for a in chosen] == ["approved", "approved"]
    assert statuses[left.pk] == "pending"
    decided = AuditEvent.objects.filter(event="approval.decided")
    assert sorted(event.detail["approval"] for event in decided) == sorted(a.pk for a in chosen)
    assert "2 requests approved." in client.get(response["Location"]).content.decode()


def test_a_bulk_decision_with_one_request_gone_decides_none(client, overdue_cases, supervisor):
    first, second = (request_write_off(case) for case in overdue_cases(2))
    client.force_login(supervisor)
    ApprovalRequest.objects.filter(pk=second.pk).update(status="rejected")  # decided meanwhile elsewhere
    response = client.post(
        reverse("cases:approvals"), {"approvals": [first.pk, second.pk], "decision": "approve", "reason": "同意"}
    )
    assert response.status_code == 400
    assert f"Request {second.pk} is no longer waiting for your decision" in response.content.decode()
    assert ApprovalRequest.objects.get(pk=first.pk).status == "pending"


def test_no_request_ticked_is_a_visible_error(client, overdue_cases, supervisor):
    request_write_off(overdue_cases(1)[0])
    client.force_login(supervisor)
    response = client.post(reverse("cases:approvals"), {"decision": "reject", "reason": "不同意"})
    assert response.status_code == 400
    assert "Tick the requests to decide." in response.content.decode()


def test_a_request_of_the_run_carries_the_stage_rule_as_its_reason(client, overdue_case, supervisor):
    case = overdue_case(92)  # the D+90 stage asks for legal referral and bureau report approvals
    approval = ApprovalRequest.objects.filter(case=case, requested_by=None).order_by("id").first()
    assert approval.request_reason == "" and approval.rule["start_dpd"] == 90
    client.force_login(supervisor)
    row = client.get(reverse("cases:approvals")).content.decode()
    stage = approval.action.stage.name_en  # the page is in English
    assert f"The ladder&#x27;s stage “{stage}” asks for this from 90 days past due; the case was at 92." in row


def test_a_settlement_shows_the_agreed_amount_and_the_discount_apart(client, overdue_case, supervisor):
    case = overdue_case(20)
    owed = sum(i.outstanding_amount for i in case.loan.installments.all())
    approval_request(
        case=case, kind="settlement_discount", amount="5000.00", reason="一次性结清", actor=case.assigned_to
    )
    discount = owed - Decimal("5000.00")
    client.force_login(supervisor)
    inbox = client.get(reverse("cases:approvals")).content.decode()
    assert "agreed amount 5,000.00 CNY" in inbox
    assert f"discount {discount:,.2f} CNY (the loan owes {owed:,.2f} CNY)" in inbox
    workspace = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert f"agreed amount 5,000.00 CNY, discount {discount:,.2f} CNY" in workspace


# Supervisor reviews


@pytest.fixture
def review_case(overdue_case):
    case = overdue_case(31)  # the D+30 stage asks for a supervisor review
    assert case.actions.filter(kind=ActionKind.SUPERVISOR_REVIEW, status="pending").count() == 1
    return case


def test_the_reviews_queue_lists_the_teams_pending_reviews_and_completes_one(client, review_case, supervisor):
    client.force_login(supervisor)
    page = client.get(reverse("cases:reviews"))
    (action, _form), = page.context["reviews"]  # fmt: skip
    assert action.case == review_case
    response = client.post(
        reverse("cases:review_complete", args=[action.pk]), {"review-outcome": "offer_plan", "review-note": "收入下降"}
    )
    assert (response.status_code, response["Location"]) == (302, reverse("cases:reviews"))
    action.refresh_from_db()
    assert (action.status, action.result) == (DunningAction.Status.DONE, "offer_plan")
    event = review_case.events.get(kind=CaseEvent.Kind.ACTION_DONE, detail__action=action.pk)
    assert (event.actor, event.detail["note"]) == (supervisor, "收入下降")
    assert client.get(reverse("cases:reviews")).context["reviews"] == []


def test_a_review_is_completed_from_the_case_and_a_missing_note_is_a_form_error(client, review_case, supervisor):
    client.force_login(supervisor)
    url = reverse("cases:action", args=[review_case.pk, "review"])
    assert 'id="review"' in client.get(reverse("cases:detail", args=[review_case.pk])).content.decode()
    refused = client.post(url, {"review-outcome": "continue", "review-note": ""})
    assert refused.status_code == 400 and "This field is required." in refused.content.decode()
    assert client.post(url, {"review-outcome": "continue", "review-note": "继续催收"}).status_code == 302
    assert review_case.actions.get(kind=ActionKind.SUPERVISOR_REVIEW).status == DunningAction.Status.DONE
    assert 'id="review"' not in client.get(reverse("cases:detail", args=[review_case.pk])).content.decode()


def test_a_collector_neither_sees_the_review_form_nor_completes_a_review(client, review_case):
    client.force_login(review_case.assigned_to)
    assert 'id="review"' not in client.get(reverse("cases:detail", args=[review_case.pk])).content.decode()
    assert client.get(reverse("cases:reviews")).status_code == 403
    action = review_case.actions.get(kind=ActionKind.SUPERVISOR_REVIEW)
    assert client.post(reverse("cases:review_complete", args=[action.pk]), {}).status_code == 403
    assert client.post(reverse("cases:action", args=[review_case.pk, "review"]),
                       {"review-outcome": "continue", "review-note": "x"}).status_code in (302, 400)  # fmt: skip
    action.refresh_from_db()
    assert action.status == DunningAction.Status.PENDING


def test_another_teams_supervisor_does_not_see_the_review(client, review_case, other_supervisor):
    client.force_login(other_supervisor)
    assert client.get(reverse("cases:reviews")).context["reviews"] == []


# Callbacks


@pytest.fixture
def awake(overdue_case):
    return overdue_case(20, borrower=awake_borrower())


def test_asked_to_call_back_becomes_a_dated_task_that_the_next_call_answers(awake):
    now = timezone.now()
    later = now + datetime.timedelta(minutes=30)
    contact_attempt_log(case=awake, channel="call", outcome="call_back", actor=awake.assigned_to, at=now,
                        call_back_at=later)  # fmt: skip
    callback = Callback.objects.get(case=awake)
    assert (callback.status, callback.due_at, callback.created_by) == ("pending", later, awake.assigned_to)
    assert awake.events.filter(kind=CaseEvent.Kind.CALLBACK).count() == 1
    answer = contact_attempt_log(case=awake, channel="call", outcome="reached", actor=awake.assigned_to, at=later)
    callback.refresh_from_db()
    assert (callback.status, callback.done_by) == ("done", answer)


@pytest.mark.parametrize(
    ("offset", "code"),
    [(None, "callback.time_missing"), (-5, "callback.time_invalid"), (60 * 24 * 15, "callback.time_invalid")],
)
def test_a_callback_needs_a_time_ahead_and_within_two_weeks(awake, offset, code):
    now = timezone.now()
    when = None if offset is None else now + datetime.timedelta(minutes=offset)
    with pytest.raises(Exception) as raised:
        contact_attempt_log(case=awake, channel="call", outcome="call_back", actor=awake.assigned_to, at=now,
                            call_back_at=when)  # fmt: skip
    assert raised.value.code == code
    assert not ContactAttempt.objects.filter(case=awake).exists()  # nothing recorded


def test_a_callback_in_the_borrowers_night_is_refused(awake):
    zone_now = timezone.now().astimezone(ZoneInfo(awake.borrower.time_zone))
    night = zone_now.replace(hour=23, minute=30)  # later today: the borrower is awake (10:00-20:00) now
    with pytest.raises(Exception) as raised:
        contact_attempt_log(case=awake, channel="call", outcome="call_back", actor=awake.assigned_to,
                            call_back_at=night)  # fmt: skip
    assert raised.value.code == "callback.quiet_hours"


def test_the_worklist_shows_the_callbacks_due_with_what_the_guardrail_says_now(client, awake):
    contact_attempt_log(case=awake, channel="call", outcome="call_back", actor=awake.assigned_to,
                        call_back_at=timezone.now() + datetime.timedelta(minutes=30))  # fmt: skip
    Callback.objects.update(due_at=timezone.now() - datetime.timedelta(minutes=1))  # the time has come
    client.force_login(awake.assigned_to)
    response = client.get(reverse("cases:worklist"))
    (callback,) = response.context["callbacks"]
    assert callback.case == awake and callback.decision_now.allowed and callback.is_late
    assert awake.loan.reference in response.content.decode().split('id="callbacks"')[1].split("</table>")[0]


def test_a_callback_is_only_in_its_collectors_worklist_and_goes_when_the_case_closes(client, awake, other_collector):
    contact_attempt_log(case=awake, channel="call", outcome="call_back", actor=awake.assigned_to,
                        call_back_at=timezone.now() + datetime.timedelta(minutes=30))  # fmt: skip
    far = timezone.now() + datetime.timedelta(days=2)
    assert worklist_reads.callbacks_due(other_collector, now=far) == []
    assert len(worklist_reads.callbacks_due(awake.assigned_to, now=far)) == 1


def test_the_contact_form_takes_the_callback_time_in_the_borrowers_time(client, awake):
    zone = ZoneInfo(awake.borrower.time_zone)
    local_now = timezone.now().astimezone(zone)
    wanted = (local_now + datetime.timedelta(minutes=40)).replace(second=0, microsecond=0)
    client.force_login(awake.assigned_to)
    response = client.post(
        reverse("cases:action", args=[awake.pk, "contact"]),
        {"contact-channel": "call", "contact-target": "borrower", "contact-outcome": "call_back",
         "contact-call_back_at": wanted.strftime("%Y-%m-%dT%H:%M")},
    )  # fmt: skip
    assert response.status_code == 302
    assert Callback.objects.get(case=awake).due_at == wanted


def test_call_back_without_a_time_is_a_field_error(client, awake):
    client.force_login(awake.assigned_to)
    response = client.post(
        reverse("cases:action", args=[awake.pk, "contact"]),
        {"contact-channel": "call", "contact-target": "borrower", "contact-outcome": "call_back"},
    )
    assert response.status_code == 400
    assert "Say when the borrower asked to be called back." in response.content.decode()
    assert not ContactAttempt.objects.filter(case=awake).exists()


# Next case, and redirects after every recording POST


def test_next_case_walks_the_filtered_worklist_in_its_order(client, overdue_cases, collector):
    cases = [case for case in overdue_cases(6) if case.assigned_to == collector]
    client.force_login(collector)
    listed = [case.pk for case in client.get(reverse("cases:worklist"), {"bucket": "1-30"}).context["cases"]]
    assert sorted(listed) == sorted(case.pk for case in cases)
    walked, response = [], client.get(reverse("cases:detail", args=[listed[0]]) + "?from=bucket%3D1-30")
    while "case" in response.context:
        walked.append(response.context["case"].pk)
        response = client.get(reverse("cases:next", args=[walked[-1]]), {"from": "bucket=1-30"}, follow=True)
    assert walked == listed
    # After the last case, the list it came from, saying so.
    assert response.redirect_chain[-1][0] == reverse("cases:worklist") + "?bucket=1-30"
    assert "That was the last case of this list." in response.content.decode()


def test_a_note_redirects_back_keeping_the_worklist_it_came_from(client, awake):
    client.force_login(awake.assigned_to)
    response = client.post(
        reverse("cases:action", args=[awake.pk, "note"]) + "?from=bucket%3D1-30", {"note-text": "已发短信"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[awake.pk]) + "?from=bucket%3D1-30#note"


# The plan's instalments before it is requested


def test_the_plan_preview_shows_the_instalments_and_records_nothing(client, awake):
    client.force_login(awake.assigned_to)
    first_due = business_today() + datetime.timedelta(days=7)
    query = {"plan-installments": "3", "plan-first_due": first_due.isoformat(), "plan-frequency": "monthly"}
    fragment = client.get(reverse("cases:plan_preview", args=[awake.pk]), query, HTTP_HX_REQUEST="true")
    rows = fragment.context["preview"]["rows"]
    assert len(rows) == 3 and sum(amount for _day, amount in rows) == awake.loan.overdue_amount
    assert rows[0][0] == first_due
    assert f"{rows[0][1]:,.2f} CNY" in fragment.content.decode()
    page = client.get(reverse("cases:plan_preview", args=[awake.pk]), query)  # without JavaScript
    assert page.status_code == 200 and "The instalments this plan would have" in page.content.decode()
    assert not awake.plans.exists()
    assert not ApprovalRequest.objects.filter(case=awake).exists()


def test_a_plan_preview_of_too_many_instalments_says_why(client, awake):
    client.force_login(awake.assigned_to)
    query = {"plan-installments": "500", "plan-first_due": business_today().isoformat(), "plan-frequency": "weekly"}
    fragment = client.get(reverse("cases:plan_preview", args=[awake.pk]), query, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert fragment.context["preview"]["rows"] == []


def test_a_blocked_contact_is_not_recorded_twice_by_a_refresh(client, overdue_case):
    case = overdue_case(20, borrower=BorrowerFactory(time_zone=time_zone_where_local_hour_is(ASLEEP_HOURS)))
    client.force_login(case.assigned_to)
    with pytest.raises(ContactBlockedError):
        contact_attempt_log(case=case, channel="sms", outcome="", actor=case.assigned_to)
    response = client.post(
        reverse("cases:action", args=[case.pk, "contact"]),
        {"contact-channel": "call", "contact-target": "borrower", "contact-outcome": "no_answer"},
    )
    assert response.status_code == 302
    client.get(response["Location"])
    client.get(response["Location"])
    assert ContactAttempt.objects.filter(case=case, decision="blocked").count() == 2


def test_a_reload_of_a_form_that_showed_errors_goes_back_to_the_workspace(client, awake):
    client.force_login(awake.assigned_to)
    url = reverse("cases:action", args=[awake.pk, "contact"])
    assert client.post(url, {"contact-channel": "call"}).status_code == 400  # the errors, at the form's URL
    reloaded = client.get(url + "?from=bucket%3D1-30")  # a reload, or the language switch, asks by GET
    assert reloaded.status_code == 302
    assert reloaded["Location"] == reverse("cases:detail", args=[awake.pk]) + "?from=bucket%3D1-30#contact"
    assert not ContactAttempt.objects.filter(case=awake).exists()


def test_the_plan_preview_says_why_the_terms_do_not_fit(client, awake):
    client.force_login(awake.assigned_to)
    query = {"plan-installments": "30", "plan-first_due": business_today().isoformat(), "plan-frequency": "weekly"}
    fragment = client.get(reverse("cases:plan_preview", args=[awake.pk]), query, HTTP_HX_REQUEST="true")
    assert "Instalments: Ensure this value is less than or equal to" in fragment.content.decode()


def test_the_worklist_asks_the_guardrail_about_all_its_callbacks_at_once(client, overdue_cases, collector):
    """What the guardrail says about calling now, for every callback shown, costs the same few queries
    whether one callback is due or three."""
    mine = [case for case in overdue_cases(6, borrowers=[awake_borrower() for _ in range(6)])
            if case.assigned_to == collector]  # fmt: skip
    assert len(mine) >= 3
    client.force_login(collector)
    counts = []
    for case in mine[:3]:
        contact_attempt_log(case=case, channel="call", outcome="call_back", actor=collector,
                            call_back_at=timezone.now() + datetime.timedelta(minutes=30))  # fmt: skip
        Callback.objects.update(due_at=timezone.now() - datetime.timedelta(minutes=1))
        client.get(reverse("cases:worklist"))  # the session and caches as on every later page
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("cases:worklist"))
        assert all(callback.decision_now.allowed for callback in response.context["callbacks"])
        counts.append((len(response.context["callbacks"]), len(captured.captured_queries)))
    assert [shown for shown, _queries in counts] == [1, 2, 3]
    assert len({queries for _shown, queries in counts}) == 1, counts
