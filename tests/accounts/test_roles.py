import pytest
from django.contrib.auth.models import Group, Permission

from accounts.roles import (
    ADMINISTRATOR,
    COLLECTOR,
    COMPLIANCE,
    MANAGER,
    ROLE_PERMISSIONS,
    ROLES,
    SUPERVISOR,
    sync_role_permissions,
)
from tests.factories import UserFactory


def _codes(group):
    pairs = group.permissions.values_list("content_type__app_label", "codename")
    return {f"{app}.{codename}" for app, codename in pairs}


def _user_in(role):
    user = UserFactory(username=f"{role.lower()}-user")
    user.groups.add(Group.objects.get(name=role))
    return user


def test_five_roles():
    assert ROLES == ["Collector", "Supervisor", "Manager", "Compliance", "Administrator"]
    assert set(ROLE_PERMISSIONS) == set(ROLES)


@pytest.mark.django_db
def test_role_groups_exist_after_migrations_with_exactly_their_permissions():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)
    for role, codes in ROLE_PERMISSIONS.items():
        assert _codes(Group.objects.get(name=role)) == set(codes), role


@pytest.mark.django_db
def test_every_permission_in_the_table_exists():
    # A typo in ROLE_PERMISSIONS would be dropped silently by sync_role_permissions.
    for codes in ROLE_PERMISSIONS.values():
        for code in codes:
            app_label, codename = code.split(".")
            assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), code


@pytest.mark.django_db
def test_collector_reads_the_ledger_but_posts_nothing():
    user = _user_in(COLLECTOR)
    assert user.has_perm("lending.view_loan")
    assert user.has_perm("lending.view_payment")
    assert not user.has_perm("lending.change_borrowercontact")
    assert not user.has_perm("lending.add_payment")
    assert not user.has_perm("lending.add_loan")
    assert not user.has_perm("lending.change_borrower")
    assert not user.has_perm("accounts.view_auditevent")
    assert not user.has_perm("accounts.view_user")


@pytest.mark.django_db
def test_supervisor_posts_and_reverses_payments():
    user = _user_in(SUPERVISOR)
    assert user.has_perm("lending.add_payment")
    assert not user.has_perm("lending.change_payment")  # payments are reversed, never edited
    assert user.has_perm("accounts.view_team")
    assert not user.has_perm("lending.add_loan")
    assert not user.has_perm("lending.delete_payment")
    assert not user.has_perm("accounts.view_auditevent")


@pytest.mark.django_db
def test_manager_reads_but_not_the_audit_trail():
    user = _user_in(MANAGER)
    assert user.has_perm("lending.view_loan")
    assert user.has_perm("accounts.view_user")
    assert not user.has_perm("accounts.view_auditevent")
    assert not user.has_perm("lending.add_payment")


@pytest.mark.django_db
def test_compliance_reads_the_audit_trail():
    user = _user_in(COMPLIANCE)
    assert user.has_perm("accounts.view_auditevent")
    assert user.has_perm("lending.view_borrower")
    assert not user.has_perm("lending.add_payment")
    assert not user.has_perm("accounts.change_user")


@pytest.mark.django_db
def test_administrator_runs_the_book_but_deletes_nothing():
    user = _user_in(ADMINISTRATOR)
    for perm in [
        "lending.add_loan",
        "lending.change_loan",
        "lending.add_payment",
        "lending.add_product",
        "lending.change_borrower",
        "accounts.add_user",
        "accounts.change_team",
        "accounts.view_auditevent",
        "core.view_referencecounter",
    ]:
        assert user.has_perm(perm), perm
    assert not user.has_perm("lending.delete_loan")
    assert not user.has_perm("lending.delete_payment")
    assert not user.has_perm("accounts.change_auditevent")
    assert not user.has_perm("accounts.delete_auditevent")
    assert not user.has_perm("lending.change_installment")


@pytest.mark.django_db
def test_sync_role_permissions_is_idempotent_and_repairs_drift():
    before = {role: _codes(Group.objects.get(name=role)) for role in ROLES}
    group_ids = dict(Group.objects.filter(name__in=ROLES).values_list("name", "pk"))

    sync_role_permissions()
    sync_role_permissions()
    assert {role: _codes(Group.objects.get(name=role)) for role in ROLES} == before
    assert dict(Group.objects.filter(name__in=ROLES).values_list("name", "pk")) == group_ids
    assert Group.objects.filter(name__in=ROLES).count() == 5

    # A hand-made change is put back to the table; a deleted group is recreated.
    collector = Group.objects.get(name=COLLECTOR)
    collector.permissions.add(Permission.objects.get(content_type__app_label="lending", codename="delete_loan"))
    collector.permissions.remove(Permission.objects.get(content_type__app_label="lending", codename="view_loan"))
    Group.objects.get(name=MANAGER).delete()
    sync_role_permissions()
    assert _codes(Group.objects.get(name=COLLECTOR)) == set(ROLE_PERMISSIONS[COLLECTOR])
    assert _codes(Group.objects.get(name=MANAGER)) == set(ROLE_PERMISSIONS[MANAGER])
    assert {role: _codes(Group.objects.get(name=role)) for role in ROLES} == before
