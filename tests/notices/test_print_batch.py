"""Print batches (notices/services/printing.py): the day's letters merged into one PDF for a duplex
printer — a cover listing them, each letter starting on a new sheet — and the three ways to make one: the
service, `manage.py print_notices` and the notice admin's "print letters" action.

The day's letters are three notices issued on 2026-03-02 on one case (15 days past due): two of two
pages, and one of three (its borrower by then has 140 guarantors, listed on the first page).
"""

import datetime
import hashlib
import io
import re

import pytest
from django.core.management import CommandError, call_command

from accounts import roles
from accounts.models import AuditEvent
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from dunning.models import CloseReason, ContactAttempt, NoticeKind
from dunning.services.closing import case_close
from lending.models import Borrower, BorrowerContact
from notices.models import NoticeDelivery, PrintBatch
from notices.services.issue import notice_correct, notice_issue
from notices.services.printing import print_batch_create
from tests.dunning.conftest import FIRST_DUE, staff
from tests.notices.conftest import page_count, pdf_pages

pytestmark = pytest.mark.django_db

DAY = FIRST_DUE + datetime.timedelta(days=15)  # 2026-03-02, the case's run date
Status = NoticeDelivery.Status


def issue(case, kind, issued_on=DAY):
    return notice_issue(case=case, kind=kind, actor=None, issued_on=issued_on)


@pytest.fixture
def letters(overdue_case):
    """Three letters issued on DAY: 2, 2 and 3 pages."""
    case = overdue_case(days_past_due=15)
    assert case.opened_on == DAY
    notices = [issue(case, NoticeKind.COLLECTION_NOTICE), issue(case, NoticeKind.FINAL_DEMAND)]
    BorrowerContact.objects.bulk_create(
        BorrowerContact(borrower=case.borrower, relation="guarantor", name=f"担保人{n:03d}", phone=f"+86139{n:08d}")
        for n in range(140)
    )
    notices.append(issue(case, NoticeKind.CREDIT_REPORTING))
    assert [notice.page_count for notice in notices] == [2, 2, 3]
    assert [notice.reference for notice in notices] == ["CN-2026-000001", "CN-2026-000002", "CN-2026-000003"]
    return notices


def batch_bytes(batch) -> bytes:
    with batch.pdf.open("rb") as stored:
        return stored.read()


def assert_letters_start_on_new_sheets(pages: list[str], references: list[str], first_pages: list[int]):
    """Each letter's pages carry its reference; a letter starts on an odd page (the front of a sheet)."""
    for reference, first in zip(references, first_pages, strict=True):
        assert first % 2 == 1
        assert reference in pages[first - 1]
        assert reference not in pages[first - 2]


def test_a_batch_merges_the_days_letters_each_starting_on_a_new_sheet(letters):
    batch = print_batch_create(business_date=DAY)

    content = batch_bytes(batch)
    pages = pdf_pages(content)
    # Cover 1 page + 1 blank, 2, 2, then 3 + 1 blank: 10 pages, 5 sheets printed on both sides.
    assert page_count(content) == len(pages) == 2 + 2 + 2 + 4
    assert (batch.letter_count, batch.sheet_count, batch.business_date) == (3, 5, DAY)
    assert batch.sha256 == hashlib.sha256(content).hexdigest()
    assert pages[1].strip() == ""  # the back of the cover
    assert pages[9].strip() == ""  # the back of the three-page letter's last sheet
    references = [notice.reference for notice in letters]
    assert_letters_start_on_new_sheets(pages, references, [3, 5, 7])
    assert "CN-2026-000003" in pages[8]  # its third page


def test_the_cover_lists_the_count_and_each_letter_in_reference_order(letters):
    batch = print_batch_create(business_date=DAY)

    cover = pdf_pages(batch_bytes(batch))[0]
    assert "3 letters" in cover
    assert "5 sheets, printed on both sides" in cover
    rows = re.findall(r"^(\d) (CN-2026-\d{6}) .* (\d) (\d+)$", cover, re.M)
    assert rows == [
        ("1", "CN-2026-000001", "2", "3"),
        ("2", "CN-2026-000002", "2", "5"),
        ("3", "CN-2026-000003", "3", "7"),
    ]


def test_a_batch_marks_its_letters_printed_and_is_audited(letters):
    batch = print_batch_create(business_date=DAY)

    deliveries = NoticeDelivery.objects.filter(notice__in=letters)
    assert {(d.channel, d.status, d.print_batch_id) for d in deliveries} == {("letter", Status.PRINTED, batch.pk)}
    assert all(delivery.sent_at is not None for delivery in deliveries)
    event = AuditEvent.objects.get(event="notice.print_batch")
    assert event.detail == {"letters": ["CN-2026-000001", "CN-2026-000002", "CN-2026-000003"], "sheets": 5}


def test_a_second_batch_for_the_day_has_nothing_to_print(letters):
    print_batch_create(business_date=DAY)

    with pytest.raises(DomainError) as caught:
        print_batch_create(business_date=DAY)

    assert caught.value.code == "print.nothing"
    assert PrintBatch.objects.count() == 1


def test_a_batch_takes_only_the_letters_issued_that_day_and_never_a_cancelled_one(letters, collector):
    later = issue(letters[0].case, NoticeKind.PAYMENT_REMINDER, issued_on=DAY + datetime.timedelta(days=1))
    correction = notice_correct(notice=letters[1], actor=collector, reason="Wrong amount")  # issued today

    batch = print_batch_create(business_date=DAY)

    assert batch.letter_count == 2
    pages = pdf_pages(batch_bytes(batch))
    assert len(pages) == 2 + 2 + 4
    assert_letters_start_on_new_sheets(pages, ["CN-2026-000001", "CN-2026-000003"], [3, 5])
    assert not any(reference in "".join(pages) for reference in ("CN-2026-000002", later.reference))
    assert later.deliveries.get().status == Status.QUEUED
    assert letters[1].deliveries.get().status == Status.CANCELLED
    assert correction.deliveries.get().status == Status.QUEUED


def test_print_notices_command_writes_the_days_batch(letters, tmp_path):
    output = tmp_path / "batch.pdf"
    stdout = io.StringIO()

    call_command("print_notices", "--date", "2026-03-02", "--output", str(output), stdout=stdout)

    batch = PrintBatch.objects.get()
    assert output.read_bytes() == batch_bytes(batch)
    pages = pdf_pages(output.read_bytes())
    assert len(pages) == 10
    assert_letters_start_on_new_sheets(pages, [notice.reference for notice in letters], [3, 5, 7])
    assert stdout.getvalue().startswith(f"3 letters, 5 duplex sheets → {output} (print batch {batch.pk}")


def test_print_notices_command_fails_when_no_letter_waits(db, tmp_path):
    output = tmp_path / "batch.pdf"

    with pytest.raises(CommandError, match="No letters are waiting to be printed"):
        call_command("print_notices", "--date", "2026-03-02", "--output", str(output))

    assert not output.exists()
    assert PrintBatch.objects.count() == 0


def print_action(client, notices):
    return client.post(
        "/admin/notices/notice/", {"action": "print_letters", "_selected_action": [notice.pk for notice in notices]}
    )


@pytest.mark.parametrize("role", [None, roles.ADMINISTRATOR], ids=["superuser", "administrator"])
def test_the_admin_action_prints_the_selected_letters_as_one_pdf(client, admin_user, letters, role):
    user = admin_user if role is None else staff("administrator", role)
    client.force_login(user)

    response = print_action(client, letters[:2])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    content = b"".join(response.streaming_content)
    batch = PrintBatch.objects.get()
    assert content == batch_bytes(batch)
    assert (batch.letter_count, batch.created_by, batch.business_date) == (2, user, business_today())
    assert_letters_start_on_new_sheets(pdf_pages(content), ["CN-2026-000001", "CN-2026-000002"], [3, 5])
    assert letters[2].deliveries.get().status == Status.QUEUED
    stored = client.get(f"/admin/notices/printbatch/{batch.pk}/pdf/")
    assert b"".join(stored.streaming_content) == content


def test_a_collector_cannot_print_letters_from_the_admin(client, letters, collector):
    client.force_login(collector)

    changelist = client.get("/admin/notices/notice/")
    response = print_action(client, letters)

    assert changelist.status_code == 200
    assert "print_letters" not in changelist.content.decode()  # the action is not offered
    assert (response.status_code, response["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert PrintBatch.objects.count() == 0
    assert set(NoticeDelivery.objects.values_list("status", flat=True)) == {Status.QUEUED}


def test_a_letter_whose_case_closed_or_whose_borrower_is_now_on_hold_is_not_printed(letters, overdue_case):
    """Printing is when a letter leaves: the guardrail decides again, as for an e-mail at sending time."""
    held_case = overdue_case(days_past_due=16)
    closed_case = overdue_case(days_past_due=17)
    held = issue(held_case, NoticeKind.COLLECTION_NOTICE)
    closed = issue(closed_case, NoticeKind.COLLECTION_NOTICE)
    Borrower.objects.filter(pk=held_case.borrower_id).update(is_bankrupt=True)
    case_close(case=closed_case, reason=CloseReason.CURED, on=DAY)

    batch = print_batch_create(business_date=DAY)

    assert batch.letter_count == 3  # the first case's three letters only
    assert (held.deliveries.get().status, held.deliveries.get().status_reason) == (
        Status.BLOCKED, "contact.hold_bankruptcy",
    )  # fmt: skip
    assert closed.deliveries.get().status == Status.CANCELLED
    refusal = ContactAttempt.objects.get(case=held_case)
    assert (refusal.channel, refusal.decision, refusal.rule) == ("letter", "blocked", "contact.hold_bankruptcy")
    assert not ContactAttempt.objects.filter(case=closed_case).exists()


def test_each_printed_letter_is_recorded_as_a_letter_sent_to_the_borrower(letters):
    print_batch_create(business_date=DAY)

    contacts = ContactAttempt.objects.filter(case=letters[0].case).order_by("note")
    assert [(c.channel, c.decision, c.outcome, c.note) for c in contacts] == [
        ("letter", "allowed", "sent", f"notice:{notice.reference}") for notice in letters
    ]


def test_only_those_who_see_every_case_see_print_batches(client, letters, supervisor):
    batch = print_batch_create(business_date=DAY)
    administrator = staff("administrator", roles.ADMINISTRATOR)

    client.force_login(supervisor)  # holds view_printbatch, but a batch mixes every team's letters
    supervisor_pdf = client.get(f"/admin/notices/printbatch/{batch.pk}/pdf/")
    supervisor_list = client.get("/admin/notices/printbatch/")
    client.force_login(administrator)
    administrator_pdf = client.get(f"/admin/notices/printbatch/{batch.pk}/pdf/")

    assert (supervisor_pdf.status_code, supervisor_list.status_code) == (404, 403)
    assert administrator_pdf.status_code == 200
