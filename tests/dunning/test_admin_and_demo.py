"""Collections in the admin (every page renders, lists are scoped to the viewer, rule edits are audited
and validated) and on the demo book (the default ladder fills every stage)."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import Count
from django.urls import reverse

from accounts import roles
from accounts.models import AuditEvent
from dunning.models import (
    CollectionCase,
    DunningPolicy,
    DunningStage,
    GuardrailProfile,
    GuardrailRule,
    StageAction,
)
from dunning.services.policies import guardrail_profile_new_version
from dunning.services.run import dunning_run
from tests.factories import UserFactory

DUNNING_MODELS = [
    "dunningpolicy", "dunningstage", "guardrailprofile", "assignmentrule", "collectioncase", "dunningaction",
    "stagetransition", "contactattempt", "promisetopay", "dispute", "paymentplan", "approvalrequest",
    "dunningrun", "portfoliosnapshot",
]  # fmt: skip


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


def _logged_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", DUNNING_MODELS)
def test_every_collections_changelist_renders_for_an_administrator(client, superuser, overdue_case, model):
    overdue_case(days_past_due=95)
    response = _logged_in(client, superuser).get(reverse(f"admin:dunning_{model}_changelist"))
    assert response.status_code == 200


def test_a_case_page_shows_its_timeline(client, superuser, overdue_case):
    case = overdue_case(days_past_due=20)
    response = _logged_in(client, superuser).get(reverse("admin:dunning_collectioncase_change", args=[case.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Stage changed" in content and "Case opened" in content


def test_a_collector_lists_only_their_own_cases(client, overdue_case, collector, other_collector):
    first, second = overdue_case(days_past_due=10), overdue_case(days_past_due=11)
    assert {first.assigned_to, second.assigned_to} == {collector, other_collector}
    mine = first if first.assigned_to == collector else second
    theirs = second if mine is first else first
    client = _logged_in(client, collector)
    listing = client.get(reverse("admin:dunning_collectioncase_changelist")).content.decode()
    assert mine.loan.reference in listing and theirs.loan.reference not in listing
    assert client.get(reverse("admin:dunning_collectioncase_change", args=[theirs.pk])).status_code == 404
    actions = client.get(reverse("admin:dunning_dunningaction_changelist")).content.decode()
    assert mine.loan.reference in actions and theirs.loan.reference not in actions


def test_compliance_edits_a_guardrail_rule_and_the_change_is_audited(client, db):
    officer = UserFactory(username="officer")
    officer.groups.add(Group.objects.get(name=roles.COMPLIANCE))
    # Versions in force are history; rules change through a new version, editable until it takes effect.
    in_force = GuardrailProfile.objects.get(code="CN", version=1)
    profile = guardrail_profile_new_version(profile=in_force, effective_from=datetime.date(2099, 1, 1), actor=officer)
    rules = list(profile.rules.order_by("pk"))
    data = {
        "code": "CN", "version": str(profile.version), "name": profile.name, "effective_from": "2099-01-01",
        "rules-TOTAL_FORMS": str(len(rules)), "rules-INITIAL_FORMS": str(len(rules)),
        "rules-MIN_NUM_FORMS": "0", "rules-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for index, rule in enumerate(rules):
        parameters = {"start": "08:00", "end": "21:00"} if rule.kind == "contact_hours" else rule.parameters
        data.update({
            f"rules-{index}-id": str(rule.pk), f"rules-{index}-profile": str(profile.pk),
            f"rules-{index}-kind": rule.kind, f"rules-{index}-channels": _json(rule.channels),
            f"rules-{index}-parameters": _json(parameters), f"rules-{index}-source": rule.source,
        })  # fmt: skip
    url = reverse("admin:dunning_guardrailprofile_change", args=[profile.pk])
    response = _logged_in(client, officer).post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    hours = GuardrailRule.objects.get(profile=profile, kind="contact_hours")
    assert hours.parameters == {"start": "08:00", "end": "21:00"}
    event = AuditEvent.objects.get(event="guardrailrule.changed", subject_id=str(hours.pk))
    assert event.actor == officer and event.detail["parameters"] == {"start": "08:00", "end": "21:00"}


def test_a_guardrail_version_in_force_is_read_only_in_the_admin(client, superuser):
    profile = GuardrailProfile.objects.get(code="CN", version=1)
    page = _logged_in(client, superuser).get(reverse("admin:dunning_guardrailprofile_change", args=[profile.pk]))
    assert page.status_code == 200
    assert 'name="rules-0-parameters"' not in page.content.decode()  # shown, not editable


def test_a_guardrail_rule_with_a_bad_parameter_is_refused(db):
    profile = GuardrailProfile.objects.get(code="CN", version=1)
    rule = GuardrailRule(profile=profile, kind="contact_hours", channels=["call"],
                         parameters={"start": "8 o'clock", "end": "22:00"}, source="test")  # fmt: skip
    with pytest.raises(Exception, match="start"):
        rule.full_clean()


def test_only_legal_referral_credit_report_and_charge_off_may_need_approval(db):
    stage = DunningStage.objects.get(start_dpd=7)
    action = StageAction(stage=stage, kind="sms_reminder", needs_approval=True)
    with pytest.raises(Exception, match="need approval"):
        action.full_clean()


def test_two_active_policies_cannot_cover_the_same_product(client, superuser, cn_product):
    standard = DunningPolicy.objects.get(is_default=True)
    first = DunningPolicy.objects.create(name="Consumer ladder")
    first.products.add(cn_product)
    data = {
        "name": "Another ladder", "products": [str(cn_product.pk)], "is_active": "on",
        "stages-TOTAL_FORMS": "0", "stages-INITIAL_FORMS": "0", "stages-MIN_NUM_FORMS": "0",
        "stages-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    response = _logged_in(client, superuser).post(reverse("admin:dunning_dunningpolicy_add"), data)
    assert response.status_code == 200
    assert "Another active policy already covers CN12" in response.content.decode()
    assert DunningPolicy.objects.count() == 2 and standard.is_default


def test_stages_are_retired_not_deleted(client, superuser):
    stage = DunningStage.objects.get(start_dpd=60)
    response = _logged_in(client, superuser).get(reverse("admin:dunning_dunningstage_delete", args=[stage.pk]))
    assert response.status_code == 403


def test_the_default_ladder_as_installed(db):
    ladder = [
        (stage.start_dpd, sorted(stage.actions.values_list("kind", "needs_approval")))
        for stage in DunningStage.objects.filter(policy__is_default=True).order_by("start_dpd")
    ]
    assert ladder == [
        (1, [("sms_reminder", False)]),
        (3, [("email_reminder", False)]),
        (7, [("collector_call", False)]),
        (15, [("collection_notice", False)]),
        (30, [("collection_notice", False), ("supervisor_review", False)]),
        (60, [("final_demand", False)]),
        (90, [("credit_bureau_report", True), ("legal_referral", True)]),
        (180, [("charge_off_proposal", True)]),
    ]


@pytest.mark.django_db(transaction=True)  # the seeder writes through its own connection on PostgreSQL
def test_the_demo_book_has_open_cases_in_every_stage_after_one_run():
    as_of = datetime.date(2026, 11, 28)
    call_command("seed_demo", borrowers=300, as_of=as_of, password="demo-pass", allow_production=True, stdout=_Null())
    dunning_run(as_of=as_of)
    per_stage = dict(
        CollectionCase.objects.filter(is_open=True).values_list("stage__start_dpd").annotate(n=Count("pk"))
    )
    assert set(per_stage) == {1, 3, 7, 15, 30, 60, 90, 180}
    assert all(count > 0 for count in per_stage.values())
    unassigned = CollectionCase.objects.filter(is_open=True, assigned_to__isnull=True).count()
    assert unassigned == 0


def _json(value):
    import json

    return json.dumps(value)


class _Null:
    def write(self, *args, **kwargs):
        pass


def test_editing_a_stage_in_the_admin_is_audited_with_the_changed_fields(client, superuser):
    stage = DunningStage.objects.get(start_dpd=60)
    actions = list(stage.actions.order_by("pk"))
    data = {
        "policy": str(stage.policy_id), "start_dpd": "65", "name": stage.name, "name_en": stage.name_en,
        "owner_role": stage.owner_role,
        "is_active": "on", "actions-TOTAL_FORMS": str(len(actions)), "actions-INITIAL_FORMS": str(len(actions)),
        "actions-MIN_NUM_FORMS": "0", "actions-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for index, action in enumerate(actions):
        data.update({
            f"actions-{index}-id": str(action.pk), f"actions-{index}-stage": str(stage.pk),
            f"actions-{index}-kind": action.kind, f"actions-{index}-notice_kind": action.notice_kind,
        })  # fmt: skip
    response = _logged_in(client, superuser).post(reverse("admin:dunning_dunningstage_change", args=[stage.pk]), data)
    assert response.status_code == 302
    stage.refresh_from_db()
    assert stage.start_dpd == 65
    event = AuditEvent.objects.get(event="dunningstage.changed", subject_id=str(stage.pk))
    assert (event.actor, event.detail) == (superuser, {"start_dpd": 65})
