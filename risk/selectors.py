"""Reads of the risk app."""

from .models import RiskModel


def risk_model_in_use(kind: str) -> RiskModel | None:
    """The approved version of a kind: the only one that scores anything."""
    return RiskModel.objects.filter(kind=kind, status=RiskModel.Status.APPROVED).first()
