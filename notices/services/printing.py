"""Print batches: the day's letters merged into one PDF for the print room. A cover page lists them; each
letter starts on a new sheet of a duplex printer, so a letter with an odd number of pages is followed by a
blank page (the cover too)."""

import datetime
import hashlib
import io

from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from pypdf import PdfReader, PdfWriter

from accounts.services import audit_record
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from dunning.models import Channel, ContactAttempt, NoticeKind
from dunning.services.cases import contact_decision_record
from dunning.services.guardrails import contact_decide

from ..models import NoticeDelivery, PrintBatch
from ..rendering import html_to_pdf
from .issue import HOLDS_PASSED

Status = NoticeDelivery.Status


def print_batch_create(
    *, business_date: datetime.date | None = None, notice_ids: list[int] | None = None, actor=None
) -> PrintBatch:
    """Merge the letters waiting to be printed — those of notices issued on `business_date`, or the given
    notices — into one stored PDF, and mark them printed. Printing is when a letter leaves, so each one
    passes the guardrail again first: a case closed since the notice was issued cancels its letter, a hold
    blocks it (the refusal recorded). The batch itself is all or nothing."""
    now = timezone.now()
    allowed = _letters_screen(_waiting_letters(business_date, notice_ids), now)
    with transaction.atomic():
        waiting = _waiting_letters(business_date, notice_ids).filter(pk__in=list(allowed))
        letters = list(waiting.select_for_update(of=("self",)))
        if not letters:
            raise DomainError(_("No letters are waiting to be printed for this selection."), code="print.nothing")
        business_date = business_date or business_today()
        readers = [PdfReader(letter.notice.pdf.open("rb")) for letter in letters]
        content, sheets = _merge(business_date, letters, readers)
        batch = PrintBatch(
            business_date=business_date, created_by=actor if actor is not None and actor.is_authenticated else None,
            letter_count=len(letters), sheet_count=sheets, sha256=hashlib.sha256(content).hexdigest(),
        )  # fmt: skip
        batch.pdf.save(f"{business_date:%Y/%Y-%m-%d}.pdf", ContentFile(content), save=False)
        batch.save()
        NoticeDelivery.objects.filter(pk__in=[letter.pk for letter in letters]).update(
            status=Status.PRINTED, print_batch=batch, sent_at=now
        )
        for letter in letters:
            _record_letter_contact(letter.notice, allowed[letter.pk], now)
        audit_record(
            actor=actor, event="notice.print_batch", subject=batch,
            detail={"letters": [letter.notice.reference for letter in letters], "sheets": sheets},
        )  # fmt: skip
    return batch


def _waiting_letters(business_date, notice_ids):
    letters = NoticeDelivery.objects.filter(channel=NoticeDelivery.Channel.LETTER, status=Status.QUEUED)
    if notice_ids is not None:
        letters = letters.filter(notice_id__in=notice_ids)
    if business_date is not None:
        letters = letters.filter(notice__issued_on=business_date)
    return letters.select_related("notice__case__loan__product", "notice__case__borrower").order_by("notice__reference")


def _letters_screen(letters, now) -> dict:
    """Cancel the letters of closed cases and block those a hold now stops, each in its own transaction.
    Returns the guardrail's decision for each letter that may go, by delivery id."""
    allowed = {}
    for letter in letters:
        notice = letter.notice
        with transaction.atomic():
            if not notice.case.is_open:
                NoticeDelivery.objects.filter(pk=letter.pk).update(
                    status=Status.CANCELLED, status_reason=_("The case closed before the letter was printed.")
                )
                continue
            decision = _letter_decision(notice, now)
            if decision.allowed:
                allowed[letter.pk] = decision
                continue
            NoticeDelivery.objects.filter(pk=letter.pk).update(status=Status.BLOCKED, status_reason=decision.rule)
            _record_letter_contact(notice, decision, now)
    return allowed


def _letter_decision(notice, now):
    return contact_decide(
        case=notice.case, channel=Channel.LETTER, at=now, passes_holds=HOLDS_PASSED.get(notice.kind, ())
    )


def _record_letter_contact(notice, decision, now) -> None:
    """A printed letter is a contact with the borrower (a refused one is recorded as blocked and audited)."""
    contact_decision_record(
        case=notice.case, channel=Channel.LETTER, decision=decision,
        outcome=ContactAttempt.Outcome.SENT, actor=None, at=now, note=f"notice:{notice.reference}", automatic=True,
    )  # fmt: skip


def _padded(pages: int) -> int:
    return pages + pages % 2


def _merge(business_date, letters, readers) -> tuple[bytes, int]:
    # The cover lists the page each letter starts on, which depends on the cover's own length: start from
    # a one-sheet cover and render again in the rare case the list runs longer.
    cover_pages = 2
    while True:
        cover = html_to_pdf(_cover_html(business_date, letters, readers, cover_pages))
        if _padded(cover.page_count) == cover_pages:
            break
        cover_pages = _padded(cover.page_count)
    writer = PdfWriter()
    for reader in [PdfReader(io.BytesIO(cover.content)), *readers]:
        writer.append(reader)
        if len(reader.pages) % 2:
            last = reader.pages[-1]
            writer.add_blank_page(width=last.mediabox.width, height=last.mediabox.height)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue(), len(writer.pages) // 2


def _cover_html(business_date, letters, readers, cover_pages: int) -> str:
    rows, next_page = [], cover_pages + 1
    for letter, reader in zip(letters, readers, strict=True):
        pages = len(reader.pages)
        kind = NoticeKind(letter.notice.kind).label
        rows.append({"reference": letter.notice.reference, "kind": kind, "pages": pages, "first_page": next_page})
        next_page += _padded(pages)
    return render_to_string(
        "notices/print_cover.html",
        {"business_date": business_date, "letters": rows, "sheet_count": (next_page - 1) // 2},
    )
