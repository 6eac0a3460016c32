"""The work on a case (dunning/services/cases.py) and who may do it (dunning/selectors.py): assignment and
bulk reassignment, notes, contact attempts by the case's own collector, promises to pay, disputes, the
append-only timeline, and payments showing up on it.

Cases come from the real nightly run (`overdue_case`): the first one goes to `collector`, the second to
`other_collector` (least loaded), both in Team A supervised by `supervisor`. A loan booked there owes
1,066.19 per month; at 10 days past due its case is at the D+7 stage with a pending collector call.
"""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, connection, transaction

from accounts import roles
from accounts.models import AuditEvent, Team
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from dunning.models import CaseEvent, CaseStatus, Channel, CollectionCase, ContactAttempt, Dispute, PromiseToPay
from dunning.selectors import case_workable_by, cases_visible_to
from dunning.services.cases import (
    case_assign,
    case_note_add,
    cases_reassign,
    contact_attempt_log,
    dispute_raise,
    dispute_resolve,
    promise_record,
)
from dunning.services.guardrails import ContactBlockedError, contact_decide
from lending.models import Installment
from lending.services import payment_post, payment_reverse
from tests.dunning.conftest import FIRST_DUE, staff
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# A weekday in the borrowers' daytime (the default borrower lives in Shanghai).
WORKING_HOURS = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
Outcome = ContactAttempt.Outcome
Event = CaseEvent.Kind


def refusal(function, **kwargs) -> DomainError:
    """Call a service that must refuse; returns the DomainError."""
    with pytest.raises(DomainError) as caught:
        function(**kwargs)
    return caught.value


def event_kinds(case, after_id=0) -> list[str]:
    return list(case.events.filter(pk__gt=after_id).order_by("pk").values_list("kind", flat=True))


def last_event_id() -> int:
    return CaseEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def days_from_today(days: int) -> datetime.date:
    return business_today() + datetime.timedelta(days=days)


@pytest.fixture
def case(overdue_case, collector):
    """Team A's first case (10 days past due), assigned to `collector`."""
    case = overdue_case(days_past_due=10)
    assert case.assigned_to == collector
    return case


@pytest.fixture
def other_team(db):
    """Team B with its own supervisor and collector (no assignment rule routes cases to it)."""
    team = Team.objects.create(name="Team B", supervisor=staff("sup_b", roles.SUPERVISOR))
    team.members.add(staff("col_b", roles.COLLECTOR))
    return team


@pytest.fixture
def administrator(db):
    return UserFactory(username="root", is_superuser=True)


# ---------------------------------------------------------------------------------------------------------
# Assignment


def test_the_teams_supervisor_assigns_a_case_with_a_timeline_entry_and_an_audit_event(
    case, supervisor, collector, other_collector, team
):
    before = last_event_id()

    assigned = case_assign(case=case, collector=other_collector, actor=supervisor, reason="holiday cover")

    case.refresh_from_db()
    assert (assigned.assigned_to, case.assigned_to, case.team) == (other_collector, other_collector, team)
    event = case.events.get(pk__gt=before)
    assert (event.kind, event.actor) == (Event.ASSIGNED, supervisor)
    assert event.detail == {"from": collector.pk, "to": other_collector.pk, "team": team.pk, "reason": "holiday cover"}
    audit = AuditEvent.objects.get(event="case.assigned")
    assert (audit.actor, audit.subject_id, audit.detail["to"]) == (supervisor, str(case.pk), other_collector.pk)


@pytest.mark.parametrize("who", ["collector", "other_collector", "other_supervisor"])
def test_only_the_teams_supervisor_may_assign(request, case, other_collector, other_team, who):
    actor = other_team.supervisor if who == "other_supervisor" else request.getfixturevalue(who)

    error = refusal(case_assign, case=case, collector=other_collector, actor=actor)

    assert error.code == "case.forbidden"
    case.refresh_from_db()
    assert case.assigned_to == request.getfixturevalue("collector")
    assert not AuditEvent.objects.filter(event="case.assigned").exists()


def test_a_case_can_only_go_to_an_active_collector(case, supervisor, other_collector):
    assert refusal(case_assign, case=case, collector=supervisor, actor=supervisor).code == "case.not_collector"
    other_collector.is_active = False
    other_collector.save(update_fields=["is_active"])
    assert refusal(case_assign, case=case, collector=other_collector, actor=supervisor).code == "case.not_collector"


def test_bulk_reassignment_moves_every_case(overdue_case, supervisor, other_collector):
    first, second = overdue_case(days_past_due=10), overdue_case(days_past_due=11)

    moved = cases_reassign(case_ids=[first.pk, second.pk], collector=other_collector, actor=supervisor)

    assert moved == 2
    assert set(CollectionCase.objects.values_list("assigned_to", flat=True)) == {other_collector.pk}


def test_bulk_reassignment_with_an_unknown_id_moves_nothing(case, supervisor, collector, other_collector):
    before = last_event_id()

    error = refusal(cases_reassign, case_ids=[case.pk, 999_999], collector=other_collector, actor=supervisor)

    assert error.code == "case.not_found"
    case.refresh_from_db()
    assert case.assigned_to == collector
    assert last_event_id() == before


def test_bulk_reassignment_with_one_forbidden_case_moves_nothing(
    overdue_case, supervisor, administrator, collector, other_collector, other_team
):
    ours = overdue_case(days_past_due=10)
    theirs = overdue_case(days_past_due=11)
    case_assign(case=theirs, collector=other_team.members.get(), actor=administrator)
    assert ours.pk < theirs.pk  # ours is reassigned first, then theirs refuses
    before = last_event_id()

    error = refusal(cases_reassign, case_ids=[ours.pk, theirs.pk], collector=other_collector, actor=supervisor)

    assert error.code == "case.forbidden"
    ours.refresh_from_db()
    assert ours.assigned_to == collector
    assert last_event_id() == before
    assert AuditEvent.objects.filter(event="case.assigned", actor=supervisor).count() == 0


# ---------------------------------------------------------------------------------------------------------
# Notes


def test_a_note_goes_on_the_timeline_trimmed(case, collector):
    event = case_note_add(case=case, text="  Borrower lost his job in January.  ", actor=collector)

    assert (event.kind, event.actor, event.detail) == (
        Event.NOTE,
        collector,
        {"text": "Borrower lost his job in January."},
    )
    assert event_kinds(case, after_id=event.pk - 1) == [Event.NOTE]


def test_notes_are_refused_when_empty_too_long_or_not_yours(case, collector, other_collector):
    assert refusal(case_note_add, case=case, text="   ", actor=collector).code == "note.empty"
    assert refusal(case_note_add, case=case, text="x" * 2001, actor=collector).code == "note.too_long"
    assert refusal(case_note_add, case=case, text="hi", actor=other_collector).code == "case.forbidden"
    assert case_note_add(case=case, text="x" * 2000, actor=collector).detail["text"] == "x" * 2000


# ---------------------------------------------------------------------------------------------------------
# Contact attempts


def test_a_collector_cannot_log_contact_on_another_collectors_case(case, other_collector, supervisor):
    error = refusal(
        contact_attempt_log,
        case=case,
        channel=Channel.CALL,
        outcome=Outcome.REACHED,
        actor=other_collector,
        at=WORKING_HOURS,
    )

    assert error.code == "case.forbidden"
    assert not ContactAttempt.objects.exists()
    assert (case_workable_by(other_collector, case), case_workable_by(supervisor, case)) == (False, True)


def test_a_logged_call_completes_the_pending_collector_call(case, collector):
    action = case.actions.get(kind="collector_call")
    assert action.status == "pending"
    sms = contact_attempt_log(case=case, channel=Channel.SMS, outcome=Outcome.SENT, actor=collector, at=WORKING_HOURS)
    action.refresh_from_db()
    assert action.status == "pending"  # an SMS is not the collector's call

    assert sms.decision == ContactAttempt.Decision.ALLOWED
    before = last_event_id()

    call_at = WORKING_HOURS + datetime.timedelta(hours=1)
    call = contact_attempt_log(case=case, channel=Channel.CALL, outcome=Outcome.NO_ANSWER, actor=collector, at=call_at)

    action.refresh_from_db()
    assert (action.status, action.completed_at, action.result) == ("done", call_at, f"contact:{call.pk}")
    assert event_kinds(case, after_id=before) == [Event.CONTACT, Event.ACTION_DONE]
    assert case.events.get(kind=Event.ACTION_DONE).detail == {"action": action.pk, "kind": "collector_call"}


def test_contact_attempts_refuse_unknown_channels_and_outcomes(case, collector):
    bad_channel = refusal(contact_attempt_log, case=case, channel="pigeon", outcome="", actor=collector)
    bad_outcome = refusal(contact_attempt_log, case=case, channel=Channel.CALL, outcome="maybe", actor=collector)

    assert (bad_channel.code, bad_outcome.code) == ("contact.channel_invalid", "contact.outcome_invalid")
    assert not ContactAttempt.objects.exists()


# ---------------------------------------------------------------------------------------------------------
# Promises to pay


def test_a_promise_is_recorded_and_the_case_becomes_promised(case, collector):
    promise = promise_record(case=case, amount="500", promised_for=days_from_today(7), actor=collector)

    assert (promise.amount, promise.promised_for, promise.made_on) == (
        Decimal("500.00"),
        days_from_today(7),
        business_today(),
    )
    assert (promise.status, promise.created_by) == (PromiseToPay.Status.PENDING, collector)
    case.refresh_from_db()
    assert case.status == CaseStatus.PROMISED
    event = case.events.get(kind=Event.PROMISE)
    assert event.detail == {"promise": promise.pk, "amount": "500.00", "promised_for": days_from_today(7).isoformat()}
    assert AuditEvent.objects.filter(event="promise.recorded", subject_id=str(promise.pk)).count() == 1


@pytest.mark.parametrize(
    ("amount", "days_ahead", "code"),
    [
        ("0", 3, "promise.amount_invalid"),
        ("-100", 3, "promise.amount_invalid"),
        ("0.004", 3, "promise.amount_invalid"),
        ("abc", 3, "promise.amount_invalid"),
        (None, 3, "promise.amount_invalid"),
        ("Infinity", 3, "promise.amount_invalid"),
        ("100", -1, "promise.date_past"),
        ("100", 31, "promise.date_too_far"),
    ],
)
def test_promise_validation(case, collector, amount, days_ahead, code):
    error = refusal(promise_record, case=case, amount=amount, promised_for=days_from_today(days_ahead), actor=collector)

    assert error.code == code
    assert not PromiseToPay.objects.exists()
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def test_a_promise_is_bounded_by_what_the_loan_owes_in_all(case, collector):
    """The loan (12,000.00 at 12% over 12 months) owes its whole schedule: 12,794.23."""
    owed = Decimal("12794.23")
    assert sum(item.outstanding_amount for item in Installment.objects.filter(loan=case.loan)) == owed
    too_much = refusal(
        promise_record, case=case, amount="9999999999999999.99", promised_for=days_from_today(3), actor=collector
    )
    assert too_much.code == "promise.amount_over_owed"
    assert too_much.message == (
        "The promised amount 9,999,999,999,999,999.99 CNY is more than the loan owes in all (12,794.23 CNY)."
    )
    assert (
        refusal(promise_record, case=case, amount="12794.24", promised_for=days_from_today(3), actor=collector).code
        == "promise.amount_over_owed"
    )
    assert not PromiseToPay.objects.exists()
    promise = promise_record(case=case, amount="12794.23", promised_for=days_from_today(3), actor=collector)
    assert promise.amount == owed


def test_a_promised_amount_that_is_nan_is_a_domain_error(case, collector):
    """Bug: Decimal('NaN') passes the try block and crashes the `amount <= 0` comparison."""
    error = refusal(promise_record, case=case, amount="NaN", promised_for=days_from_today(3), actor=collector)

    assert error.code == "promise.amount_invalid"


def test_promise_dates_are_counted_from_made_on(case, collector):
    made_on = datetime.date(2026, 3, 1)
    today = promise_record(case=case, amount="100", promised_for=made_on, made_on=made_on, actor=collector)
    last_day = made_on + datetime.timedelta(days=30)
    furthest = promise_record(case=case, amount="100", promised_for=last_day, made_on=made_on, actor=collector)

    assert (today.made_on, furthest.promised_for) == (made_on, datetime.date(2026, 3, 31))
    too_far = refusal(
        promise_record,
        case=case,
        amount="100",
        promised_for=datetime.date(2026, 4, 1),
        made_on=made_on,
        actor=collector,
    )
    assert too_far.code == "promise.date_too_far"


def test_a_second_promise_cancels_the_first(case, collector):
    first = promise_record(case=case, amount="300", promised_for=days_from_today(5), actor=collector)

    second = promise_record(case=case, amount="1066.19", promised_for=days_from_today(10), actor=collector)

    first.refresh_from_db()
    assert (first.status, first.evaluated_on) == (PromiseToPay.Status.CANCELLED, business_today())
    assert list(case.promises.filter(status="pending")) == [second]
    case.refresh_from_db()
    assert case.status == CaseStatus.PROMISED


def test_another_collector_cannot_take_a_promise(case, other_collector):
    error = refusal(promise_record, case=case, amount="100", promised_for=days_from_today(1), actor=other_collector)

    assert error.code == "case.forbidden"


# ---------------------------------------------------------------------------------------------------------
# Disputes


def test_a_dispute_pauses_contact_until_it_is_resolved(case, collector):
    dispute = dispute_raise(case=case, reason="  Says the March payment was made.  ", actor=collector)

    case.refresh_from_db()
    assert (case.status, dispute.status, dispute.reason, dispute.raised_by) == (
        CaseStatus.DISPUTED,
        Dispute.Status.OPEN,
        "Says the March payment was made.",
        collector,
    )
    with pytest.raises(ContactBlockedError) as blocked:
        contact_attempt_log(case=case, channel=Channel.CALL, outcome=Outcome.REACHED, actor=collector, at=WORKING_HOURS)
    assert blocked.value.code == "contact.hold_dispute"
    assert refusal(dispute_raise, case=case, reason="again", actor=collector).code == "dispute.already_open"

    dispute_resolve(dispute=dispute, resolution="Bank statement shows no payment.", actor=collector)

    dispute.refresh_from_db()
    case.refresh_from_db()
    assert (dispute.status, dispute.resolved_by, dispute.resolution) == (
        Dispute.Status.RESOLVED,
        collector,
        "Bank statement shows no payment.",
    )
    assert case.status == CaseStatus.OPEN
    attempt = contact_attempt_log(
        case=case, channel=Channel.CALL, outcome=Outcome.REACHED, actor=collector, at=WORKING_HOURS
    )
    assert attempt.decision == ContactAttempt.Decision.ALLOWED
    kinds = event_kinds(case)
    assert kinds.index(Event.DISPUTE_RAISED) < kinds.index(Event.CONTACT_BLOCKED) < kinds.index(Event.DISPUTE_RESOLVED)
    assert AuditEvent.objects.filter(event__in=["dispute.raised", "dispute.resolved"]).count() == 2
    assert refusal(dispute_resolve, dispute=dispute, resolution="again", actor=collector).code == "dispute.resolved"


def test_a_resolved_dispute_returns_a_promised_case_to_promised(case, collector):
    promise_record(case=case, amount="200", promised_for=days_from_today(3), actor=collector)
    dispute = dispute_raise(case=case, reason="Amount wrong", actor=collector)

    dispute_resolve(dispute=dispute, resolution="Amount confirmed", actor=collector)

    case.refresh_from_db()
    assert case.status == CaseStatus.PROMISED


def test_a_dispute_needs_a_reason_and_its_resolution_a_text(case, collector):
    assert refusal(dispute_raise, case=case, reason=" ", actor=collector).code == "dispute.reason_missing"
    dispute = dispute_raise(case=case, reason="Identity theft", actor=collector)
    assert (
        refusal(dispute_resolve, dispute=dispute, resolution="", actor=collector).code == "dispute.resolution_missing"
    )


# ---------------------------------------------------------------------------------------------------------
# The timeline is append-only


def test_the_timeline_refuses_update_and_delete_through_the_orm(case, collector):
    event = case_note_add(case=case, text="original", actor=collector)

    for attempt in (
        lambda: CaseEvent.objects.filter(pk=event.pk).update(detail={"text": "edited"}),
        lambda: CaseEvent.objects.filter(pk=event.pk).delete(),
        lambda: event.save(),
        lambda: event.delete(),
        lambda: CaseEvent.objects.bulk_update([event], ["detail"]),
    ):
        with pytest.raises(DomainError) as caught, transaction.atomic():
            attempt()
        assert caught.value.code == "timeline.append_only"

    assert CaseEvent.objects.get(pk=event.pk).detail == {"text": "original"}


def test_the_database_refuses_raw_update_and_delete_of_the_timeline(on_postgres, case, collector):
    event = case_note_add(case=case, text="original", actor=collector)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE dunning_caseevent SET detail = '{}' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM dunning_caseevent WHERE id = %s", [event.pk])

    assert CaseEvent.objects.get(pk=event.pk).detail == {"text": "original"}


# ---------------------------------------------------------------------------------------------------------
# Who sees which case


def test_cases_visible_to_scopes_by_role(
    overdue_case, supervisor, collector, other_collector, other_team, administrator
):
    own = overdue_case(days_past_due=10)
    colleagues = overdue_case(days_past_due=11)
    other_teams = overdue_case(days_past_due=12)
    case_assign(case=other_teams, collector=other_team.members.get(), actor=administrator)
    everything = {own.pk, colleagues.pk, other_teams.pk}

    def visible(user):
        return set(cases_visible_to(user).values_list("pk", flat=True))

    assert visible(collector) == {own.pk}
    assert visible(other_collector) == {colleagues.pk}
    assert visible(other_team.members.get()) == {other_teams.pk}
    assert visible(supervisor) == {own.pk, colleagues.pk}
    assert visible(other_team.supervisor) == {other_teams.pk}
    assert visible(staff("manager", roles.MANAGER)) == everything
    assert visible(staff("compliance", roles.COMPLIANCE)) == everything
    assert visible(staff("admin_group", roles.ADMINISTRATOR)) == everything
    assert visible(administrator) == everything
    assert visible(UserFactory(username="nobody")) == set()


def test_an_inactive_user_sees_nothing(case, collector):
    collector.is_active = False
    collector.save(update_fields=["is_active"])

    assert not cases_visible_to(collector).exists()


def test_managers_and_compliance_read_but_do_not_work_cases(case):
    manager = staff("manager", roles.MANAGER)
    compliance = staff("compliance", roles.COMPLIANCE)

    assert (case_workable_by(manager, case), case_workable_by(compliance, case)) == (False, False)
    assert refusal(case_note_add, case=case, text="hi", actor=manager).code == "case.forbidden"


def test_a_case_of_another_team_stays_that_teams_even_when_held_by_a_shared_member(
    overdue_case, supervisor, collector, other_team, administrator
):
    """A collector in two teams: each supervisor sees (and may reassign or approve) only their team's cases."""
    other_team.members.add(collector)
    case = overdue_case(days_past_due=10)
    case_assign(case=case, collector=collector, actor=administrator)
    CollectionCase.objects.filter(pk=case.pk).update(team=other_team)

    assert set(cases_visible_to(supervisor)) == set()
    assert set(cases_visible_to(other_team.supervisor)) == {case}
    assert set(cases_visible_to(collector)) == {case}


# ---------------------------------------------------------------------------------------------------------
# Payments on the timeline


def test_a_payment_posted_on_a_loan_with_an_open_case_goes_on_its_timeline(case, supervisor):
    received_on = FIRST_DUE + datetime.timedelta(days=10)
    before = last_event_id()

    payment, created = payment_post(
        loan=case.loan,
        source="bank",
        external_ref="TX-1",
        amount=Decimal("500.00"),
        received_on=received_on,
        channel="bank_transfer",
        actor=supervisor,
    )
    payment_reverse(payment=payment, reason="bounced", reversed_on=received_on, actor=supervisor)

    assert created is True
    events = list(case.events.filter(pk__gt=before).order_by("pk"))
    assert [(event.kind, event.actor) for event in events] == [(Event.PAYMENT, supervisor), (Event.PAYMENT, supervisor)]
    assert events[0].detail == {
        "payment": payment.pk,
        "amount": "500.00",
        "received_on": received_on.isoformat(),
        "reversed": False,
    }
    assert events[1].detail["reversed"] is True
    # On the timeline by the day the money arrived (and the day it was reversed), not the day of posting.
    assert [event.as_of for event in events] == [received_on, received_on]


def test_a_late_posted_payment_shows_on_the_workspace_timeline_on_its_received_date(client, case, supervisor):
    received_on = FIRST_DUE + datetime.timedelta(days=10)
    case_note_add(case=case, text="called, no answer", actor=case.assigned_to)  # today's entry
    payment_post(
        loan=case.loan, source="bank", external_ref="TX-9", amount=Decimal("500.00"), received_on=received_on,
        channel="bank_transfer", actor=supervisor,
    )  # fmt: skip
    client.force_login(case.assigned_to)

    page = client.get(f"/cases/{case.pk}/").content.decode()

    timeline = page[page.index('id="timeline-heading"') :]
    assert f'<time datetime="{received_on}">{received_on} (recorded ' in timeline
    # Today's note first, the payment of February 25 below it, though it was recorded after the note.
    assert timeline.index("called, no answer") < timeline.index(f'<time datetime="{received_on}">')


def test_a_payment_on_another_loan_of_the_borrower_stays_off_the_case_timeline(case, make_loan):
    current_loan = make_loan(borrower=case.borrower, disbursed_on=datetime.date(2026, 2, 20))
    before = last_event_id()

    payment_post(
        loan=current_loan,
        source="bank",
        external_ref="TX-2",
        amount=Decimal("100.00"),
        received_on=datetime.date(2026, 2, 25),
        channel="bank_transfer",
    )

    assert last_event_id() == before


def test_contact_decide_is_a_pure_read(case):
    before = (last_event_id(), ContactAttempt.objects.count(), AuditEvent.objects.count())

    decision = contact_decide(case=case, channel=Channel.CALL, at=WORKING_HOURS)

    assert decision.allowed is True
    assert (last_event_id(), ContactAttempt.objects.count(), AuditEvent.objects.count()) == before
