import json

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from creditops.core.errors import DomainError
from creditops.core.names import NamedInTwoLanguages

from . import audit_words


class User(AbstractUser):
    """A member of staff. Roles are auth groups (see accounts/roles.py)."""

    preferred_language = models.CharField(
        _("preferred language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Leave empty to follow the browser's language."),
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")
        swappable = "AUTH_USER_MODEL"

    def __str__(self):
        """Staff appear by their full name everywhere (the user name when none is on file)."""
        return self.get_full_name() or self.get_username()

    def get_full_name(self) -> str:
        """Chinese names are written family name first with no space (王敏); others given name first."""
        given, family = self.first_name.strip(), self.last_name.strip()
        if has_chinese(given) or has_chinese(family):
            return f"{family}{given}"
        return " ".join(part for part in (given, family) if part)


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= character <= "\u9fff" or "\u3400" <= character <= "\u4dbf" for character in text)


class Team(NamedInTwoLanguages):
    name = models.CharField(_("name in Chinese"), max_length=100, unique=True)
    supervisor = models.ForeignKey(
        User, verbose_name=_("supervisor"), on_delete=models.PROTECT, related_name="supervised_teams"
    )
    members = models.ManyToManyField(User, verbose_name=_("members"), related_name="teams", blank=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self):
        return self.local_name


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise DomainError(gettext("The audit trail is append-only."), code="audit.append_only")

    def delete(self):
        raise DomainError(gettext("The audit trail is append-only."), code="audit.append_only")


class AuditEvent(models.Model):
    """Who did what to which record. Append-only: the model, its queryset, the admin and (on PostgreSQL)
    a database trigger all refuse updates and deletes."""

    actor = models.ForeignKey(
        User, verbose_name=_("actor"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    event = models.CharField(_("event"), max_length=64)
    subject_type = models.CharField(_("subject type"), max_length=64, blank=True)
    subject_id = models.CharField(_("subject id"), max_length=64, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-id"]  # ids grow with time, and the primary key index serves this order
        indexes = [
            # subject_id first: Compliance searches "everything about record 123" by id alone.
            models.Index(fields=["subject_id", "subject_type"], name="audit_subject_idx"),
            models.Index(fields=["event", "-created_at"], name="audit_event_time_idx"),
            models.Index(fields=["actor", "-created_at"], name="audit_actor_time_idx"),
        ]

    def __str__(self):
        return f"{self.event} {self.subject_type}:{self.subject_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise DomainError(gettext("The audit trail is append-only."), code="audit.append_only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise DomainError(gettext("The audit trail is append-only."), code="audit.append_only")

    @property
    def detail_json(self) -> str:
        """The detail as one line of JSON, Chinese kept readable (screens and CSV exports)."""
        return json.dumps(self.detail, ensure_ascii=False, sort_keys=True) if self.detail else ""

    @property
    def event_words(self) -> str:
        return audit_words.event_label(self.event)

    @property
    def subject_words(self) -> str:
        return audit_words.subject_label(self.subject_type)

    @property
    def detail_words(self) -> str:
        return audit_words.detail_words(self.detail)

    @property
    def actor_label(self):
        """The staff member by name, with the user name that identifies them for certain."""
        if not self.actor_id:
            return _("system")
        name, username = str(self.actor), self.actor.get_username()
        return name if name == username else f"{name} ({username})"
