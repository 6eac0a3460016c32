import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connection, transaction
from django.db.models.deletion import ProtectedError

from accounts.models import AuditEvent, Team, User
from accounts.services import audit_record
from creditops.core.errors import DomainError
from tests.factories import UserFactory


@pytest.mark.django_db
def test_audit_record_by_the_system(make_loan):
    loan = make_loan()
    event = audit_record(actor=None, event="loan.reviewed", subject=loan, detail={"note": "ok"})
    event.refresh_from_db()
    assert event.actor is None
    assert event.actor_label == "system"
    assert (event.event, event.subject_type, event.subject_id) == ("loan.reviewed", "lending.loan", str(loan.pk))
    assert event.detail == {"note": "ok"}
    assert event.created_at is not None
    assert str(event) == f"loan.reviewed lending.loan:{loan.pk}"


@pytest.mark.django_db
def test_audit_record_by_a_user(staff_user, borrower):
    event = audit_record(actor=staff_user, event="borrower.revealed", subject=borrower)
    event.refresh_from_db()
    assert event.actor == staff_user
    assert event.actor_label == "officer"
    assert (event.subject_type, event.subject_id) == ("lending.borrower", str(borrower.pk))
    assert event.detail == {}


@pytest.mark.django_db
def test_audit_record_without_subject_and_with_an_anonymous_actor():
    event = audit_record(actor=AnonymousUser(), event="login.failed", detail={"username": "ghost"})
    assert event.actor is None
    assert (event.subject_type, event.subject_id) == ("", "")
    assert AuditEvent.objects.filter(event="login.failed").count() == 1


@pytest.mark.django_db
def test_loan_creation_leaves_one_audit_event(make_loan, staff_user):
    loan = make_loan(actor=staff_user)
    events = AuditEvent.objects.filter(subject_type="lending.loan", subject_id=str(loan.pk))
    assert [(e.event, e.actor_id) for e in events] == [("loan.created", staff_user.pk)]
    assert events[0].detail == {"principal": "12000.00", "term_months": 12, "product": "TERM12"}


@pytest.mark.django_db
def test_audit_event_cannot_be_saved_again():
    event = audit_record(actor=None, event="x.created")
    event.event = "x.changed"
    with pytest.raises(DomainError) as raised:
        event.save()
    assert raised.value.code == "audit.append_only"
    assert AuditEvent.objects.get(pk=event.pk).event == "x.created"


@pytest.mark.django_db
def test_audit_event_cannot_be_deleted():
    event = audit_record(actor=None, event="x.created")
    with pytest.raises(DomainError) as raised:
        event.delete()
    assert raised.value.code == "audit.append_only"
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_audit_queryset_refuses_update_and_delete():
    audit_record(actor=None, event="x.created")
    audit_record(actor=None, event="y.created")
    with pytest.raises(DomainError) as raised:
        AuditEvent.objects.update(event="tampered")
    assert raised.value.code == "audit.append_only"
    with pytest.raises(DomainError) as raised:
        AuditEvent.objects.filter(event="x.created").delete()
    assert raised.value.code == "audit.append_only"
    with pytest.raises(DomainError):
        AuditEvent.objects.all().delete()
    assert sorted(AuditEvent.objects.values_list("event", flat=True)) == ["x.created", "y.created"]


@pytest.mark.django_db
def test_an_actor_with_audit_events_cannot_be_deleted(staff_user):
    audit_record(actor=staff_user, event="x.created")
    with pytest.raises(ProtectedError):
        staff_user.delete()
    assert User.objects.filter(pk=staff_user.pk).exists()


@pytest.mark.django_db
def test_database_trigger_refuses_raw_update_and_delete(on_postgres):
    event = audit_record(actor=None, event="x.created")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_auditevent SET event = 'x'")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_auditevent WHERE id = %s", [event.pk])
    with connection.cursor() as cursor:
        cursor.execute("SELECT event FROM accounts_auditevent WHERE id = %s", [event.pk])
        assert cursor.fetchone() == ("x.created",)


@pytest.mark.django_db
def test_raw_insert_is_still_allowed_by_the_trigger(on_postgres):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_auditevent (event, subject_type, subject_id, detail, created_at) "
            "VALUES ('raw.insert', '', '', '{}', now())"
        )
    assert AuditEvent.objects.filter(event="raw.insert").count() == 1


@pytest.mark.django_db
def test_team_has_a_supervisor_and_members():
    lead = UserFactory(username="lead")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    team = Team.objects.create(name="East region", supervisor=lead)
    team.members.add(alice, bob)
    assert str(team) == "East region"
    assert sorted(team.members.values_list("username", flat=True)) == ["alice", "bob"]
    assert list(lead.supervised_teams.all()) == [team]
    assert list(alice.teams.all()) == [team]
    assert list(lead.teams.all()) == []
    Team.objects.create(name="Alpha", supervisor=lead)
    assert list(Team.objects.values_list("name", flat=True)) == ["Alpha", "East region"]  # ordered by name
    with pytest.raises(ProtectedError):
        lead.delete()


@pytest.mark.django_db
def test_team_names_are_unique():
    from django.db import IntegrityError

    lead = UserFactory(username="lead")
    Team.objects.create(name="West", supervisor=lead)
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.create(name="West", supervisor=lead)
    assert Team.objects.filter(name="West").count() == 1


@pytest.mark.django_db
def test_new_staff_user_follows_the_browser_language_until_they_choose():
    user = UserFactory(username="newcomer")
    assert user.preferred_language == ""
    assert user.check_password("correct-horse-battery")


@pytest.mark.parametrize(
    ("first_name", "last_name", "shown"),
    [("敏", "王", "王敏"), ("小明", "欧阳", "欧阳小明"), ("Ada", "Lovelace", "Ada Lovelace"), ("", "", "nobody")],
)
def test_staff_are_shown_by_full_name_chinese_family_name_first(first_name, last_name, shown):
    user = User(username="nobody", first_name=first_name, last_name=last_name)
    assert str(user) == shown
    assert user.get_full_name() == ("" if shown == "nobody" else shown)


@pytest.mark.django_db
def test_the_audit_trail_names_the_actor_and_their_user_name():
    actor = UserFactory(username="manager", first_name="敏", last_name="王")
    assert audit_record(actor=actor, event="x.happened").actor_label == "王敏 (manager)"
    assert audit_record(actor=None, event="x.happened").actor_label == "system"
