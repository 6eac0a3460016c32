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
from creditops.core.errors import DomainError
from dunning.models import NoticeKind

from ..models import NoticeDelivery, PrintBatch
from ..rendering import html_to_pdf

Status = NoticeDelivery.Status


@transaction.atomic
def print_batch_create(
    *, business_date: datetime.date | None = None, notice_ids: list[int] | None = None, actor=None
) -> PrintBatch:
    """Merge the letters waiting to be printed — those of notices issued on `business_date`, or the given
    notices — into one stored PDF, and mark them printed. All or nothing."""
    letters = NoticeDelivery.objects.select_for_update(of=("self",)).filter(
        channel=NoticeDelivery.Channel.LETTER, status=Status.QUEUED
    )
    if notice_ids is not None:
        letters = letters.filter(notice_id__in=notice_ids)
    if business_date is not None:
        letters = letters.filter(notice__issued_on=business_date)
    letters = list(letters.select_related("notice").order_by("notice__reference"))
    if not letters:
        raise DomainError(_("No letters are waiting to be printed for this selection."), code="print.nothing")
    business_date = business_date or timezone.localdate()
    readers = [PdfReader(letter.notice.pdf.open("rb")) for letter in letters]
    content, sheets = _merge(business_date, letters, readers)
    batch = PrintBatch(
        business_date=business_date, created_by=actor if actor is not None and actor.is_authenticated else None,
        letter_count=len(letters), sheet_count=sheets, sha256=hashlib.sha256(content).hexdigest(),
    )  # fmt: skip
    batch.pdf.save(f"{business_date:%Y/%Y-%m-%d}.pdf", ContentFile(content), save=False)
    batch.save()
    NoticeDelivery.objects.filter(pk__in=[letter.pk for letter in letters]).update(
        status=Status.PRINTED, print_batch=batch, sent_at=timezone.now()
    )
    audit_record(
        actor=actor, event="notice.print_batch", subject=batch,
        detail={"letters": [letter.notice.reference for letter in letters], "sheets": sheets},
    )  # fmt: skip
    return batch


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
