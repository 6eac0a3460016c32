"""The access matrix: every URL that names a case, a notice or a ledger record answers 404 to staff outside
the case's scope (as if it did not exist), 200 to those inside it; Managers and Compliance only read."""

import datetime
from types import SimpleNamespace

import pytest
from django.urls import reverse

from accounts import roles
from accounts.models import AuditEvent, Team
from creditops.core.dates import business_today
from dunning import selectors
from dunning.forms import CASE_FORMS
from dunning.models import ApprovalRequest, CaseEvent
from dunning.services.approvals import plan_installments_even, plan_request
from lending.models import BorrowerContact
from notices.models import Notice
from notices.services.issue import notice_issue
from tests.dunning.conftest import staff
from tests.factories import AWAKE_HOURS, BorrowerFactory, UserFactory, time_zone_where_local_hour_is

pytestmark = pytest.mark.django_db

MISSING = 10**6  # added to every id: the same URLs for records that do not exist

ADMIN_PAGES = {
    "lending_borrower": "borrower",
    "lending_loan": "loan",
    "lending_borrowercontact": "contact",
    "lending_installment": "installment",
    "dunning_collectioncase": "case",
    "notices_notice": "notice",
}


@pytest.fixture
def other_supervisor(db):
    """The supervisor of another team (with a collector of its own)."""
    supervisor = staff("sup_b", roles.SUPERVISOR)
    team = Team.objects.create(name="Team B", supervisor=supervisor)
    team.members.add(staff("col_b", roles.COLLECTOR))
    return supervisor


@pytest.fixture
def supervisor_of_the_collectors_other_team(db, collector):
    """Collector A also sits in another team: its supervisor still sees only that team's cases."""
    supervisor = staff("sup_c", roles.SUPERVISOR)
    Team.objects.create(name="Team C", supervisor=supervisor).members.add(collector)
    return supervisor


@pytest.fixture
def no_role(db):
    return UserFactory(username="norole")  # staff, signed in, in no role group


@pytest.fixture
def manager(db):
    return staff("boss", roles.MANAGER)


@pytest.fixture
def compliance(db):
    return staff("auditor", roles.COMPLIANCE)


@pytest.fixture
def world(overdue_cases, collector, settings, tmp_path):
    """A case of collector A (col1) with a third-party contact and an issued notice."""
    settings.MEDIA_ROOT = tmp_path / "media"
    (case,) = overdue_cases(1, borrowers=[BorrowerFactory(time_zone=time_zone_where_local_hour_is(AWAKE_HOURS))])
    assert case.assigned_to == collector
    contact = BorrowerContact.objects.create(
        borrower=case.borrower, relation=BorrowerContact.Relation.SPOUSE, name="李四", phone="+8613900000001"
    )
    notice = notice_issue(case=case, kind="collection_notice", actor=None)
    return SimpleNamespace(
        case=case,
        contact=contact,
        notice=notice,
        ids={
            "case": case.pk,
            "borrower": case.borrower_id,
            "loan": case.loan_id,
            "contact": contact.pk,
            "installment": case.loan.installments.order_by("sequence").first().pk,
            "notice": notice.pk,
        },
    )


def case_urls(ids: dict) -> list[tuple[str, str]]:
    case = ids["case"]
    reveals = ["id_number", "phone", f"phone-{ids['contact']}"]
    return (
        [("get", reverse("cases:detail", args=[case]))]
        + [("post", reverse("cases:action", args=[case, name])) for name in CASE_FORMS]
        + [("post", reverse("cases:reveal", args=[case, field])) for field in reveals]
        + [("get", reverse("cases:plan_preview", args=[case]))]
    )


def reading_urls(ids: dict) -> list[tuple[str, str]]:
    """Every GET page about the case: the workspace, the notice's PDF, a preview, the admin's records."""
    return (
        [("get", reverse("cases:detail", args=[ids["case"]]))]
        + [
            ("get", reverse("notices:pdf", args=[ids["notice"]])),
            ("get", reverse("notices:preview", args=[ids["case"], "collection_notice"])),
        ]
        + [("get", reverse(f"admin:{page}_change", args=[ids[key]])) for page, key in ADMIN_PAGES.items()]
    )


def every_url(ids: dict) -> list[tuple[str, str]]:
    return case_urls(ids) + reading_urls(ids)[1:]


def statuses(client, user, urls) -> dict[str, int]:
    client.force_login(user)
    return {f"{method.upper()} {url}": getattr(client, method)(url).status_code for method, url in urls}


def missing(ids: dict) -> dict:
    return {key: value + MISSING for key, value in ids.items()}


def test_the_matrix_covers_every_workspace_form_and_every_reveal(world):
    urls = [url for _method, url in every_url(world.ids)]
    assert len(urls) == len(set(urls)) == 1 + len(CASE_FORMS) + 3 + 1 + 2 + len(ADMIN_PAGES) == 26


@pytest.mark.parametrize("outsider", ["other_collector", "other_supervisor", "supervisor_of_the_collectors_other_team"])
def test_staff_outside_the_cases_scope_get_404_on_every_url_and_nothing_is_recorded(client, world, request, outsider):
    user = request.getfixturevalue(outsider)
    events, case_events, notices = AuditEvent.objects.count(), CaseEvent.objects.count(), Notice.objects.count()
    answers = statuses(client, user, every_url(world.ids))
    assert answers == dict.fromkeys(answers, 404)
    assert not AuditEvent.objects.filter(event__startswith="personal_data.").exists()
    assert not AuditEvent.objects.filter(actor=user).exists()
    assert (AuditEvent.objects.count(), CaseEvent.objects.count(), Notice.objects.count()) == (
        events,
        case_events,
        notices,
    )


def test_a_user_without_a_role_is_refused_without_learning_which_ids_exist(client, world, no_role):
    existing = statuses(client, no_role, every_url(world.ids))
    absent = statuses(client, no_role, every_url(missing(world.ids)))
    assert set(existing.values()) <= {403, 404}
    # The same answer, URL by URL, as for ids that do not exist.
    assert list(existing.values()) == list(absent.values())
    assert not AuditEvent.objects.filter(event__startswith="personal_data.").exists()


@pytest.mark.parametrize("reader", ["collector", "supervisor", "manager", "compliance"])
def test_the_owner_the_teams_supervisor_manager_and_compliance_read_every_page(client, world, request, reader):
    answers = statuses(client, request.getfixturevalue(reader), reading_urls(world.ids))
    assert answers == dict.fromkeys(answers, 200)


@pytest.mark.parametrize("reader", ["collector", "supervisor"])
def test_the_owner_and_the_teams_supervisor_reveal_each_masked_value(client, world, request, reader):
    user = request.getfixturevalue(reader)
    client.force_login(user)
    expected = {
        "id_number": world.case.borrower.id_number,
        "phone": world.case.borrower.phone,
        f"phone-{world.contact.pk}": world.contact.phone,
    }
    for field, value in expected.items():
        response = client.post(reverse("cases:reveal", args=[world.case.pk, field]))
        assert (response.status_code, value in response.content.decode()) == (200, True)
    revealed = AuditEvent.objects.filter(event="personal_data.revealed", actor=user).order_by("pk")
    assert [(event.detail["field"], event.subject_type) for event in revealed] == [
        ("id_number", "lending.borrower"),
        ("phone", "lending.borrower"),
        ("phone", "lending.borrowercontact"),
    ]


@pytest.mark.parametrize("reader", ["manager", "compliance"])
def test_managers_and_compliance_only_read_every_form_answers_403_and_records_nothing(client, world, request, reader):
    client.force_login(request.getfixturevalue(reader))
    case_events, audit_events = CaseEvent.objects.count(), AuditEvent.objects.count()
    note = client.post(reverse("cases:action", args=[world.case.pk, "note"]), {"note-text": "只是看看"})
    assert note.status_code == 403
    others = {
        name: client.post(reverse("cases:action", args=[world.case.pk, name]), {}).status_code for name in CASE_FORMS
    }
    assert others == dict.fromkeys(CASE_FORMS, 403)
    assert not CaseEvent.objects.filter(case=world.case, kind=CaseEvent.Kind.NOTE).exists()
    assert (CaseEvent.objects.count(), AuditEvent.objects.count()) == (case_events, audit_events)


def _plan_approval(case, actor) -> ApprovalRequest:
    rows = plan_installments_even(
        total=case.loan.overdue_amount,
        count=3,
        first_due=business_today() + datetime.timedelta(days=10),
        frequency="monthly",
    )
    plan = plan_request(case=case, installments=rows, reason="失业", actor=actor)
    return ApprovalRequest.objects.get(plan=plan)


def _decide(client, approval, decision="approve"):
    return client.post(reverse("cases:approvals"), {"approvals": [approval.pk], "decision": decision, "reason": "核实"})


def test_the_requester_cannot_decide_their_own_request(client, world, supervisor):
    approval = _plan_approval(world.case, supervisor)
    client.force_login(supervisor)
    assert _decide(client, approval).status_code == 400
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by) == (ApprovalRequest.Status.PENDING, None)


def test_a_supervisor_of_another_team_cannot_decide_the_teams_approvals(
    client, world, collector, supervisor, other_supervisor
):
    approval = _plan_approval(world.case, collector)
    client.force_login(other_supervisor)
    assert _decide(client, approval).status_code == 400
    approval.refresh_from_db()
    assert approval.status == ApprovalRequest.Status.PENDING
    client.force_login(supervisor)  # the same request from the team's own supervisor goes through
    assert _decide(client, approval).status_code == 302
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by) == (ApprovalRequest.Status.APPROVED, supervisor)


def test_a_contact_of_another_borrower_is_not_revealed_through_ones_own_case(client, world, overdue_case):
    theirs = overdue_case(25)  # another borrower's case, given to col2 (the least loaded)
    client.force_login(theirs.assigned_to)
    assert theirs.assigned_to != world.case.assigned_to
    response = client.post(reverse("cases:reveal", args=[theirs.pk, f"phone-{world.contact.pk}"]))
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(event="personal_data.revealed").exists()


@pytest.mark.parametrize("field", ["phone-abc", "name", "id_number-1", f"phone-{MISSING}"])
def test_a_malformed_reveal_answers_404_even_to_the_owner(client, world, collector, field):
    client.force_login(collector)
    assert client.post(reverse("cases:reveal", args=[world.case.pk, field])).status_code == 404
    assert not AuditEvent.objects.filter(event="personal_data.revealed").exists()


@pytest.mark.parametrize("holder", ["collector", "supervisor", "manager", "compliance", "administrator"])
def test_what_the_roles_allow_on_a_visible_case_is_what_the_scope_checks_answer(world, request, holder):
    """The workspace reads a user's abilities on a case it showed them from their roles alone: that must
    equal the scope checks' answers (collector and supervisor work it, the supervisor and the
    administrator supervise it, managers and compliance only read)."""
    user = staff("root", roles.ADMINISTRATOR) if holder == "administrator" else request.getfixturevalue(holder)
    assert selectors.cases_visible_to(user).filter(pk=world.case.pk).exists()
    checked = {
        "works": selectors.case_workable_by(user, world.case),
        "supervises": selectors.case_supervisable_by(user, world.case),
    }
    assert selectors.abilities_on_a_visible_case(user) == checked
