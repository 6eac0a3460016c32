"""Previews: a notice rendered from today's figures without issuing anything (no reference is used, no
file is kept), watermarked PREVIEW on every page."""

from django.utils.translation import gettext as _

from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from dunning.models import CollectionCase, NoticeKind

from ..rendering import RenderedPdf, notice_pdf
from .content import notice_data_build

PREVIEW_REFERENCE = "PREVIEW"


def notice_preview(*, case: CollectionCase, kind: str) -> RenderedPdf:
    if kind not in NoticeKind.values:
        raise DomainError(_("Unknown notice kind %(kind)r.") % {"kind": kind}, code="notice.kind_invalid")
    plan = None
    if kind == NoticeKind.PLAN_CONFIRMATION:
        plan = case.plans.order_by("-pk").first()
        if plan is None:
            raise DomainError(_("This case has no payment plan to confirm."), code="notice.plan_missing")
    data = notice_data_build(
        case=case, kind=kind, language=case.borrower.preferred_language, issued_on=business_today(),
        reference=PREVIEW_REFERENCE, verification_code=PREVIEW_REFERENCE, plan=plan,
    )  # fmt: skip
    return notice_pdf(data, preview=True)
