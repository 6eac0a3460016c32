"""What an issued notice prints, read back from the stored PDF with poppler (notices/rendering.py, the
templates under templates/notices/), and the system checks for the Chinese font rendering needs.

A loan booked by `overdue_case` owes 1,066.19 a month from 2026-02-15. Labels translated by the
catalogue are looked up with gettext in the notice's language, so these tests follow the catalogue;
wording written into the templates themselves (the Chinese headings, the page footer) is asserted as is.
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import translation
from django.utils.translation import gettext, ngettext

from creditops.core.errors import DomainError
from creditops.core.masking import mask_id_number
from dunning.models import NoticeKind
from lending.models import BorrowerContact, Installment
from notices import checks
from notices.models import Notice
from notices.rendering import notice_pdf
from notices.services.issue import notice_issue
from tests.factories import BorrowerFactory, EnterpriseFactory, ProductFactory
from tests.notices.conftest import pdf_text, squeezed

pytestmark = pytest.mark.django_db


def issued_text(case, kind=NoticeKind.COLLECTION_NOTICE) -> tuple[Notice, str]:
    """Issue on the case's run date; the notice and its stored PDF's text."""
    notice = notice_issue(case=case, kind=kind, actor=None, issued_on=case.opened_on)
    with notice.pdf.open("rb") as stored:
        return notice, pdf_text(stored.read())


def late_installments(case) -> list[Installment]:
    return list(Installment.objects.filter(loan=case.loan, due_date__lt=case.opened_on).order_by("sequence"))


def line_with(text: str, needle: str) -> str:
    [line] = [line for line in text.splitlines() if needle in line]
    return line


def days_past_due(language: str, days: int) -> str:
    with translation.override(language):
        return ngettext("%(days)s day past due", "%(days)s days past due", days) % {"days": days}


def due_box(language: str, total: str, days: int, pay_by: str) -> str:
    """The boxed line under the overdue table, whitespace removed."""
    with translation.override(language):
        total_due, pay = gettext("Total due"), gettext("Pay by")
    return squeezed(f"{total_due}: {total} CNY · {days_past_due(language, days)} · {pay}: {pay_by}")


def zh_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


# ---------------------------------------------------------------------------------------------------------
# The Chinese collection notice (催缴通知书)


def test_chinese_collection_notice_prints_the_case_the_overdue_rows_and_the_total(overdue_case):
    case = overdue_case(days_past_due=45)  # run on 2026-04-01: the February and March installments are late
    borrower, loan = case.borrower, case.loan

    notice, text = issued_text(case)

    flat = squeezed(text)
    assert "催缴通知书" in flat
    assert notice.reference == "CN-2026-000001"
    assert "CN-2026-000001" in text
    assert f"尊敬的{borrower.name}：" in flat
    assert mask_id_number(borrower.id_number) in text
    assert borrower.id_number not in flat
    assert f"根据贷款{loan.reference}的借款合同" in flat
    late = late_installments(case)
    assert [item.due_date for item in late] == [datetime.date(2026, 2, 15), datetime.date(2026, 3, 15)]
    for item in late:
        row = line_with(text, zh_date(item.due_date))
        assert row.split()[0] == str(item.sequence)
        assert row.split()[-1] == f"{item.outstanding_amount:,.2f}" == "1,066.19"
    total = sum(item.outstanding_amount for item in late)
    assert total == Decimal("2132.38")
    pay_by = zh_date(datetime.date(2026, 4, 8))  # the issue date + 7 days
    assert due_box("zh-hans", f"{total:,.2f}", 45, pay_by) in flat
    assert f"于{pay_by}前足额归还" in flat
    assert zh_date(datetime.date(2026, 4, 1)) in text  # the issue date
    assert notice.page_count == 2
    for page in (1, 2):
        assert f"第 {page} 页，共 2 页" in text
    english = ["Reference", "Issue date", "Total due", "Pay by", "How to pay", "If you disagree", "Page 1 of"]
    assert [label for label in english if label in text] == []  # no label left in English
    assert notice.verification_code in text
    assert "http://127.0.0.1:8000/notices/verify/CN-2026-000001/" in flat


def test_every_figure_on_a_notice_is_as_of_its_stated_date(overdue_case):
    """The case's figures are from the run at D+3 (one installment late); a notice issued on 2026-03-20
    prints the ledger of 2026-03-20 throughout: both late installments and 33 days past due, and says so."""
    case = overdue_case(days_past_due=3)
    assert (case.days_past_due, case.overdue_amount) == (3, Decimal("1066.19"))
    issued_on = datetime.date(2026, 3, 20)

    notice = notice_issue(case=case, kind=NoticeKind.COLLECTION_NOTICE, actor=None, issued_on=issued_on)
    with notice.pdf.open("rb") as stored:
        flat = squeezed(pdf_text(stored.read()))

    assert (notice.data["figures_as_of"], notice.data["days_past_due"]) == ("2026-03-20", 33)
    assert [row["due_date"] for row in notice.data["overdue"]] == ["2026-02-15", "2026-03-15"]
    assert due_box("zh-hans", "2,132.38", 33, zh_date(datetime.date(2026, 3, 27))) in flat
    with translation.override("zh-hans"):
        stated = gettext("All amounts and days past due as of %(day)s.") % {"day": zh_date(issued_on)}
    assert squeezed(stated) in flat


def test_the_totals_printed_are_the_totals_stored(overdue_case):
    notice, text = issued_text(overdue_case(days_past_due=75))  # three installments late on 2026-05-01

    data = notice.data
    assert len(data["overdue"]) == 3
    total_row = line_with(text, f"{Decimal(data['totals']['principal']):,.2f}")
    printed = total_row.split()[-6:]
    columns = ["principal", "interest", "fees", "penalty", "paid", "outstanding"]
    assert printed == [f"{Decimal(data['totals'][column]):,.2f}" for column in columns]
    assert printed[-1] == f"{Decimal(data['total_due']):,.2f}" == "3,198.57"


# ---------------------------------------------------------------------------------------------------------
# An English notice


def test_english_final_demand_prints_english_wording_and_dates(overdue_case):
    borrower = BorrowerFactory(name="Li Wei", preferred_language="en")
    case = overdue_case(days_past_due=70, borrower=borrower)  # run on 2026-04-26

    notice, text = issued_text(case, NoticeKind.FINAL_DEMAND)

    flat = squeezed(text)
    assert notice.language == "en"
    assert "Finaldemandbeforelegalaction" in flat
    assert "Dear Li Wei," in text
    assert "26 April 2026" in text  # issue date
    for day in ("15 February 2026", "15 March 2026", "15 April 2026"):
        assert line_with(text, day).split()[-1] == "1,066.19"
    # 7 days after 26 April is 3 May, in the Labour Day holiday (1–5 May): the next business day.
    assert squeezed("unless the total due below is paid in full by 6 May 2026") in flat
    assert due_box("en", "3,198.57", 70, "6 May 2026") in flat
    assert "70 days past due" in text
    assert "Page 1 of 2" in text
    assert "Page 2 of 2" in text
    assert "第 1 页" not in text
    assert "2026年" not in text


# ---------------------------------------------------------------------------------------------------------
# Enterprises and guarantors


def test_an_enterprise_notice_is_addressed_to_the_company_and_its_legal_representative(overdue_case):
    company = EnterpriseFactory(name="星河科技有限公司", legal_representative="王五", preferred_language="en")

    notice, text = issued_text(overdue_case(days_past_due=70, borrower=company), NoticeKind.FINAL_DEMAND)

    flat = squeezed(text)
    assert notice.data["addressee"]["is_enterprise"] is True
    assert "To (company)" in text
    assert "星河科技有限公司" in line_with(text, "To (company)")
    assert re.search(r"Legal\s+王五\s+representative", text)  # the label wraps around the name
    assert "Dear 王五, on behalf of 星河科技有限公司," in text
    assert mask_id_number(company.id_number) in text
    assert company.id_number not in flat


def test_a_chinese_enterprise_notice_names_the_legal_representative_in_the_salutation(overdue_case):
    company = EnterpriseFactory(name="星河科技有限公司", legal_representative="王五")

    _notice, text = issued_text(overdue_case(days_past_due=15, borrower=company))

    with translation.override("zh-hans"):
        company_label, representative_label = gettext("To (company)"), gettext("Legal representative")
    flat = squeezed(text)
    assert "尊敬的星河科技有限公司（法定代表人：王五）：" in flat
    assert squeezed(f"{company_label}星河科技有限公司") in flat
    assert squeezed(f"{representative_label}王五") in flat


def test_guarantors_are_listed_with_masked_phones_and_other_contacts_are_not(overdue_case):
    borrower = BorrowerFactory()
    BorrowerContact.objects.create(borrower=borrower, relation="guarantor", name="李四", phone="+8613900001234")
    BorrowerContact.objects.create(borrower=borrower, relation="spouse", name="王芳", phone="+8613900005678")

    notice, text = issued_text(overdue_case(days_past_due=15, borrower=borrower))

    assert notice.data["guarantors"] == [{"name": "李四", "phone_masked": "+86*******1234"}]
    assert "李四 (+86*******1234)" in text
    assert "+8613900001234" not in text
    assert "王芳" not in text


# ---------------------------------------------------------------------------------------------------------
# System checks: the Chinese font


def test_font_checks_are_silent_where_the_font_and_harfbuzz_subset_are_installed():
    assert checks.notice_fonts_check(None) == []


def test_without_the_chinese_font_the_check_warns_and_rendering_refuses(overdue_case, monkeypatch):
    notice, _text = issued_text(overdue_case(days_past_due=15))
    monkeypatch.setattr("notices.checks.cjk_font_installed", lambda: False)
    monkeypatch.setattr("notices.rendering.cjk_font_installed", lambda: False)

    messages = checks.notice_fonts_check(None)
    with pytest.raises(DomainError) as caught:
        notice_pdf(notice.data)

    assert [message.id for message in messages] == ["notices.W001"]
    assert caught.value.code == "notice.font_missing"
    assert "Noto Sans CJK SC" in caught.value.message


@pytest.mark.parametrize(
    ("language", "bank", "holder", "product", "foreign"),
    [
        ("zh-hans", "中国工商银行北京朝阳支行", "示例消费金融有限公司", "测试产品", "Industrial"),
        (
            "en",
            "Industrial and Commercial Bank of China",
            "Example Consumer Finance Co., Ltd.",
            "Test product",
            "工商银行",
        ),
    ],
)
def test_a_notice_carries_the_lender_bank_and_product_in_its_own_language(
    overdue_case, language, bank, holder, product, foreign
):
    case = overdue_case(days_past_due=20, borrower=BorrowerFactory(preferred_language=language))
    case.loan.product.name, case.loan.product.name_en = "测试产品", "Test product"
    case.loan.product.save(update_fields=["name", "name_en"])
    _notice, text = issued_text(case)
    flat = squeezed(text)
    assert squeezed(bank) in flat and squeezed(holder) in flat and squeezed(product) in flat
    assert squeezed(foreign) not in flat


# ---------------------------------------------------------------------------------------------------------
# Penalty interest on the notice: the rate and the base in words, and the penalty column from the ledger


@pytest.mark.parametrize(
    ("language", "base", "base_words"),
    [
        ("zh-hans", "principal_interest", "逾期本金和利息"),
        ("en", "principal_interest", "overdue principal and interest"),
        ("en", "principal", "overdue principal"),
    ],
)
def test_a_notice_prints_the_penalty_charged_and_its_base_and_rate_in_words(overdue_case, language, base, base_words):
    product = ProductFactory(code=f"PEN-{base}", penalty_daily_rate=Decimal("0.0005"), penalty_base=base)
    case = overdue_case(days_past_due=3, product=product, borrower=BorrowerFactory(preferred_language=language))
    charged = Installment.objects.get(loan=case.loan, sequence=1).penalty_amount
    # One nightly run (day 3): 0.05 % of February's principal (946.19) or principal and interest (1,066.19).
    assert charged == {"principal": Decimal("0.47"), "principal_interest": Decimal("0.53")}[base]

    notice, text = issued_text(case)

    assert notice.data["loan"]["penalty_base"] == base_words
    flat = squeezed(text)
    assert (
        squeezed(f"0.05% a day on the {base_words}") in flat
        or squeezed(f"{base_words}将按合同约定的日利率 0.05%") in flat
    )
    rows = [line for line in text.splitlines() if "946.19" in line]  # February's row and the total row
    assert len(rows) == 2 and all(f" {charged:.2f} " in row for row in rows)  # their penalty column
