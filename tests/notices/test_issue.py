"""Issuing notices (notices/services/issue.py): references, the stored snapshot and file, idempotency for
stage actions, immutability, refusals under a hold, corrections and the deliveries each notice queues.

Cases come from the real nightly run (`overdue_case`). A loan booked there owes 1,066.19 a month from
2026-02-15; a case opened at 45 days past due (2026-04-01) has two overdue installments, 2,132.38 in all.
Notices are issued with `issued_on` = the case's run date, so the overdue table holds exactly the
installments late on that date.
"""

import datetime
import hashlib
import re
import subprocess
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import AuditEvent
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from creditops.core.masking import mask_id_number
from dunning.models import CaseEvent, Channel, ContactAttempt, DunningAction, NoticeKind
from dunning.services.approvals import approval_decide
from dunning.services.cases import dispute_raise, dispute_resolve
from dunning.services.guardrails import ContactBlockedError
from dunning.services.run import dunning_run
from lending.models import Installment
from lending.services import payment_post
from notices.models import Notice, NoticeDelivery
from notices.rendering import template_version
from notices.services.batch import pending_notices_issue
from notices.services.issue import notice_correct, notice_issue
from tests.factories import BorrowerFactory
from tests.notices.conftest import page_count, pdf_text, squeezed

pytestmark = pytest.mark.django_db

Delivery = NoticeDelivery


def issue(case, kind=NoticeKind.COLLECTION_NOTICE, actor=None, **kwargs) -> Notice:
    """Issue on the case's run date unless told otherwise."""
    kwargs.setdefault("issued_on", case.opened_on)
    return notice_issue(case=case, kind=kind, actor=actor, **kwargs)


def refused(case, kind=NoticeKind.COLLECTION_NOTICE, **kwargs) -> ContactBlockedError:
    with pytest.raises(ContactBlockedError) as caught:
        issue(case, kind, **kwargs)
    return caught.value


def notice_action(case, kind=NoticeKind.COLLECTION_NOTICE) -> DunningAction:
    return DunningAction.objects.get(case=case, notice_kind=kind)


def channels(notice) -> dict[str, tuple[str, str]]:
    return {delivery.channel: (delivery.recipient, delivery.status) for delivery in notice.deliveries.all()}


# ---------------------------------------------------------------------------------------------------------
# References, snapshot, file


def test_references_are_sequential_per_year_of_the_issue_date(overdue_case):
    case = overdue_case(days_past_due=15)

    first = [issue(case, kind).reference for kind in (NoticeKind.COLLECTION_NOTICE, NoticeKind.FINAL_DEMAND)]
    next_year = issue(case, NoticeKind.FINAL_DEMAND, issued_on=datetime.date(2027, 1, 4))
    back_in_2026 = issue(case, NoticeKind.PAYMENT_REMINDER)

    assert first == ["CN-2026-000001", "CN-2026-000002"]
    assert next_year.reference == "CN-2027-000001"
    assert back_in_2026.reference == "CN-2026-000003"
    assert Notice.objects.count() == 4


def test_issued_notice_stores_its_pdf_with_hash_size_and_page_count(overdue_case):
    case = overdue_case(days_past_due=15)

    notice = issue(case)

    with notice.pdf.open("rb") as stored:
        content = stored.read()
    assert notice.status == Notice.Status.ISSUED
    assert notice.issued_at is not None
    assert notice.pdf.name == "notices/2026/CN-2026-000001.pdf"
    assert notice.sha256 == hashlib.sha256(content).hexdigest()
    assert notice.size_bytes == len(content) == notice.pdf.size
    assert notice.page_count == page_count(content) == 2
    assert len(content) <= 300 * 1024  # one Chinese face, subset: a Chinese notice stays small


def test_template_version_is_the_digest_of_the_kind_and_language_templates(overdue_case):
    chinese = issue(overdue_case(days_past_due=15))
    english = issue(overdue_case(days_past_due=16, borrower=BorrowerFactory(preferred_language="en")))

    assert (chinese.language, english.language) == ("zh-hans", "en")
    for notice in (chinese, english):
        assert re.fullmatch(r"[0-9a-f]{12}", notice.template_version)
        assert notice.template_version == template_version(notice.kind, notice.language)
    assert chinese.template_version != english.template_version


# One label of the zh_Hans catalogue worded differently.
REWORDED_CATALOGUE = """msgid ""
msgstr "Content-Type: text/plain; charset=UTF-8\\n"

msgid "Total due"
msgstr "合计应还金额"
"""


def test_template_version_changes_when_the_chinese_wording_printed_changes(overdue_case, settings, tmp_path):
    """The version "names exactly the wording a notice was printed with" (notices/rendering.py). On a
    Chinese notice most of that wording (every label, the dispute, contact and verification paragraphs)
    comes from the zh_Hans catalogue, so a new catalogue is new wording and must be a new version."""
    case = overdue_case(days_past_due=15)
    before = issue(case)
    catalogue = tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES"
    catalogue.mkdir(parents=True)
    (catalogue / "django.po").write_text(REWORDED_CATALOGUE, "utf-8")
    msgfmt = ["msgfmt", "-o", str(catalogue / "django.mo"), str(catalogue / "django.po")]
    subprocess.run(msgfmt, check=True)  # noqa: S603 - a fixed command line
    # Earlier locale paths take precedence; changing the setting resets Django's loaded catalogues.
    settings.LOCALE_PATHS = [tmp_path / "locale", *settings.LOCALE_PATHS]
    template_version.cache_clear()

    after = issue(case)

    assert "合计应还金额" in squeezed(pdf_text(after.pdf.read()))
    assert "合计应还金额" not in squeezed(pdf_text(before.pdf.read()))
    assert after.template_version != before.template_version


def test_snapshot_holds_the_overdue_rows_and_totals_of_the_ledger_on_the_issue_date(overdue_case):
    case = overdue_case(days_past_due=45)
    payment_post(
        loan=case.loan, source="bank", external_ref="PART-1", amount=Decimal("500.00"),
        received_on=case.opened_on, channel="bank_transfer",
    )  # fmt: skip

    notice = issue(case)

    late = list(Installment.objects.filter(loan=case.loan, due_date__lt=case.opened_on).order_by("sequence"))
    paid = [i.principal_paid_amount + i.interest_paid_amount + i.fee_paid_amount + i.penalty_paid_amount for i in late]
    expected_rows = [
        (i.sequence, i.due_date.isoformat(), f"{paid_i:.2f}", f"{i.outstanding_amount:.2f}")
        for i, paid_i in zip(late, paid, strict=True)
    ]
    data = notice.data
    assert [(r["sequence"], r["due_date"], r["paid"], r["outstanding"]) for r in data["overdue"]] == expected_rows
    assert expected_rows == [(1, "2026-02-15", "500.00", "566.19"), (2, "2026-03-15", "0.00", "1066.19")]
    total = sum((i.outstanding_amount for i in late), Decimal("0"))
    assert Decimal(data["total_due"]) == Decimal(data["totals"]["outstanding"]) == total == Decimal("1632.38")
    assert Decimal(data["totals"]["paid"]) == sum(paid) == Decimal("500.00")
    assert Decimal(data["totals"]["principal"]) == sum(i.principal_amount for i in late)
    assert Decimal(data["totals"]["interest"]) == sum(i.interest_amount for i in late)
    assert (data["reference"], data["issued_on"], data["pay_by"]) == ("CN-2026-000001", "2026-04-01", "2026-04-08")
    assert data["days_past_due"] == case.days_past_due == 45
    assert data["addressee"]["id_number_masked"] == mask_id_number(case.borrower.id_number)
    assert case.borrower.id_number not in str(data)
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{10}", notice.verification_code)  # no 0/O, 1/I/L
    assert data["verification"] == {
        "code": notice.verification_code,
        "url": "http://127.0.0.1:8000/notices/verify/CN-2026-000001/",
    }
    # And the PDF prints what the snapshot holds.
    text = pdf_text(notice.pdf.read())
    assert "566.19" in text
    assert "1,632.38" in text


def refusal_code(case, kind=NoticeKind.COLLECTION_NOTICE, **kwargs) -> str:
    with pytest.raises(DomainError) as caught:
        issue(case, kind, **kwargs)
    return caught.value.code


def test_refused_requests_issue_nothing_and_use_no_reference(overdue_case, other_collector):
    case = overdue_case(days_past_due=15)
    assert case.assigned_to != other_collector

    codes = [
        refusal_code(case, "love_letter"),
        refusal_code(case, NoticeKind.PLAN_CONFIRMATION),  # refused after the number was drawn: rolled back
        refusal_code(case, actor=other_collector),
    ]

    assert codes == ["notice.kind_invalid", "notice.plan_missing", "case.forbidden"]
    assert Notice.objects.count() == 0
    assert issue(case).reference == "CN-2026-000001"


def test_a_closed_case_gets_no_notice(overdue_case):
    case = overdue_case(days_past_due=15)
    payment_post(
        loan=case.loan, source="bank", external_ref="CURE-1", amount=Decimal("1066.19"),
        received_on=case.opened_on, channel="bank_transfer",
    )  # fmt: skip
    dunning_run(as_of=case.opened_on + datetime.timedelta(days=1))
    case.refresh_from_db()
    assert case.is_open is False

    assert refusal_code(case) == "case.closed"
    assert Notice.objects.count() == 0


# ---------------------------------------------------------------------------------------------------------
# One notice per stage action


def test_issuing_a_stage_action_twice_returns_the_one_notice_and_completes_the_action(overdue_case):
    case = overdue_case(days_past_due=15)
    action = notice_action(case)
    assert (action.status, action.stage.start_dpd) == (DunningAction.Status.PENDING, 15)

    first = issue(case, action=action)
    again = issue(case, action=action)

    assert again.pk == first.pk
    assert Notice.objects.count() == 1
    action.refresh_from_db()
    assert (action.status, action.result) == (DunningAction.Status.DONE, "notice:CN-2026-000001")
    assert action.completed_at == first.issued_at
    assert (first.action, first.stage, first.issued_by) == (action, action.stage, None)
    assert case.events.filter(kind=CaseEvent.Kind.NOTICE).count() == 1
    assert AuditEvent.objects.filter(event="notice.issued", subject_id=str(first.pk)).count() == 1


def test_pending_notices_issue_issues_the_ladders_notices_once(overdue_case):
    case = overdue_case(days_past_due=15)
    action = notice_action(case)

    counts = pending_notices_issue(workers=1)
    again = pending_notices_issue(workers=1)

    notice = Notice.objects.get()
    assert (notice.action, notice.kind, notice.reference) == (action, "collection_notice", "CN-2026-000001")
    assert (counts["issued"], counts["refused"], counts["failed"], counts["resumed"]) == (1, 0, 0, 0)
    assert (again["issued"], again["resumed"]) == (0, 0)
    assert Notice.objects.count() == 1
    action.refresh_from_db()
    assert (action.status, action.result) == (DunningAction.Status.DONE, "notice:CN-2026-000001")


# ---------------------------------------------------------------------------------------------------------
# Immutability


def test_an_issued_notice_is_never_saved_again_nor_deleted(overdue_case):
    notice = issue(overdue_case(days_past_due=15))

    notice.data = {**notice.data, "total_due": "0.00"}
    with pytest.raises(DomainError) as saved:
        notice.save()
    with pytest.raises(DomainError) as deleted:
        notice.delete()

    assert (saved.value.code, deleted.value.code) == ("notice.issued", "notice.issued")
    stored = Notice.objects.get(pk=notice.pk)
    assert stored.data["total_due"] == "1066.19"
    assert stored.status == Notice.Status.ISSUED


def test_notices_refuse_bulk_updates_and_deletes_on_every_database(overdue_case):
    notice = issue(overdue_case(days_past_due=15))

    with pytest.raises(DomainError) as updated:
        Notice.objects.filter(pk=notice.pk).update(sha256="forged")
    with pytest.raises(DomainError) as deleted:
        Notice.objects.filter(pk=notice.pk).delete()

    assert (updated.value.code, deleted.value.code) == ("notice.issued", "notice.issued")
    assert Notice.objects.get(pk=notice.pk).sha256 == notice.sha256


@pytest.mark.parametrize(
    "sql",
    ["UPDATE notices_notice SET sha256 = 'forged' WHERE id = %s", "DELETE FROM notices_notice WHERE id = %s"],
    ids=["update", "delete"],
)
def test_postgresql_refuses_raw_sql_changes_to_an_issued_notice(on_postgres, overdue_case, sql):
    notice = issue(overdue_case(days_past_due=15))

    with (
        pytest.raises(DatabaseError, match="an issued notice never changes"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [notice.pk])

    assert Notice.objects.get(pk=notice.pk).sha256 == notice.sha256


# ---------------------------------------------------------------------------------------------------------
# Holds


def test_an_open_dispute_refuses_the_notice_records_the_refusal_and_uses_no_reference(overdue_case, collector):
    case = overdue_case(days_past_due=15)
    assert case.assigned_to == collector
    dispute = dispute_raise(case=case, reason="Says the loan was repaid in cash", actor=collector)

    refusal = refused(case, actor=collector)

    assert refusal.code == "contact.hold_dispute"
    assert Notice.objects.count() == 0
    attempt = ContactAttempt.objects.get(case=case)
    assert (attempt.channel, attempt.decision, attempt.rule) == (Channel.LETTER, "blocked", "contact.hold_dispute")
    assert (attempt.note, attempt.actor, attempt.is_automatic) == ("notice:collection_notice", collector, False)
    assert refusal.attempt == attempt
    blocked = case.events.get(kind=CaseEvent.Kind.CONTACT_BLOCKED)
    assert blocked.detail["rule"] == "contact.hold_dispute"
    assert AuditEvent.objects.filter(event="contact.blocked", subject_id=str(attempt.pk)).exists()

    dispute_resolve(dispute=dispute, resolution="Bank records show no such repayment", actor=collector)
    assert issue(case, actor=collector).reference == "CN-2026-000001"


def test_bankruptcy_blocks_the_automatic_stage_action_with_the_rule_as_result(overdue_case):
    case = overdue_case(days_past_due=15)
    action = notice_action(case)
    case.borrower.is_bankrupt = True
    case.borrower.save(update_fields=["is_bankrupt"])

    refusal = refused(case, action=action)

    assert refusal.code == "contact.hold_bankruptcy"
    action.refresh_from_db()
    assert (action.status, action.result) == (DunningAction.Status.BLOCKED, "contact.hold_bankruptcy")
    assert action.completed_at is not None
    attempt = ContactAttempt.objects.get(case=case)
    assert (attempt.channel, attempt.decision, attempt.is_automatic, attempt.actor) == ("letter", "blocked", True, None)
    assert Notice.objects.count() == 0
    # A blocked action is not pending any more: the batch leaves it alone.
    assert pending_notices_issue(workers=1)["issued"] == 0

    case.borrower.is_bankrupt = False
    case.borrower.save(update_fields=["is_bankrupt"])
    assert issue(case).reference == "CN-2026-000001"


def test_the_batch_counts_a_refused_notice_and_blocks_its_action(overdue_case):
    case = overdue_case(days_past_due=15)
    case.borrower.is_bankrupt = True
    case.borrower.save(update_fields=["is_bankrupt"])

    counts = pending_notices_issue(workers=1)

    assert (counts["issued"], counts["refused"]) == (0, 1)
    action = notice_action(case)
    assert (action.status, action.result) == (DunningAction.Status.BLOCKED, "contact.hold_bankruptcy")
    assert Notice.objects.count() == 0


def test_the_legal_referral_notice_goes_out_under_the_legal_hold_its_referral_starts(overdue_case, supervisor):
    case = overdue_case(days_past_due=95)  # D+90: legal referral and credit-bureau report, awaiting approval
    legal = case.approvals.get(kind="legal_referral")
    approval_decide(approval=legal, approve=True, reason="Three months of refusals", actor=supervisor)
    case.refresh_from_db()
    assert case.legal_hold is True

    assert refused(case).code == "contact.hold_legal"
    counts = pending_notices_issue(workers=1)

    assert counts["issued"] == 1
    notice = Notice.objects.get()
    assert (notice.kind, notice.reference, notice.action) == ("legal_referral", "CN-2026-000001", legal.action)
    legal.action.refresh_from_db()
    assert (legal.action.status, legal.action.result) == (DunningAction.Status.DONE, "notice:CN-2026-000001")


def test_the_credit_reporting_pre_notice_the_law_requires_also_passes_the_legal_hold(overdue_case, supervisor):
    case = overdue_case(days_past_due=95)
    for approval in case.approvals.all():  # legal referral (starts the legal hold) and credit-bureau report
        approval_decide(approval=approval, approve=True, reason="Approved at the D+90 review", actor=supervisor)

    counts = pending_notices_issue(workers=1)

    assert (counts["issued"], counts["refused"]) == (2, 0)
    assert sorted(Notice.objects.values_list("kind", flat=True)) == ["credit_reporting", "legal_referral"]
    assert set(DunningAction.objects.filter(case=case, stage__start_dpd=90).values_list("status", flat=True)) == {
        DunningAction.Status.DONE
    }


# ---------------------------------------------------------------------------------------------------------
# Corrections


def test_a_correction_is_a_new_notice_naming_the_old_one_and_cancels_its_unprinted_letter(overdue_case, collector):
    case = overdue_case(days_past_due=15)
    old = issue(case)
    address = f"{case.borrower.address} 北京市"
    assert channels(old) == {"letter": (address, Delivery.Status.QUEUED)}

    new = notice_correct(notice=old, actor=collector, reason="Wrong penalty rate printed")

    assert (new.reference, new.replaces, new.kind) == ("CN-2026-000002", old, old.kind)
    assert (new.correction_reason, new.issued_by, new.issued_on) == (
        "Wrong penalty rate printed",
        collector,
        business_today(),  # figures recomputed from the ledger today
    )
    assert new.data["replaces"] == "CN-2026-000001"
    letter = old.deliveries.get()
    assert (letter.status, letter.status_reason) == (Delivery.Status.CANCELLED, "CN-2026-000002")
    assert channels(new) == {"letter": (address, Delivery.Status.QUEUED)}
    with translation.override("zh-hans"):
        withdrawn = gettext("This notice corrects and replaces notice %(old)s, which is withdrawn.")
    assert squeezed(withdrawn % {"old": "CN-2026-000001"}) in squeezed(pdf_text(new.pdf.read()))
    assert case.events.filter(kind=CaseEvent.Kind.NOTICE).last().detail["replaces"] == "CN-2026-000001"


def test_a_notice_is_corrected_only_once(overdue_case, collector):
    old = issue(overdue_case(days_past_due=15))
    notice_correct(notice=old, actor=collector, reason="Wrong address")

    with pytest.raises(DomainError) as caught:
        notice_correct(notice=old, actor=collector, reason="Wrong address again")

    assert caught.value.code == "notice.already_corrected"
    assert Notice.objects.count() == 2


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_correction_needs_a_reason(overdue_case, collector, reason):
    old = issue(overdue_case(days_past_due=15))

    with pytest.raises(DomainError) as caught:
        notice_correct(notice=old, actor=collector, reason=reason)

    assert caught.value.code == "notice.reason_missing"
    assert Notice.objects.count() == 1
    assert old.deliveries.get().status == Delivery.Status.QUEUED


# ---------------------------------------------------------------------------------------------------------
# Deliveries queued on issue

ADDRESS = {"address": "建国路 1 号", "city": "北京", "province": "北京市"}


def test_a_collection_notice_goes_by_letter_with_an_email_copy(overdue_case):
    borrower = BorrowerFactory(email="zhang@example.com", **ADDRESS)

    notice = issue(overdue_case(days_past_due=15, borrower=borrower))

    assert channels(notice) == {
        "letter": ("建国路 1 号 北京 北京市", Delivery.Status.QUEUED),
        "email": ("zhang@example.com", Delivery.Status.QUEUED),
    }
    assert sorted(notice.case.events.get(kind=CaseEvent.Kind.NOTICE).detail["deliveries"]) == ["email", "letter"]


def test_a_payment_reminder_goes_by_email_only_to_a_borrower_with_an_address(overdue_case):
    borrower = BorrowerFactory(email="zhang@example.com", **ADDRESS)

    notice = issue(overdue_case(days_past_due=15, borrower=borrower), NoticeKind.PAYMENT_REMINDER)

    assert channels(notice) == {"email": ("zhang@example.com", Delivery.Status.QUEUED)}


def test_a_payment_reminder_goes_by_letter_to_a_borrower_without_email(overdue_case):
    borrower = BorrowerFactory(email="", **ADDRESS)

    notice = issue(overdue_case(days_past_due=15, borrower=borrower), NoticeKind.PAYMENT_REMINDER)

    assert channels(notice) == {"letter": ("建国路 1 号 北京 北京市", Delivery.Status.QUEUED)}


def test_a_letter_to_a_borrower_without_a_postal_address_is_failed_with_the_reason_not_printed(overdue_case):
    borrower = BorrowerFactory(email="", address="", city="", province="")

    notice = issue(overdue_case(days_past_due=15, borrower=borrower))

    [letter] = notice.deliveries.all()
    assert (letter.channel, letter.recipient, letter.status) == ("letter", "", Delivery.Status.FAILED)
    assert "no postal address" in letter.status_reason
