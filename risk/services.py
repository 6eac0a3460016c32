"""Writes of the risk app: training a model version and deciding on it (maker-checker)."""

import hashlib
import io
import pickle

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.dates import business_today

from .datasets import DatasetError, book_applications, german_credit
from .models import RiskModel
from .scorecard import scorecard_train

# Fewer goods or bads than this and the held-out share cannot measure anything.
MIN_OF_EACH_OUTCOME = 30
# Each dataset as (features, outcome, window of dates or None) as of a business date.
DATASETS = {
    RiskModel.Dataset.BOOK: book_applications,
    RiskModel.Dataset.GERMAN_CREDIT: lambda as_of: (*german_credit(), None),
}


@transaction.atomic
def risk_model_train(*, kind: str, dataset: str, seed: int = 42, as_of=None, actor=None) -> RiskModel:
    """Train a new version on `dataset` (the book: as of `as_of`, by default today) and store it waiting
    for approval."""
    frame, outcome, window = DATASETS[dataset](as_of or business_today())
    bads = int(outcome.sum())
    if min(bads, len(outcome) - bads) < MIN_OF_EACH_OUTCOME:
        raise DatasetError(
            f"{bads} bad and {len(outcome) - bads} good of {len(outcome)}: a scorecard needs at least "
            f"{MIN_OF_EACH_OUTCOME} of each."
        )
    trained = scorecard_train(frame, outcome, seed=seed)
    artifact = pickle.dumps(trained.scorecard, protocol=pickle.HIGHEST_PROTOCOL)
    # No lock: a concurrent training that picks the same number is refused by risk_model_version_uniq.
    last = RiskModel.objects.filter(kind=kind).aggregate(last=Max("version"))["last"] or 0
    model = RiskModel(
        kind=kind, version=last + 1, dataset=dataset, seed=seed, features=[str(name) for name in trained.features],
        metrics=trained.metrics, data_sha256=trained.data_sha256, table_sha256=trained.table_sha256,
        artifact_sha256=hashlib.sha256(artifact).hexdigest(), trained_by=_user(actor),
        window_from=window[0] if window else None, window_to=window[1] if window else None,
    )  # fmt: skip
    model.artifact.save(f"{kind}-v{model.version}.pickle", ContentFile(artifact), save=False)
    model.save()
    audit_record(actor=actor, event="risk_model.trained", subject=model, detail=_audit_figures(model))
    return model


@transaction.atomic
def risk_model_decide(*, model: RiskModel, approve: bool, actor, note: str = "") -> RiskModel:
    """Approve (it replaces the version in use, which retires) or reject a version waiting for approval.
    Only a Manager or Compliance user may decide, and never on a version they trained."""
    model = RiskModel.objects.select_for_update().get(pk=model.pk)
    if not actor.has_perm("risk.decide_riskmodel"):
        raise PermissionDenied(_("Only a Manager or Compliance user can approve a risk model."))
    if model.trained_by_id is not None and model.trained_by_id == actor.pk:
        raise PermissionDenied(_("A model cannot be approved by the person who trained it."))
    if model.status != RiskModel.Status.PENDING:
        status = model.get_status_display()
        raise ValidationError(_("This version was already decided: %(status)s.") % {"status": status})
    if approve:
        RiskModel.objects.filter(kind=model.kind, status=RiskModel.Status.APPROVED).update(
            status=RiskModel.Status.RETIRED
        )
    model.status = RiskModel.Status.APPROVED if approve else RiskModel.Status.REJECTED
    model.decided_by, model.decided_at, model.decision_note = actor, timezone.now(), note
    model.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    event = "risk_model.approved" if approve else "risk_model.rejected"
    audit_record(actor=actor, event=event, subject=model, detail={**_audit_figures(model), "note": note})
    return model


def risk_model_load(model: RiskModel):
    """The fitted scorecard of a version, read back only if the file is the one trained."""
    with model.artifact.open("rb") as stored:
        artifact = stored.read()
    if hashlib.sha256(artifact).hexdigest() != model.artifact_sha256:
        raise ValidationError(_("The model file of %(model)s was changed after training.") % {"model": model})
    return pickle.load(io.BytesIO(artifact))  # noqa: S301 - our own file, its hash checked above


def _user(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _audit_figures(model: RiskModel) -> dict:
    holdout = model.metrics.get("holdout", {})
    return {"version": model.version, "kind": model.kind, "dataset": model.dataset, **holdout}
