"""Issuing, revoking and using API keys."""

import datetime
import hashlib
import hmac
import re
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.errors import DomainError

from .models import ApiKey

KEY_PREFIX = "co"
KEY_SHAPE = re.compile(rf"{KEY_PREFIX}_(?P<prefix>[0-9a-f]{{12}})_[A-Za-z0-9_-]{{43}}")
# last_used_at is written at most this often per key, so a busy integration does not write on every call.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def hash_secret(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_issue(*, name: str, user, scope: str, actor) -> tuple[ApiKey, str]:
    """Create a key acting as `user`; returns the row and the key itself, which is never stored."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Name the system that will use the key."), code="api_key.name_missing")
    if scope not in ApiKey.Scope.values:
        raise DomainError(_("Unknown scope %(scope)r.") % {"scope": scope}, code="api_key.scope_invalid")
    if not user.is_active:
        raise DomainError(_("The key would act as an inactive user."), code="api_key.user_inactive")
    if user.is_superuser and actor is not None and not actor.is_superuser:
        # Administrators may not create or edit superusers; a key acting as one would be the same. (The
        # command, run by whoever holds the server's shell, issues as the system: actor None.)
        raise DomainError(_("Only a superuser may issue a key acting as a superuser."), code="api_key.superuser")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name,
        user=user,
        scope=scope,
        prefix=prefix,
        secret_hash=hash_secret(key),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(actor=actor, event="api_key.issued", subject=api_key, detail={"user": user.pk, "scope": scope})
    return api_key, key


def api_key_revoke(*, api_key: ApiKey, actor) -> ApiKey:
    """Stop a key from working, for good (a new key is issued instead of reviving one)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(actor=actor, event="api_key.revoked", subject=api_key)
    return api_key


def api_key_matching(key: str) -> ApiKey | None:
    """The active key `key` is, or None; compared in constant time. Anything not shaped like a key is
    refused before the database sees it."""
    shape = KEY_SHAPE.fullmatch(key)
    if shape is None:
        return None
    api_key = ApiKey.objects.select_related("user").filter(prefix=shape["prefix"], revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, hash_secret(key)):
        return None
    return api_key


def api_key_used(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
