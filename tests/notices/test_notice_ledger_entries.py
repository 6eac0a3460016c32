"""What a notice says about the ledger's entries (notices/services/content.py, the per-language partials
templates/notices/<language>/_*.html), read back from the issued PDF: amounts net of waivers with a waived
column and line, an active settlement's terms in words, deadlines moved off public holidays of the
product's calendar, and why penalty interest stopped (cost cap, write-off) instead of "continues".

A loan booked by `overdue_case` owes 1,066.19 a month from 2026-02-15 (principal 946.19 and interest
120.00 in the first month). Labels of the shared layout come from the catalogue and are looked up with
gettext in the notice's language; wording written into the per-language partials is asserted as is.
"""

import datetime
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Sum
from django.utils import translation
from django.utils.translation import pgettext

from creditops.core.business_days import is_business_day
from creditops.core.dates import business_today
from dunning.models import CollectionCase, NoticeKind
from dunning.services.run import dunning_run
from lending.adjustments import waiver_post
from lending.models import Installment, LedgerEntryLine, PenaltyPause
from lending.services import loan_create, payment_post
from lending.settlements import settlement_agree
from lending.write_off import loan_write_off
from notices.rendering import template_version
from notices.services.issue import notice_issue
from tests.dunning.conftest import DISBURSED_ON, FIRST_DUE
from tests.factories import BorrowerFactory, ProductFactory
from tests.lending.test_penalty import accrue_through
from tests.notices.conftest import pdf_text, squeezed

pytestmark = pytest.mark.django_db

ONE_DAY = datetime.timedelta(days=1)
PARTS = ("principal", "interest", "fee", "penalty")


def issued(case, kind=NoticeKind.COLLECTION_NOTICE, issued_on=None):
    """Issue on the case's run date unless told otherwise; the notice and its stored PDF's text."""
    notice = notice_issue(case=case, kind=kind, actor=None, issued_on=issued_on or case.opened_on)
    with notice.pdf.open("rb") as stored:
        return notice, pdf_text(stored.read())


def line_with(text: str, needle: str) -> str:
    [line] = [line for line in text.splitlines() if needle in line]
    return line


def zh_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def en_date(day: datetime.date) -> str:
    return f"{day.day} {day:%B %Y}"


def owed_now(installment: Installment) -> Decimal:
    """Due + accrued − paid − waived, from the installment's stored figures and the entry lines (an
    independent sum: not the generated outstanding column)."""
    due = sum(getattr(installment, f"{part}_amount") for part in PARTS)
    paid = sum(getattr(installment, f"{part}_paid_amount") for part in PARTS)
    lines = LedgerEntryLine.objects.filter(installment=installment).aggregate(
        **{part: Sum(f"{part}_amount") for part in PARTS}
    )
    return due - paid - sum(value or Decimal("0") for value in lines.values())


def gettext_in(language: str, context: str, message: str) -> str:
    with translation.override(language):
        return pgettext(context, message)


# ---------------------------------------------------------------------------------------------------------
# Waivers: net amounts, the waived column and line


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_waiver_is_its_own_column_and_line_and_every_amount_is_net_of_it(overdue_case, language):
    case = overdue_case(days_past_due=45, borrower=BorrowerFactory(preferred_language=language))  # 2026-04-01
    # 150.00 of interest waived, oldest first: all 120.00 of February's, 30.00 of March's.
    waiver_post(loan=case.loan, component="interest", amount=Decimal("150.00"), reason="hardship",
                effective_on=case.opened_on)  # fmt: skip

    notice, text = issued(case)

    first, second = Installment.objects.filter(loan=case.loan, sequence__in=(1, 2)).order_by("sequence")
    assert (owed_now(first), owed_now(second)) == (Decimal("946.19"), Decimal("1036.19"))
    data = notice.data
    assert [(row["waived"], row["outstanding"]) for row in data["overdue"]] == [
        ("120.00", "946.19"), ("30.00", "1036.19"),
    ]  # fmt: skip
    assert data["total_due"] == data["totals"]["outstanding"] == "1982.38"
    assert data["totals"]["waived"] == "150.00" and data["waived_column"] is True
    assert data["waived"] == {"total": "150.00", "parts": [{"part": "interest", "amount": "150.00"}]}
    for item, waived in ((first, "120.00"), (second, "30.00")):
        day = zh_date(item.due_date) if language == "zh-hans" else en_date(item.due_date)
        row = line_with(text, day).split()
        # principal, interest, fees, penalty, paid, waived, outstanding: the row adds up.
        assert row[-2:] == [waived, f"{owed_now(item):,.2f}"]
        figures = [Decimal(value.replace(",", "")) for value in row[-7:]]
        assert sum(figures[:4]) - figures[4] - figures[5] == figures[6]
    flat = squeezed(text)
    assert squeezed(gettext_in(language, "notice column: amounts waived", "Waived")) in flat
    assert "1,982.38" in text and "2,132.38" not in text  # the total due is net of the waiver
    if language == "zh-hans":
        assert "本笔贷款累计已减免150.00CNY（利息150.00），上表应还金额已扣除减免部分。" in flat
        assert "减免" in flat
    else:
        assert squeezed("Waived on this loan so far: 150.00 CNY (interest 150.00).") in flat
        assert squeezed("The amounts owed above are net of what was waived.") in flat
    assert "amount=1982.38" in data["payment"]["qr_payload"]  # the QR code asks for the net amount too


def test_a_notice_without_waivers_keeps_the_table_as_it_was(overdue_case):
    notice, text = issued(overdue_case(days_past_due=45))
    assert notice.data["waived_column"] is False and "waived" not in notice.data
    assert "减免" not in squeezed(text)
    assert line_with(text, zh_date(FIRST_DUE)).split()[-2:] == ["0.00", "1,066.19"]  # paid, outstanding


# ---------------------------------------------------------------------------------------------------------
# A settlement waiting for payment


def test_an_active_settlement_states_the_agreed_amount_the_deadline_and_what_is_waived_in_chinese(overdue_case):
    case = overdue_case(days_past_due=45)
    today = business_today()
    deadline = today + ONE_DAY * 20
    settlement_agree(loan=case.loan, agreed_amount=Decimal("5000.00"), deadline=deadline, authority="approval 7")
    owed = sum((owed_now(item) for item in Installment.objects.filter(loan=case.loan)), Decimal("0"))

    notice, text = issued(case, issued_on=today)

    rest = owed - Decimal("5000.00")
    assert notice.data["settlement"]["owed"] == f"{owed:.2f}" and notice.data["settlement"]["to_pay"] == "5000.00"
    assert notice.data["settlement"]["waived_if_paid"] == f"{rest:.2f}"
    flat = squeezed(text)
    assert "和解还款约定" in flat
    assert f"您共欠款{owed:,.2f}CNY（含尚未到期的各期款项）" in flat
    assert f"如您于{zh_date(deadline)}前支付5,000.00CNY，其余欠款{rest:,.2f}CNY予以减免，本笔贷款即告结清。" in flat
    assert f"如您未能于{zh_date(deadline)}前足额支付约定金额，和解约定即告失效" in flat
    assert "amount=5000.00" in notice.data["payment"]["qr_payload"]


def test_a_settlement_in_instalments_with_money_received_in_english(overdue_case):
    case = overdue_case(days_past_due=45, borrower=BorrowerFactory(preferred_language="en"))
    today = business_today()
    first, deadline = today + ONE_DAY * 5, today + ONE_DAY * 25
    settlement_agree(loan=case.loan, agreed_amount=Decimal("6000.00"), deadline=deadline,
                     instalments=[(first, Decimal("2500.00")), (deadline, Decimal("3500.00"))])  # fmt: skip
    payment_post(loan=case.loan, source="bank", external_ref="SETTLE-1", amount=Decimal("1000.00"),
                 received_on=today, channel="bank_transfer")  # fmt: skip
    owed = sum((owed_now(item) for item in Installment.objects.filter(loan=case.loan)), Decimal("0"))

    notice, text = issued(case, issued_on=today)

    settlement = notice.data["settlement"]
    assert (settlement["received"], settlement["to_pay"], settlement["next_amount"]) == (
        "1000.00",
        "5000.00",
        "1500.00",
    )
    rest = owed - Decimal("5000.00")
    flat = squeezed(text)
    assert squeezed(f"you owe {owed:,.2f} CNY in all, including the installments not yet due.") in flat
    assert squeezed("We have received 1,000.00 CNY towards the agreed amount.") in flat
    assert (
        squeezed(
            f"If you pay 5,000.00 CNY by {en_date(deadline)}, in the instalments below, the rest, {rest:,.2f} CNY, "
            "is waived and the loan is settled."
        )
        in flat
    )
    assert line_with(text, en_date(first)).split()[-1] == "2,500.00"
    assert squeezed("or an instalment is not paid by its date, the settlement lapses") in flat
    # The demand for the total due offers the settlement as the other way to pay, not a second demand.
    assert (
        squeezed(
            f"Or, as agreed with you, pay 5,000.00 CNY by {en_date(deadline)} under the settlement below, which "
            "settles the loan."
        )
        in flat
    )
    assert "amount=1500.00" in notice.data["payment"]["qr_payload"]  # what the next instalment still needs


# ---------------------------------------------------------------------------------------------------------
# Deadlines on business days


def test_a_pay_by_date_in_the_national_day_holiday_moves_to_the_next_business_day(overdue_case):
    """Issued on 2026-09-24 (the run date 221 days after the first due date): 7 days later is
    2026-10-01, the first day of the National Day holiday (10-01 … 10-07), so the notice asks for payment
    by Thursday 2026-10-08."""
    case = overdue_case(days_past_due=221)
    assert case.opened_on == datetime.date(2026, 9, 24)

    notice, text = issued(case)

    pay_by = datetime.date(2026, 10, 8)
    assert not is_business_day(datetime.date(2026, 10, 1), "CN") and is_business_day(pay_by, "CN")
    assert notice.data["pay_by"] == pay_by.isoformat()
    assert notice.data["dispute_by"] == "2026-10-09"  # 15 days: a Friday, a business day already
    flat = squeezed(text)
    assert f"于{zh_date(pay_by)}前足额归还" in flat
    with translation.override("zh-hans"):
        label = translation.gettext("Pay by")
    assert f"{label}:{zh_date(pay_by)}" in flat
    assert zh_date(datetime.date(2026, 10, 1)) not in flat


def test_a_dispute_deadline_in_the_holiday_moves_too_and_the_notice_prints_it(overdue_case):
    case = overdue_case(days_past_due=213, borrower=BorrowerFactory(preferred_language="en"))  # 2026-09-16

    notice, text = issued(case)

    assert (notice.data["pay_by"], notice.data["dispute_by"]) == ("2026-09-23", "2026-10-08")  # not 10-01
    assert squeezed("tell us by 8 October 2026 in writing") in squeezed(text)


def test_the_product_s_calendar_decides_us_observed_independence_day(overdue_case):
    """7 days after 2026-06-26 is Friday 2026-07-03: Independence Day falls on a Saturday, so US federal
    offices close that Friday; the next business day is Monday 07-06. On the Chinese calendar 07-03 is an
    ordinary working day."""
    us = ProductFactory(code="USCAL", business_calendar="US", penalty_daily_rate=Decimal("0"))
    us_loan = loan_create(borrower=BorrowerFactory(), product=us, principal_amount=Decimal("12000.00"),
                          term_months=12, disbursed_on=DISBURSED_ON, actor=None)  # fmt: skip
    cn_case = overdue_case(days_past_due=131)  # one run on 2026-06-26 opens both cases
    us_case = CollectionCase.objects.get(loan=us_loan, is_open=True)

    cn_notice, _text = issued(cn_case)
    us_notice, _text = issued(us_case)

    assert cn_notice.data["pay_by"] == "2026-07-03"
    assert us_notice.data["pay_by"] == "2026-07-06"


# ---------------------------------------------------------------------------------------------------------
# Penalty interest that stopped


@pytest.fixture
def capped_case(team):
    """A loan whose penalty (1 % a day on overdue principal) reached a cost cap of 8 % a year: the
    contract's interest (about 794) leaves 166 of room on 12,000.00, passed within three weeks."""
    product = ProductFactory(code="CAP8", penalty_daily_rate=Decimal("0.01"), penalty_cost_cap_rate=Decimal("0.08"))

    def make(language="zh-hans", days=40):
        loan = loan_create(borrower=BorrowerFactory(preferred_language=language), product=product,
                           principal_amount=Decimal("12000.00"), term_months=12, disbursed_on=DISBURSED_ON,
                           actor=None)  # fmt: skip
        last = FIRST_DUE + ONE_DAY * days
        accrue_through(last - ONE_DAY, first=FIRST_DUE + ONE_DAY)
        dunning_run(as_of=last)
        return CollectionCase.objects.get(loan=loan, is_open=True)

    return make


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_loan_at_its_cost_cap_is_told_penalty_stopped_and_why(capped_case, language):
    case = capped_case(language)
    pause = PenaltyPause.objects.get(loan=case.loan, reason=PenaltyPause.Reason.COST_CAP, ended_on__isnull=True)
    assert FIRST_DUE < pause.started_on < case.opened_on

    notice, text = issued(case)

    assert notice.data["penalty"] == {
        "accrues": False, "stopped": True, "reason": "cost_cap", "since": pause.started_on.isoformat(),
        "cap_rate_percent": "8",
    }  # fmt: skip
    flat = squeezed(text)
    if language == "zh-hans":
        assert f"一、自{zh_date(pause.started_on)}起不再计收罚息" in flat
        assert "已达综合成本上限（按借款本金年化8%）" in flat
        assert "继续计收罚息" not in flat
    else:
        assert squeezed(f"1. No penalty interest is charged from {en_date(pause.started_on)} onwards") in flat
        assert squeezed("the loan has reached its cost cap") in flat and "8%ayear" in flat
        assert "continue to accrue" not in text


def test_every_kind_says_penalty_stopped_and_no_kind_says_it_continues(capped_case):
    case = capped_case("en", days=41)
    for kind in (NoticeKind.PAYMENT_REMINDER, NoticeKind.COLLECTION_NOTICE, NoticeKind.FINAL_DEMAND):
        _notice, text = issued(case, kind)
        assert squeezed("No penalty interest is charged from") in squeezed(text), kind
        assert "continue" not in text, kind


def test_a_loan_whose_contract_charges_no_penalty_is_told_so_not_0_percent_a_day(overdue_case):
    case = overdue_case(days_past_due=10)  # its product's penalty rate is 0
    case.borrower.preferred_language = "en"
    case.borrower.save(update_fields=["preferred_language"])
    for kind in (NoticeKind.PAYMENT_REMINDER, NoticeKind.COLLECTION_NOTICE, NoticeKind.FINAL_DEMAND):
        _notice, text = issued(case, kind)
        assert squeezed("This loan's contract charges no penalty interest") in squeezed(text), kind
        assert "0% a day" not in text and "continue" not in text, kind


def test_a_written_off_loan_s_notice_asks_for_what_stays_written_off_and_says_penalty_stopped(overdue_case):
    product = ProductFactory(code="WO", penalty_daily_rate=Decimal("0.0005"))
    case = overdue_case(days_past_due=45, product=product)  # 2026-04-01
    written_off_on = case.opened_on
    loan_write_off(loan=case.loan, on=written_off_on, reason="charge-off")
    case.refresh_from_db()
    # What the borrower owes: due + accrued − paid (nothing was waived; a write-off releases nothing).
    late = Installment.objects.filter(loan=case.loan, sequence__in=(1, 2)).order_by("sequence")
    owed = [
        sum(getattr(item, f"{part}_amount") - getattr(item, f"{part}_paid_amount") for part in PARTS) for item in late
    ]

    notice, text = issued(case, issued_on=written_off_on + ONE_DAY)

    # On the books the installments owe nothing now; the borrower still owes them.
    assert not Installment.objects.filter(loan=case.loan, outstanding_amount__gt=0).exists()
    assert [Decimal(row["outstanding"]) for row in notice.data["overdue"]] == owed
    assert Decimal(notice.data["total_due"]) == sum(owed) > 0
    assert (notice.data["penalty"]["reason"], notice.data["penalty"]["since"]) == (
        "written_off", (written_off_on + ONE_DAY).isoformat(),
    )  # fmt: skip
    flat = squeezed(text)
    assert f"自{zh_date(written_off_on + ONE_DAY)}起不再计收罚息，因本笔欠款已在我司账务上核销" in flat
    assert "继续计收罚息" not in flat


def test_the_template_version_covers_the_language_s_partials(overdue_case, settings, tmp_path):
    """A notice names the wording it was printed with: the partials are part of it."""
    before = template_version(NoticeKind.COLLECTION_NOTICE, "zh-hans")
    copy = tmp_path / "templates"
    shutil.copytree(Path(settings.BASE_DIR) / "templates" / "notices", copy / "notices")
    (copy / "notices" / "zh-hans" / "_waived.html").write_text("changed", "utf-8")
    settings.BASE_DIR = tmp_path
    template_version.cache_clear()
    try:
        assert template_version(NoticeKind.COLLECTION_NOTICE, "zh-hans") != before
    finally:
        template_version.cache_clear()
