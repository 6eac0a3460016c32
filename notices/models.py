"""Notices: legal documents issued to borrowers. A notice is rendered once, stored with its SHA-256 and a
sequential reference, and never changed; a correction is a new notice naming the one it replaces. Each
notice is delivered by e-mail and / or by letter (print batches), with a status per delivery."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from creditops.core.errors import DomainError
from dunning.models import CollectionCase, DunningAction, DunningStage, NoticeKind, PaymentPlan
from lending.models import Borrower, Loan

User = settings.AUTH_USER_MODEL
REFERENCE_PREFIX = "CN"


class NoticeQuerySet(models.QuerySet):
    """No bulk changes: a notice is issued row by row through Notice.save(), which refuses to touch an
    issued one (PostgreSQL's trigger refuses raw SQL too)."""

    def update(self, **kwargs):
        raise DomainError(gettext("An issued notice never changes; issue a correction."), code="notice.issued")

    def delete(self):
        raise DomainError(gettext("Notices are never deleted."), code="notice.issued")


class Notice(models.Model):
    class Status(models.TextChoices):
        # The reference and the data are fixed; the PDF is being rendered. A notice left here by a crash is
        # finished from its stored data by the next batch (same reference, same figures).
        RESERVED = "reserved", _("Reserved (rendering)")
        ISSUED = "issued", _("Issued")

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=NoticeKind.choices)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RESERVED)
    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="notices")
    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="notices")
    borrower = models.ForeignKey(Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="notices")
    stage = models.ForeignKey(
        DunningStage, verbose_name=_("stage"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The automatic stage action this notice fulfils: one notice per (case, stage, kind), enforced here.
    action = models.OneToOneField(
        DunningAction, verbose_name=_("stage action"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="notice",
    )  # fmt: skip
    plan = models.ForeignKey(
        PaymentPlan, verbose_name=_("payment plan"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="notices",
    )  # fmt: skip
    replaces = models.OneToOneField(
        "self", verbose_name=_("replaces"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="replaced_by", help_text=_("The notice this one corrects."),
    )  # fmt: skip
    correction_reason = models.CharField(_("reason for the correction"), max_length=300, blank=True)
    issued_on = models.DateField(_("issue date"))
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    issued_by = models.ForeignKey(
        User, verbose_name=_("issued by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text=_("Empty: issued automatically by the dunning ladder."),
    )  # fmt: skip
    template_version = models.CharField(_("template version"), max_length=40)
    data = models.JSONField(_("data printed"), help_text=_("Every figure and name printed on the notice."))
    verification_code = models.CharField(_("verification code"), max_length=16)
    pdf = models.FileField(_("PDF"), upload_to="notices/", blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    size_bytes = models.PositiveIntegerField(_("size (bytes)"), default=0)
    page_count = models.PositiveSmallIntegerField(_("pages"), default=0)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan"], condition=Q(kind="plan_confirmation", replaces__isnull=True),
                name="notice_one_confirmation_per_plan",
            ),
            models.CheckConstraint(
                condition=Q(status="reserved") | (~Q(sha256="") & ~Q(pdf="")), name="notice_issued_has_pdf"
            ),
        ]  # fmt: skip
        indexes = [
            models.Index(fields=["case", "-id"], name="notice_case_idx"),
            models.Index(fields=["issued_on", "kind"], name="notice_issued_on_idx"),
            models.Index(fields=["-id"], name="notice_reserved_idx", condition=Q(status="reserved")),
        ]

    def __str__(self):
        return self.reference

    def save(self, *args, **kwargs):
        """Once issued, a notice never changes (PostgreSQL enforces the same with a trigger)."""
        if getattr(self, "_status_in_db", None) in (self.Status.ISSUED, None) and self.pk is not None:
            raise DomainError(gettext("An issued notice never changes; issue a correction."), code="notice.issued")
        super().save(*args, **kwargs)
        self._status_in_db = self.status

    def delete(self, *args, **kwargs):
        raise DomainError(gettext("Notices are never deleted."), code="notice.issued")

    @classmethod
    def from_db(cls, db, field_names, values):
        """Remember the status as read, so save() can refuse an issued notice without asking the database."""
        notice = super().from_db(db, field_names, values)
        notice._status_in_db = notice.status if "status" in field_names else None
        return notice


class PrintBatch(models.Model):
    """One merged PDF of letters for the print room."""

    business_date = models.DateField(_("letters issued on"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        User, verbose_name=_("created by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    letter_count = models.PositiveIntegerField(_("letters"))
    sheet_count = models.PositiveIntegerField(_("sheets (duplex)"))
    pdf = models.FileField(_("PDF"), upload_to="print-batches/")
    sha256 = models.CharField(_("SHA-256"), max_length=64)

    class Meta:
        verbose_name = _("print batch")
        verbose_name_plural = _("print batches")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.business_date} #{self.pk}"


class NoticeDelivery(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        LETTER = "letter", _("Letter")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        PRINTED = "printed", _("Printed")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")
        BLOCKED = "blocked", _("Blocked by a guardrail")
        CANCELLED = "cancelled", _("Cancelled (replaced by a correction)")

    notice = models.ForeignKey(Notice, verbose_name=_("notice"), on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=300)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    status_reason = models.CharField(_("reason"), max_length=300, blank=True)
    message_id = models.CharField(_("message ID"), max_length=200, blank=True)
    claimed_at = models.DateTimeField(_("claimed for sending"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent or printed"), null=True, blank=True)
    print_batch = models.ForeignKey(
        PrintBatch, verbose_name=_("print batch"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="deliveries",
    )  # fmt: skip
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("notice delivery")
        verbose_name_plural = _("notice deliveries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["notice", "channel"], name="delivery_once_per_channel"),
        ]
        indexes = [
            models.Index(
                fields=["channel", "next_attempt_at"], name="delivery_queued_idx", condition=Q(status="queued")
            ),
        ]

    def __str__(self):
        return f"{self.notice_id} {self.get_channel_display()} ({self.get_status_display()})"
