"""Changes to the rules the run and the guardrail follow (policies, stages, stage actions, guardrail
profiles and rules, assignment rules). Every change is audited with the fields it changed."""

import datetime

from django.db import models, transaction
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.errors import DomainError

from ..models import GuardrailProfile, GuardrailRule


def _as_text(value):
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value if isinstance(value, str | int | float | bool | list | dict | type(None)) else str(value)


@transaction.atomic
def rule_object_save(
    *, obj: models.Model, changed_fields: list[str], actor, many_to_many: dict | None = None
) -> models.Model:
    """Validate and save a policy-like object; the audit event lists the new value of each changed field
    (creating: every field). `many_to_many` ({field: [objects]}) is set after the save."""
    creating = obj.pk is None
    obj.full_clean()
    obj.save()
    for name, related in (many_to_many or {}).items():
        getattr(obj, name).set(related)
    concrete = {field.name for field in obj._meta.concrete_fields} - {"id"}
    fields = concrete if creating else set(changed_fields) & concrete
    detail = {name: _as_text(getattr(obj, name)) for name in sorted(fields)}
    for name, related in (many_to_many or {}).items():
        if creating or name in changed_fields:
            detail[name] = sorted(item.pk for item in related)
    event = f"{obj._meta.model_name}.{'created' if creating else 'changed'}"
    audit_record(actor=actor, event=event, subject=obj, detail=detail)
    return obj


@transaction.atomic
def guardrail_profile_new_version(*, profile: GuardrailProfile, effective_from: datetime.date, actor):
    """Copy a profile and its rules as the next version, in force from `effective_from` (edit the copy;
    decisions before that date keep using the old version)."""
    latest = GuardrailProfile.objects.filter(code=profile.code).order_by("-version").first()
    if effective_from <= latest.effective_from:
        raise DomainError(
            _("A new version must take effect after %(date)s.") % {"date": latest.effective_from},
            code="guardrail.effective_date",
        )
    copy = GuardrailProfile.objects.create(
        code=profile.code,
        version=latest.version + 1,
        name=profile.name,
        name_en=profile.name_en,
        effective_from=effective_from,
    )
    GuardrailRule.objects.bulk_create(
        GuardrailRule(profile=copy, kind=rule.kind, channels=rule.channels, parameters=rule.parameters,
                      source=rule.source)
        for rule in profile.rules.all()
    )  # fmt: skip
    detail = {"from_version": profile.version, "version": copy.version, "effective_from": effective_from.isoformat()}
    audit_record(actor=actor, event="guardrailprofile.versioned", subject=copy, detail=detail)
    return copy
