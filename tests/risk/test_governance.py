"""Risk models as governed records: trained by the command, approved by a Manager or Compliance user who
did not train them, one version in use per kind, every step audited, the file checked before use."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from accounts.models import AuditEvent
from accounts.roles import ADMINISTRATOR, COLLECTOR, COMPLIANCE, MANAGER
from risk.models import RiskModel
from risk.scorecard import score_with_reasons
from risk.selectors import risk_model_in_use
from risk.services import risk_model_decide, risk_model_load, risk_model_train

APPLICATION, GERMAN = RiskModel.Kind.APPLICATION, RiskModel.Dataset.GERMAN_CREDIT


@pytest.fixture
def manager(user_in):
    return user_in(MANAGER, "mei.manager")


@pytest.fixture
def compliance(user_in):
    return user_in(COMPLIANCE, "chen.compliance")


def train(actor=None, seed=42):
    return risk_model_train(kind=APPLICATION, dataset=GERMAN, seed=seed, actor=actor)


def test_the_command_stores_a_version_waiting_for_approval_with_its_figures(db, capsys):
    call_command("risk_train", "--model", "application", "--dataset", "german_credit")
    model = RiskModel.objects.get()
    assert (model.version, model.status, model.seed, model.trained_by) == (1, "pending", 42, None)
    assert model.metrics["holdout"]["auc"] == pytest.approx(0.8044, abs=0.002)
    assert "duration_in_month" in model.features
    assert len(model.data_sha256) == len(model.table_sha256) == len(model.artifact_sha256) == 64
    assert "Application scorecard v1" in capsys.readouterr().out
    call_command("risk_train", "--model", "application")
    second = RiskModel.objects.get(version=2)
    assert (second.table_sha256, second.data_sha256) == (model.table_sha256, model.data_sha256)
    assert AuditEvent.objects.filter(event="risk_model.trained").count() == 2


def test_nothing_is_in_use_until_someone_else_approves_it(db, manager, compliance):
    model = train(actor=manager)
    assert risk_model_in_use(APPLICATION) is None
    with pytest.raises(PermissionDenied, match="trained it"):
        risk_model_decide(model=model, approve=True, actor=manager)
    risk_model_decide(model=model, approve=True, actor=compliance, note="held-out Gini 0.61")
    in_use = risk_model_in_use(APPLICATION)
    assert (in_use, in_use.decided_by, in_use.decision_note) == (model, compliance, "held-out Gini 0.61")
    event = AuditEvent.objects.get(event="risk_model.approved")
    assert (event.actor, event.subject_id, event.detail["version"]) == (compliance, str(model.pk), 1)


@pytest.mark.parametrize("role", [COLLECTOR, ADMINISTRATOR])
def test_other_roles_cannot_approve(db, user_in, role):
    model = train()
    with pytest.raises(PermissionDenied):
        risk_model_decide(model=model, approve=True, actor=user_in(role, "someone"))
    model.refresh_from_db()
    assert model.status == "pending"


def test_approving_a_new_version_retires_the_one_in_use_and_a_decided_version_stays_decided(db, manager):
    first, second = train(), train(seed=7)
    risk_model_decide(model=first, approve=True, actor=manager)
    risk_model_decide(model=second, approve=True, actor=manager)
    first.refresh_from_db()
    assert (first.status, risk_model_in_use(APPLICATION)) == ("retired", second)
    with pytest.raises(ValidationError, match="already decided"):
        risk_model_decide(model=first, approve=True, actor=manager)


def test_a_rejected_version_is_never_in_use(db, manager):
    model = train()
    risk_model_decide(model=model, approve=False, actor=manager, note="training window too short")
    model.refresh_from_db()
    assert (model.status, risk_model_in_use(APPLICATION)) == ("rejected", None)
    assert AuditEvent.objects.filter(event="risk_model.rejected", detail__note="training window too short").exists()


def test_the_stored_file_scores_as_trained_and_a_changed_file_is_refused(db):
    model = train()
    scorecard = risk_model_load(model)
    applicant = {
        "status_of_existing_checking_account": "no checking account", "duration_in_month": 12,
        "credit_history": "existing credits paid back duly till now", "purpose": "car (new)", "credit_amount": 2000,
        "savings_account_and_bonds": "... < 100 DM", "present_employment_since": "... >= 7 years",
        "installment_rate_in_percentage_of_disposable_income": 2, "personal_status_and_sex": "male : single",
        "other_debtors_or_guarantors": "none", "present_residence_since": 4, "property": "real estate",
        "age_in_years": 45, "other_installment_plans": "none", "housing": "own",
        "number_of_existing_credits_at_this_bank": 1, "job": "skilled employee / official",
        "number_of_people_being_liable_to_provide_maintenance_for": 1, "telephone": "none", "foreign_worker": "yes",
    }  # fmt: skip
    score, probability, reasons = score_with_reasons(scorecard, applicant)
    assert 400 < score < 700 and 0 < probability < 0.5
    assert all(reason.points_lost > 0 for reason in reasons) and len(reasons) <= 3
    with open(model.artifact.path, "ab") as stored:
        stored.write(b"\0")
    with pytest.raises(ValidationError, match="changed after training"):
        risk_model_load(model)


def test_the_admin_lists_versions_and_approves_through_the_action(db, client, manager, compliance, user_in):
    model = train(actor=manager)
    client.force_login(compliance)
    page = client.get("/admin/risk/riskmodel/")
    assert page.status_code == 200 and "AUC 0.80" in page.content.decode()
    detail = client.get(f"/admin/risk/riskmodel/{model.pk}/change/").content.decode()
    assert "checking account balance" in detail and "points" in detail
    client.post("/admin/risk/riskmodel/", {"action": "approve", "_selected_action": [model.pk]})
    model.refresh_from_db()
    assert (model.status, model.decided_by) == ("approved", compliance)
    client.force_login(user_in(COLLECTOR, "li.collector"))
    assert client.get("/admin/risk/riskmodel/").status_code == 403


def test_the_trainer_is_told_why_the_action_did_not_approve(db, client, manager):
    model = train(actor=manager)
    client.force_login(manager)
    page = client.post("/admin/risk/riskmodel/", {"action": "approve", "_selected_action": [model.pk]}, follow=True)
    assert "cannot be approved by the person who trained it" in page.content.decode()
    model.refresh_from_db()
    assert model.status == "pending"
