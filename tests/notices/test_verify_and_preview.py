"""The public verification page (/notices/verify/<reference>/?code=…) and the staff pages: a notice's PDF
(/notices/<pk>/pdf/) and a preview of any kind on a case (/notices/preview/<case>/<kind>/), each within
the viewer's case scope (notices/views.py).

The notice here is a Chinese collection notice on a case at 15 days past due (one installment of
1,066.19 late), routed by the team fixture to `collector`; `other_collector` does not see it.
"""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import AuditEvent
from creditops.core.masking import mask_id_number
from creditops.core.models import ReferenceCounter
from dunning.models import NoticeKind
from notices.models import Notice
from notices.services.issue import notice_correct, notice_issue
from tests.notices.conftest import pdf_pages, pdf_text, squeezed

pytestmark = pytest.mark.django_db

MATCH = "Your copy matches the notice we issued, byte for byte."
MISMATCH = "Your copy does NOT match the notice we issued."


@pytest.fixture
def case(overdue_case, collector):
    case = overdue_case(days_past_due=15)
    assert case.assigned_to == collector
    return case


@pytest.fixture
def notice(case):
    return notice_issue(case=case, kind=NoticeKind.COLLECTION_NOTICE, actor=None, issued_on=case.opened_on)


def stored_bytes(notice) -> bytes:
    with notice.pdf.open("rb") as stored:
        return stored.read()


def verify_url(notice_or_reference) -> str:
    return f"/notices/verify/{getattr(notice_or_reference, 'reference', notice_or_reference)}/"


def verify(client, notice, **params):
    return client.get(verify_url(notice), {"code": notice.verification_code, **params})


# ---------------------------------------------------------------------------------------------------------
# Verification (public)


def test_reference_and_code_show_the_kind_and_date_and_no_personal_data(client, notice):
    response = verify(client, notice)

    assert response.status_code == 200
    page = response.content.decode()
    assert "CN-2026-000001" in page
    assert str(NoticeKind.COLLECTION_NOTICE.label) in page
    assert "2026-03-02" in page
    borrower = notice.borrower
    for personal in [borrower.name, borrower.id_number, mask_id_number(borrower.id_number), borrower.phone,
                     notice.loan.reference, "1,066.19", "1066.19"]:  # fmt: skip
        assert personal not in page
    assert MATCH not in page
    assert MISMATCH not in page


def test_the_code_is_read_in_any_case(client, notice):
    response = client.get(verify_url(notice), {"code": notice.verification_code.lower()})

    assert response.status_code == 200


def test_a_wrong_code_and_an_unknown_reference_get_the_same_404(client, notice):
    wrong_code = client.get(verify_url(notice), {"code": "ABCDEFGHJK"})
    no_code = client.get(verify_url(notice))
    unknown = client.get(verify_url("CN-2026-999999"), {"code": notice.verification_code})

    assert (wrong_code.status_code, no_code.status_code, unknown.status_code) == (404, 404, 404)
    assert wrong_code.content == unknown.content == no_code.content
    assert b"CN-2026-000001" not in wrong_code.content


@pytest.mark.parametrize("code", ["é", "ÉÉÉÉÉÉÉÉÉÉ", "ABC", "0000000000", "ABCDEFGHJKL"])
def test_a_code_that_cannot_be_a_verification_code_is_a_404_not_an_error(client, notice, code):
    assert client.get(verify_url(notice), {"code": code}).status_code == 404


def test_the_sha256_of_a_copy_is_compared_with_the_stored_one(client, notice):
    genuine = verify(client, notice, sha256=hashlib.sha256(stored_bytes(notice)).hexdigest())
    forged = verify(client, notice, sha256=hashlib.sha256(b"forged").hexdigest())

    assert notice.sha256 == hashlib.sha256(stored_bytes(notice)).hexdigest()
    assert MATCH in genuine.content.decode()
    assert MISMATCH not in genuine.content.decode()
    assert MISMATCH in forged.content.decode()
    assert MATCH not in forged.content.decode()


def test_an_uploaded_pdf_matches_only_when_it_is_the_issued_file(client, notice):
    content = stored_bytes(notice)

    def upload(data: bytes):
        document = SimpleUploadedFile("notice.pdf", data, content_type="application/pdf")
        return client.post(verify_url(notice), {"code": notice.verification_code, "document": document})

    genuine, altered = upload(content), upload(content.replace(b"1,066.19", b"9,066.19") + b"\n% edited\n")

    assert (genuine.status_code, altered.status_code) == (200, 200)
    assert MATCH in genuine.content.decode()
    assert MISMATCH in altered.content.decode()


def test_the_page_answers_a_limited_number_of_checks_per_address(client, notice, settings):
    settings.NOTICES = {**settings.NOTICES, "VERIFY_REQUESTS_PER_MINUTE": 5}
    wrong = {"code": "ZZZZZZZZ"}
    answers = [client.get(verify_url(notice), wrong).status_code for _ in range(5)]
    assert answers == [404] * 5  # guessing costs requests like any other
    refused = verify(client, notice)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "Too many checks from your address" in refused.content.decode()
    elsewhere = client.get(verify_url(notice), {"code": notice.verification_code}, REMOTE_ADDR="10.9.8.7")
    assert elsewhere.status_code == 200  # another address is not held


def test_an_upload_larger_than_the_limit_is_refused_before_it_is_read(client, notice, settings):
    settings.NOTICES = {**settings.NOTICES, "VERIFY_MAX_UPLOAD_BYTES": 1024 * 1024}
    too_big = SimpleUploadedFile("copy.pdf", b"%PDF" + b"x" * (1024 * 1024), content_type="application/pdf")
    response = client.post(verify_url(notice), {"code": notice.verification_code, "document": too_big})
    assert response.status_code == 413
    assert "The file is larger than 1 MB" in response.content.decode()
    fits = SimpleUploadedFile("copy.pdf", stored_bytes(notice), content_type="application/pdf")
    response = client.post(verify_url(notice), {"code": notice.verification_code, "document": fits})
    assert MATCH in response.content.decode()


def test_a_corrected_notice_names_the_notice_that_replaced_it(client, notice, collector):
    new = notice_correct(notice=notice, actor=collector, reason="Wrong penalty rate")

    old_page = verify(client, notice).content.decode()
    new_page = verify(client, new).content.decode()

    assert "This notice was corrected and replaced by notice CN-2026-000002." in old_page
    assert "corrected and replaced" not in new_page


def test_the_old_notice_code_does_not_open_the_correction(client, notice, collector):
    new = notice_correct(notice=notice, actor=collector, reason="Wrong penalty rate")

    response = client.get(verify_url(new), {"code": notice.verification_code})

    assert new.verification_code != notice.verification_code
    assert response.status_code == 404


# ---------------------------------------------------------------------------------------------------------
# A notice's PDF (staff)


def test_the_pdf_needs_a_login(client, notice):
    response = client.get(f"/notices/{notice.pk}/pdf/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_cases_collector_downloads_the_stored_pdf_and_the_download_is_audited(client, notice, collector):
    client.force_login(collector)

    response = client.get(f"/notices/{notice.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="CN-2026-000001.pdf"'
    assert response.content == stored_bytes(notice)
    event = AuditEvent.objects.get(event="notice.downloaded")
    assert (event.actor, event.subject_type, event.subject_id) == (collector, "notices.notice", str(notice.pk))
    assert event.detail == {"reference": "CN-2026-000001", "via": "portal"}


def test_a_collector_gets_404_for_a_notice_on_someone_elses_case(client, notice, other_collector):
    client.force_login(other_collector)

    response = client.get(f"/notices/{notice.pk}/pdf/")

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(event="notice.downloaded").exists()


# ---------------------------------------------------------------------------------------------------------
# Previews (staff)


def test_a_preview_is_a_watermarked_pdf_that_issues_nothing(client, case, collector):
    client.force_login(collector)

    response = client.get(f"/notices/preview/{case.pk}/collection_notice/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    with translation.override(case.borrower.preferred_language):
        watermark = gettext("PREVIEW")
    pages = pdf_pages(response.content)
    assert len(pages) == 2
    assert all(watermark in page.splitlines() for page in pages)  # on every page
    text = squeezed(pdf_text(response.content))
    assert "催缴通知书" in text
    assert "/notices/verify/PREVIEW/" in text
    assert "CN-2026" not in text
    assert Notice.objects.count() == 0
    assert not ReferenceCounter.objects.filter(prefix="CN").exists()
    assert AuditEvent.objects.filter(event="notice.previewed", actor=collector, subject_id=str(case.pk)).exists()
    # The preview used no number: the first notice issued is still 000001.
    issued = notice_issue(case=case, kind=NoticeKind.COLLECTION_NOTICE, actor=None, issued_on=case.opened_on)
    assert issued.reference == "CN-2026-000001"


def test_a_preview_is_404_outside_the_viewers_cases_and_for_an_unknown_kind(client, case, collector, other_collector):
    client.force_login(other_collector)
    outside = client.get(f"/notices/preview/{case.pk}/collection_notice/")
    client.force_login(collector)
    unknown_kind = client.get(f"/notices/preview/{case.pk}/love_letter/")

    assert (outside.status_code, unknown_kind.status_code) == (404, 404)
    assert Notice.objects.count() == 0


def test_previewing_a_plan_confirmation_without_a_plan_says_why(client, case, collector):
    client.force_login(collector)

    response = client.get(f"/notices/preview/{case.pk}/plan_confirmation/")

    assert response.status_code == 409
    assert response.content.decode() == "This case has no payment plan to confirm."
