"""The audit-trail screens for Compliance: who may open them, their filters, CSV exports (themselves
audited) and keyset paging, over events left by the real services and views."""

import csv
import datetime
import html
import io
import json
import re
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts import roles
from accounts.models import AuditEvent
from accounts.services import audit_record
from creditops.core.dates import business_today
from dunning.models import ApprovalRequest, ContactAttempt
from dunning.services.approvals import approval_decide, plan_installments_even, plan_request
from dunning.services.cases import contact_attempt_log
from dunning.services.guardrails import ContactBlockedError
from tests.dunning import conftest as collections
from tests.factories import ASLEEP_HOURS, AWAKE_HOURS, BorrowerFactory, time_zone_where_local_hour_is

pytestmark = pytest.mark.django_db

# The collections fixtures (a team with supervisor 'sup', collectors 'col1' and 'col2', overdue cases).
supervisor = collections.supervisor
collector = collections.collector
other_collector = collections.other_collector
team = collections.team
cn_product = collections.cn_product
overdue_cases = collections.overdue_cases

AUDIT_URL, BLOCKED_URL = reverse("accounts:audit"), reverse("accounts:blocked_contacts")
AUDIT_COLUMNS = ["ID", "Time", "Staff user", "Event", "Event code", "Record", "Record ID", "Detail", "Detail (JSON)"]
BLOCKED_COLUMNS = ["ID", "Time", "Staff user", "Channel", "Rule", "Rule code", "Profile", "Case", "Loan", "Automatic"]


@pytest.fixture
def compliance(db):
    return collections.staff("auditor", roles.COMPLIANCE)


@pytest.fixture
def compliance_client(client, compliance):
    client.force_login(compliance)
    return client


@pytest.fixture
def trail(overdue_cases, supervisor, collector, other_collector, compliance):
    """One of each kind of event the screens gather, each left by the real view or service:
    a reveal in the workspace and a borrower opened in the admin, a plan requested and approved, a call
    blocked by quiet hours (and an allowed one), and an export of the blocked contacts."""
    awake_borrower = BorrowerFactory(time_zone=time_zone_where_local_hour_is(AWAKE_HOURS))
    asleep_borrower = BorrowerFactory(time_zone=time_zone_where_local_hour_is(ASLEEP_HOURS))
    cases = {case.borrower_id: case for case in overdue_cases(2, borrowers=[awake_borrower, asleep_borrower])}
    awake, asleep = cases[awake_borrower.pk], cases[asleep_borrower.pk]
    assert {awake.assigned_to, asleep.assigned_to} == {collector, other_collector}
    staff_browser = Client()
    staff_browser.force_login(awake.assigned_to)
    assert staff_browser.post(reverse("cases:reveal", args=[awake.pk, "id_number"])).status_code == 200
    staff_browser.force_login(compliance)
    assert staff_browser.get(reverse("admin:lending_borrower_change", args=[awake.borrower_id])).status_code == 200
    contact_attempt_log(case=awake, channel="call", outcome="no_answer", actor=awake.assigned_to)
    rows = plan_installments_even(
        total=awake.loan.overdue_amount,
        count=2,
        first_due=business_today() + datetime.timedelta(days=7),
        frequency="monthly",
    )
    plan = plan_request(case=awake, installments=rows, reason="收入下降", actor=awake.assigned_to)
    approval_decide(approval=ApprovalRequest.objects.get(plan=plan), approve=True, reason="同意", actor=supervisor)
    with pytest.raises(ContactBlockedError) as refused:
        contact_attempt_log(case=asleep, channel="call", outcome="reached", actor=asleep.assigned_to)
    assert staff_browser.get(BLOCKED_URL, {"format": "csv"}).status_code == 200
    return {"awake": awake, "asleep": asleep, "blocked": refused.value.attempt}


def listed(response) -> list[int]:
    assert response.status_code == 200
    return [row.pk for row in response.context["rows"]]


def event_ids(predicate) -> list[int]:
    return [event.pk for event in AuditEvent.objects.order_by("-id") if predicate(event)]


def csv_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8").removeprefix("\ufeff"))))


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (roles.COMPLIANCE, 200),
        (roles.ADMINISTRATOR, 200),
        (roles.COLLECTOR, 403),
        (roles.SUPERVISOR, 403),
        (roles.MANAGER, 403),
    ],
)
def test_only_compliance_and_administrators_open_the_audit_screens(client, role, status):
    client.force_login(collections.staff(f"someone_{role.lower()}", role))
    assert (client.get(AUDIT_URL).status_code, client.get(BLOCKED_URL).status_code) == (status, status)
    assert client.get(AUDIT_URL, {"format": "csv"}).status_code == status
    if status == 403:
        assert not AuditEvent.objects.filter(event="audit.exported").exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(AUDIT_URL)
    assert (response.status_code, response["Location"]) == (302, f"{reverse('accounts:login')}?next={AUDIT_URL}")


@pytest.mark.parametrize(
    ("category", "events"),
    [
        ("reveals", {"personal_data.revealed", "personal_data.viewed"}),
        ("approvals", {"approval.requested", "approval.decided"}),
        ("exports", {"audit.exported"}),
        ("blocked", {"contact.blocked"}),
    ],
)
def test_a_category_lists_exactly_its_events_newest_first(compliance_client, trail, category, events):
    shown = compliance_client.get(AUDIT_URL, {"category": category})
    assert {event.event for event in shown.context["rows"]} == events
    assert listed(shown) == event_ids(lambda event: event.event in events)
    prefixes = {"reveals": "personal_data.", "approvals": "approval.", "blocked": "contact.blocked"}
    if category == "exports":
        assert listed(shown) == event_ids(lambda event: event.event.endswith(".exported"))
    else:
        assert listed(shown) == event_ids(lambda event: event.event.startswith(prefixes[category]))


def test_everything_is_listed_without_filters(compliance_client, trail):
    assert listed(compliance_client.get(AUDIT_URL)) == event_ids(lambda event: True)


def test_the_actor_filter_lists_one_staff_members_events(compliance_client, trail, supervisor):
    worker = trail["awake"].assigned_to
    mine = listed(compliance_client.get(AUDIT_URL, {"actor": worker.username}))
    assert mine == event_ids(lambda event: event.actor_id == worker.pk)
    assert {AuditEvent.objects.get(pk=pk).event for pk in mine} >= {"personal_data.revealed", "approval.requested"}
    decided = listed(compliance_client.get(AUDIT_URL, {"actor": "sup", "category": "approvals"}))
    assert decided == event_ids(lambda event: event.actor_id == supervisor.pk and event.event == "approval.decided")
    assert len(decided) == 1
    assert listed(compliance_client.get(AUDIT_URL, {"actor": "nobody"})) == []


def test_date_filters_take_whole_days_in_the_portals_time_zone(compliance_client, monkeypatch):
    zone = ZoneInfo(settings.TIME_ZONE)

    def recorded_at(moment, event):
        with monkeypatch.context() as clock:
            clock.setattr(timezone, "now", lambda: moment)
            return audit_record(actor=None, event=event, detail={"at": moment.isoformat()})

    early = recorded_at(datetime.datetime(2026, 3, 7, 12, 0, tzinfo=zone), "payment.posted")
    evening = recorded_at(datetime.datetime(2026, 3, 9, 23, 30, tzinfo=zone), "payment.reversed")
    # 00:10 on the 10th in the portal's zone is still the 9th in UTC.
    midnight = recorded_at(datetime.datetime(2026, 3, 10, 0, 10, tzinfo=zone), "loan.created")
    recent = audit_record(actor=None, event="dunning.run")

    def shown(**dates):
        return listed(compliance_client.get(AUDIT_URL, dates))

    assert shown(date_from="2026-03-10", date_to="2026-03-10") == [midnight.pk]
    assert shown(date_from="2026-03-09", date_to="2026-03-09") == [evening.pk]
    assert shown(date_to="2026-03-09") == [evening.pk, early.pk]
    assert shown(date_from="2026-03-08", date_to="2026-03-08") == []
    assert shown(date_from="2026-03-08") == [recent.pk, midnight.pk, evening.pk]
    assert shown(date_from=business_today().isoformat()) == [recent.pk]
    page = compliance_client.get(AUDIT_URL, {"date_from": "2026-03-10", "date_to": "2026-03-10"}).content.decode()
    assert "2026-03-10 00:10:00" in page


def test_the_csv_export_holds_exactly_the_filtered_rows_and_is_itself_audited(compliance_client, trail, compliance):
    before = AuditEvent.objects.filter(event="audit.exported").count()
    response = compliance_client.get(AUDIT_URL, {"category": "reveals", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert re.fullmatch(r'attachment; filename="audit-events-\d{8}-\d{4}\.csv"', response["Content-Disposition"])
    rows = csv_rows(response)
    revealed = AuditEvent.objects.filter(event__startswith="personal_data.").order_by("-id")
    assert rows[0] == AUDIT_COLUMNS
    assert rows[1:] == [
        [
            str(event.pk), local(event.created_at), event.actor.username, event.event_words, event.event,
            event.subject_words, event.subject_id, event.detail_words,
            json.dumps(event.detail, ensure_ascii=False, sort_keys=True),
        ]
        for event in revealed
    ]  # fmt: skip
    assert len(rows) == 1 + 2
    assert {row[3] for row in rows[1:]} <= {"Personal data revealed", "Personal data viewed"}  # in words
    exported = AuditEvent.objects.filter(event="audit.exported").order_by("-id")
    assert exported.count() == before + 1
    assert (exported[0].actor, exported[0].detail) == (
        compliance,
        {"export": "audit-events", "filters": {"category": "reveals"}},
    )


def test_the_blocked_contacts_screen_lists_a_quiet_hours_refusal_with_its_rule(compliance_client, trail):
    blocked = trail["blocked"]
    assert blocked.decision == ContactAttempt.Decision.BLOCKED
    assert blocked.rule
    response = compliance_client.get(BLOCKED_URL)
    assert listed(response) == [blocked.pk]  # the allowed call is not there
    page = response.content.decode()
    assert "<td>Outside contact hours</td>" in page
    assert blocked.rule not in page.split('id="blocked-contacts"')[-1].split("</table>")[0]  # words, not the code
    assert trail["asleep"].loan.reference in page
    assert listed(compliance_client.get(BLOCKED_URL, {"rule": blocked.rule})) == [blocked.pk]
    assert listed(compliance_client.get(BLOCKED_URL, {"rule": "no_such_rule"})) == []
    assert listed(compliance_client.get(BLOCKED_URL, {"case": trail["awake"].pk})) == []


def test_the_blocked_contacts_csv(compliance_client, trail, compliance):
    blocked, case = trail["blocked"], trail["asleep"]
    response = compliance_client.get(BLOCKED_URL, {"rule": blocked.rule, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert csv_rows(response) == [
        BLOCKED_COLUMNS,
        [
            str(blocked.pk), local(blocked.attempted_at), case.assigned_to.username, "Call", "Outside contact hours",
            blocked.rule, blocked.profile, str(case.pk), case.loan.reference, "no",
        ],
    ]  # fmt: skip
    exported = AuditEvent.objects.filter(event="audit.exported").latest("id")
    assert (exported.actor, exported.detail) == (
        compliance,
        {"export": "blocked-contacts", "filters": {"rule": blocked.rule}},
    )


def next_link(page: str) -> str | None:
    found = re.search(r'<a href="\?([^"]*)" rel="next">', page)
    return html.unescape(found.group(1)) if found else None


def by(username):
    return lambda event: event.actor_id is not None and event.actor.username == username


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("", lambda event: True),
        ("actor=col1", by("col1")),
        ("category=reveals", lambda event: event.event.startswith("personal_data.")),
        ("category=approvals&actor=sup", lambda event: by("sup")(event) and event.event.startswith("approval.")),
    ],
)
def test_following_the_older_links_walks_every_row_exactly_once(
    compliance_client, trail, monkeypatch, query, predicate
):
    monkeypatch.setattr("accounts.views.AUDIT_PAGE_SIZE", 2)
    everything = event_ids(predicate)
    assert everything
    seen, pages, link = [], 0, query
    while link is not None:
        response = compliance_client.get(f"{AUDIT_URL}?{link}")
        rows = listed(response)
        assert 1 <= len(rows) <= 2
        seen += rows
        pages += 1
        link = next_link(response.content.decode())
        if link is not None:
            assert link.startswith(query)  # the filters go along to the next page
    assert seen == everything
    assert pages == (len(everything) + 1) // 2


@pytest.mark.parametrize("before", ["abc", "²", "-3", ""])
@pytest.mark.parametrize("url", [AUDIT_URL, BLOCKED_URL])
def test_a_hand_made_before_cursor_shows_the_first_page(compliance_client, trail, url, before):
    first = compliance_client.get(url)
    response = compliance_client.get(url, {"before": before})
    assert response.status_code == 200
    assert listed(response) == listed(first)


@pytest.mark.parametrize("case", ["99999999999999999999999", "1e30"])
def test_a_case_number_no_case_can_have_matches_no_blocked_contact(compliance_client, trail, case):
    assert listed(compliance_client.get(BLOCKED_URL, {"case": case})) == []


def test_the_audit_trail_reads_in_chinese_with_codes_only_in_the_export(compliance_client, trail):
    compliance_client.cookies["django_language"] = "zh-hans"
    page = compliance_client.get(AUDIT_URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    table = page.split('id="audit-events"')[1].split("</table>")[0]
    assert "personal_data.revealed" not in table and "contact.blocked" not in table
    assert "{" not in table  # no raw JSON on the screen
    header = csv_rows(compliance_client.get(AUDIT_URL, {"format": "csv"}, HTTP_ACCEPT_LANGUAGE="zh-hans"))[0]
    assert header[:3] == ["编号", "时间", "员工用户"]


def test_details_read_in_words_whatever_app_wrote_them():
    from accounts.audit_words import detail_words

    detail = {"kind": "payment_reminder", "deliveries": ["letter", "email"], "outcome": "offer_plan",
              "table": "rollrates", "filters": {}, "reference": "CN-2026-000038"}  # fmt: skip
    with translation.override("en"):
        words = detail_words(detail)
    for code in ("payment_reminder", "offer_plan", "rollrates", "letter"):
        assert code not in words
    assert "Offer a payment plan" in words and "Roll rates" in words and "filters: —" in words
    with translation.override("zh-hans"):
        chinese = detail_words(detail)
    assert "贷款编号" not in chinese  # a notice's reference is not a loan number
    assert not re.search(r"[a-z]{4,}", chinese.replace("CN-2026-000038", ""))


def test_the_trail_is_newest_first_by_time_and_pages_walk_ties_and_late_ids_exactly_once(
    compliance_client, monkeypatch
):
    """An event can get its id after a younger one (its transaction was slower): the list is by time,
    then id, and the older link follows that order, same-time events included."""
    monkeypatch.setattr("accounts.views.AUDIT_PAGE_SIZE", 2)
    moment = datetime.datetime(2026, 3, 9, 10, 0, tzinfo=datetime.UTC)

    def recorded_at(minutes, event):
        with monkeypatch.context() as clock:
            clock.setattr(timezone, "now", lambda: moment + datetime.timedelta(minutes=minutes))
            return audit_record(actor=None, event=event)

    newest, tie_a, tie_b, late_id = (
        recorded_at(5, "a"), recorded_at(3, "b"), recorded_at(3, "c"), recorded_at(1, "d")
    )  # fmt: skip
    oldest_but_last_id = recorded_at(0, "e")
    expected = [newest.pk, tie_b.pk, tie_a.pk, late_id.pk, oldest_but_last_id.pk]
    seen, link = [], "date_to=2026-03-09"
    while link is not None:
        response = compliance_client.get(f"{AUDIT_URL}?{link}")
        seen += listed(response)
        link = next_link(response.content.decode())
    assert seen == expected
