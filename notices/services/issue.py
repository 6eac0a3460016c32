"""Issuing notices. A notice is issued in three short steps, so that rendering (the slow part) holds no
lock and two workers render side by side:

1. reserve (one transaction): pass the guardrail, allocate the next reference of the year (gapless: the
   counter row is locked only for this transaction), build the data snapshot, store the notice as
   RESERVED;
2. render the PDF from the stored snapshot (no transaction);
3. finish (one transaction): store the file and its SHA-256, mark the notice ISSUED, complete the stage
   action, put the notice on the case timeline and queue its deliveries.

A crash between 1 and 3 leaves a RESERVED notice; `notice_finish` completes it from the same snapshot,
so its reference is used once and never skipped."""

import datetime
import secrets

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from creditops.core.references import format_reference, reference_allocate_block
from dunning.models import (
    ApprovalRequest,
    CaseEvent,
    Channel,
    CollectionCase,
    ContactAttempt,
    DunningAction,
    NoticeKind,
    PaymentPlan,
)
from dunning.services.cases import contact_decision_record, require_open, require_workable
from dunning.services.guardrails import ContactBlockedError, Decision, contact_decide
from dunning.services.timeline import case_event_add

from ..models import REFERENCE_PREFIX, Notice, NoticeDelivery
from ..rendering import notice_pdf, template_version
from .content import notice_data_build, postal_address

# A notice that is itself the exception to a hold: the letter announcing a legal referral goes out under
# the legal hold the referral starts, and a plan's confirmation under the pause the plan starts.
# The credit-reporting pre-notice is owed by law before negative data is reported, legal hold or not.
HOLDS_PASSED = {
    NoticeKind.LEGAL_REFERRAL: ("contact.hold_legal",),
    NoticeKind.CREDIT_REPORTING: ("contact.hold_legal",),
    NoticeKind.PLAN_CONFIRMATION: ("contact.hold_payment_plan",),
}
# Formal notices always go by post (the printed letter is the legal record), with an e-mail copy where the
# borrower has an address. The others go by e-mail, or by post to a borrower without one.
LETTER_ALWAYS = {
    NoticeKind.COLLECTION_NOTICE,
    NoticeKind.FINAL_DEMAND,
    NoticeKind.LEGAL_REFERRAL,
    NoticeKind.CREDIT_REPORTING,
}
# Notices that announce a step someone must approve first (maker-checker): issued by hand only once an
# approval of this kind was granted on the case. The nightly run issues them for approved stage actions.
APPROVAL_NEEDED = {
    NoticeKind.LEGAL_REFERRAL: ApprovalRequest.Kind.LEGAL_REFERRAL,
    NoticeKind.CREDIT_REPORTING: ApprovalRequest.Kind.CREDIT_BUREAU_REPORT,
}
# A plan's confirmation is issued when its plan starts, never by hand.
ISSUED_BY_HAND = [kind for kind in NoticeKind if kind != NoticeKind.PLAN_CONFIRMATION]
# Verification codes avoid letters and digits that are easily misread (0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def notice_issue(
    *,
    case: CollectionCase,
    kind: str,
    actor,
    action: DunningAction | None = None,
    plan: PaymentPlan | None = None,
    replaces: Notice | None = None,
    reason: str = "",
    issued_on: datetime.date | None = None,
    queue_email: bool = True,
) -> Notice:
    """Issue a notice of `kind` on `case` (actor None: automatic). Idempotent for a stage action and for a
    plan's confirmation: the notice already issued for it is returned. Raises ContactBlockedError (the
    refusal recorded) when the case is on hold. `queue_email=False` leaves the e-mail delivery queued for
    the caller to send (the batch sends a chunk's e-mails with one task) or for the 5-minute sweep."""
    if kind not in NoticeKind.values:
        raise DomainError(_("Unknown notice kind %(kind)r.") % {"kind": kind}, code="notice.kind_invalid")
    require_workable(case, actor)
    if actor is not None and action is None and replaces is None:
        _require_approval(case, kind)
    existing = _existing(action=action, plan=plan if replaces is None else None)
    if existing is None:
        existing = _reserve(
            case=case, kind=kind, actor=actor, action=action, plan=plan, replaces=replaces, reason=reason,
            issued_on=issued_on or business_today(),
        )  # fmt: skip
    return notice_finish(existing, queue_email=queue_email)


def _require_approval(case: CollectionCase, kind: str) -> None:
    needed = APPROVAL_NEEDED.get(kind)
    if needed and not case.approvals.filter(kind=needed, status=ApprovalRequest.Status.APPROVED).exists():
        raise DomainError(
            _("A %(notice)s needs an approved %(approval)s on this case first; request it under escalation.")
            % {"notice": NoticeKind(kind).label, "approval": ApprovalRequest.Kind(needed).label},
            code="notice.approval_missing",
        )


def notice_correct(*, notice: Notice, actor, reason: str) -> Notice:
    """Issue a new notice that replaces `notice` (figures recomputed from the ledger today); deliveries of
    the old one not yet made (letters not printed, e-mails not sent) are cancelled."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say what the correction corrects."), code="notice.reason_missing")
    return notice_issue(
        case=notice.case, kind=notice.kind, actor=actor, plan=notice.plan, replaces=notice, reason=reason
    )


def _existing(*, action, plan) -> Notice | None:
    if action is not None:
        return Notice.objects.filter(action=action).first()
    if plan is not None:
        return Notice.objects.filter(plan=plan, kind=NoticeKind.PLAN_CONFIRMATION, replaces__isnull=True).first()
    return None


def _reserve(*, case, kind, actor, action, plan, replaces, reason, issued_on) -> Notice:
    passes_holds = HOLDS_PASSED.get(kind, ())
    now = timezone.now()
    try:
        with transaction.atomic():
            reserved = _reserve_locked(
                case=case, kind=kind, actor=actor, action=action, plan=plan, replaces=replaces, reason=reason,
                issued_on=issued_on, now=now, passes_holds=passes_holds,
            )  # fmt: skip
    except IntegrityError:
        # Another worker reserved the notice for this action or plan first; theirs is the notice.
        existing = _existing(action=action, plan=plan)
        if existing is None:
            raise
        return existing
    if isinstance(reserved, Decision):
        _refuse(case=case, kind=kind, actor=actor, action=action, decision=reserved, now=now)
    return reserved


def _reserve_locked(*, case, kind, actor, action, plan, replaces, reason, issued_on, now, passes_holds):
    """The reserved notice, or the guardrail's refusal. The guardrail reads the case and the borrower as
    they are now, under the case's row lock, not as the caller loaded them."""
    case = (
        CollectionCase.objects.select_for_update(of=("self",))
        .select_related("loan__product", "borrower")
        .get(pk=case.pk)
    )
    require_open(case)
    decision = contact_decide(case=case, channel=Channel.LETTER, at=now, passes_holds=passes_holds)
    if not decision.allowed:
        return decision
    if replaces is not None:
        _check_replaceable(replaces, case)
    if kind == NoticeKind.PLAN_CONFIRMATION and plan is None:
        raise DomainError(_("A plan confirmation needs the plan it confirms."), code="notice.plan_missing")
    year = issued_on.year
    reference = format_reference(REFERENCE_PREFIX, year, reference_allocate_block(prefix=REFERENCE_PREFIX, year=year))
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    language = case.borrower.preferred_language
    data = notice_data_build(
        case=case, kind=kind, language=language, issued_on=issued_on, reference=reference, verification_code=code,
        plan=plan, replaces_reference=replaces.reference if replaces is not None else "",
    )  # fmt: skip
    return Notice.objects.create(
        reference=reference, kind=kind, language=language, case=case, loan=case.loan, borrower=case.borrower,
        stage=action.stage if action is not None else case.stage, action=action, plan=plan, replaces=replaces,
        correction_reason=reason[:300], issued_on=issued_on, issued_by=_person(actor),
        template_version=template_version(kind, language), data=data, verification_code=code,
    )  # fmt: skip


def _check_replaceable(old: Notice, case: CollectionCase) -> None:
    if old.case_id != case.pk or old.status != Notice.Status.ISSUED:
        raise DomainError(_("Only an issued notice of this case can be corrected."), code="notice.not_correctable")
    if Notice.objects.filter(replaces=old).exists():
        raise DomainError(
            _("Notice %(reference)s has already been corrected.") % {"reference": old.reference},
            code="notice.already_corrected",
        )


def _refuse(*, case, kind, actor, action, decision, now):
    """Record the refusal the guardrail gave (a blocked letter contact on the case, audited), block the
    stage action, and raise it."""
    with transaction.atomic():
        attempt = contact_decision_record(
            case=case, channel=Channel.LETTER, decision=decision, outcome=ContactAttempt.Outcome.SENT, actor=actor,
            at=now, note=f"notice:{kind}", automatic=actor is None,
        )  # fmt: skip
        if action is not None:
            DunningAction.objects.filter(pk=action.pk, status=DunningAction.Status.PENDING).update(
                status=DunningAction.Status.BLOCKED, completed_at=now, result=decision.rule[:200]
            )
    raise ContactBlockedError(decision, attempt)


def notice_finish(notice: Notice, *, queue_email: bool = True) -> Notice:
    """Render a reserved notice from its stored data and issue it (a no-op for an issued notice)."""
    if notice.status == Notice.Status.ISSUED:
        return notice
    rendered = notice_pdf(notice.data)
    with transaction.atomic():
        notice = Notice.objects.select_for_update().select_related("borrower").get(pk=notice.pk)
        if notice.status == Notice.Status.ISSUED:
            return notice  # another worker finished it meanwhile
        path = f"notices/{notice.issued_on:%Y}/{notice.reference}.pdf"
        notice.pdf.name = default_storage.save(path, ContentFile(rendered.content))
        notice.sha256, notice.size_bytes, notice.page_count = (
            rendered.sha256,
            len(rendered.content),
            rendered.page_count,
        )
        notice.status, notice.issued_at = Notice.Status.ISSUED, timezone.now()
        # The wording the PDF was rendered with now (a notice finished after a crash renders later).
        notice.template_version = template_version(notice.kind, notice.language)
        notice.save()
        _after_issue(notice, queue_email=queue_email)
    return notice


def _after_issue(notice: Notice, *, queue_email: bool) -> None:
    if notice.action_id is not None:
        DunningAction.objects.filter(pk=notice.action_id).update(
            status=DunningAction.Status.DONE, completed_at=notice.issued_at, result=f"notice:{notice.reference}"
        )
    if notice.replaces_id is not None:
        NoticeDelivery.objects.filter(notice_id=notice.replaces_id, status=NoticeDelivery.Status.QUEUED).update(
            status=NoticeDelivery.Status.CANCELLED, status_reason=notice.reference
        )
    deliveries = _deliveries_create(notice)
    detail = {
        "notice": notice.pk, "reference": notice.reference, "kind": notice.kind,
        "replaces": notice.replaces.reference if notice.replaces_id else "",
        "deliveries": [delivery.channel for delivery in deliveries],
    }  # fmt: skip
    case_event_add(case=notice.case, kind=CaseEvent.Kind.NOTICE, actor=notice.issued_by, detail=detail)
    audit_record(actor=notice.issued_by, event="notice.issued", subject=notice, detail=detail)
    emails = [delivery.pk for delivery in deliveries if delivery.channel == NoticeDelivery.Channel.EMAIL]
    if queue_email and emails:
        transaction.on_commit(lambda: emails_queue(emails))


def _deliveries_create(notice: Notice) -> list[NoticeDelivery]:
    borrower = notice.borrower
    channels = []
    if notice.kind in LETTER_ALWAYS or not borrower.email:
        channels.append((NoticeDelivery.Channel.LETTER, postal_address(borrower)))
    if borrower.email:
        channels.append((NoticeDelivery.Channel.EMAIL, borrower.email))
    return [_delivery_create(notice, channel, recipient) for channel, recipient in channels]


def _delivery_create(notice: Notice, channel: str, recipient: str) -> NoticeDelivery:
    if not recipient:  # kept visible as failed, so the address gets corrected, never silently dropped
        reason = _("The borrower has no postal address; correct it and issue a correction.")
        return NoticeDelivery.objects.create(
            notice=notice, channel=channel, status=NoticeDelivery.Status.FAILED, status_reason=reason
        )
    return NoticeDelivery.objects.create(notice=notice, channel=channel, recipient=recipient[:300])


def emails_queue(delivery_ids: list[int]) -> None:
    """One django-q2 task sends these e-mail deliveries (each at most once, see delivery.py)."""
    from django_q.tasks import async_task

    async_task("notices.tasks.deliver_emails", delivery_ids, task_name=f"notice-emails-{delivery_ids[0]}")


def _person(actor):
    return actor if actor is not None and actor.is_authenticated else None
