"""The ledger's entries in the admin: ledger entries, settlements, restructurings and credit refunds are
read-only lists and pages (nobody adds, changes or deletes them), the loan page shows its new facts and
tables, and a credit balance is refunded through the admin only by a request and another person's
approval (maker-checker), or applied to what the loan owes next — each through its service."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.roles import ADMINISTRATOR, COLLECTOR
from creditops.core.dates import add_months, business_today
from lending.adjustments import waiver_post, waiver_reverse
from lending.models import (
    CreditRefund,
    Installment,
    LedgerEntry,
    LedgerEntryLine,
    Loan,
    Payment,
    PaymentRefund,
    Restructuring,
    Settlement,
)
from lending.restructuring import loan_restructure
from lending.selectors import ledger_mismatches
from lending.settlements import loan_owed_amount, settlement_agree
from lending.write_off import loan_write_off
from tests.factories import BorrowerFactory, UserFactory

from .test_penalty import accrue_through

TODAY = business_today()
ONE_DAY = datetime.timedelta(days=1)
NEW_ADMINS = ["ledgerentry", "settlement", "restructuring", "creditrefund"]


def staff(username, *, role=None, decides_refunds=False):
    user = UserFactory(username=username)
    if role:
        user.groups.add(Group.objects.get(name=role))
    if decides_refunds:
        user.user_permissions.add(Permission.objects.get(codename="decide_creditrefund"))
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def overdue_loans(make_loan, count):
    """`count` loans of 12,000.00 over 12 months, their first three installments overdue, with penalty
    charged for ten days (the nightly accrual, run once for all of them)."""
    first_due = add_months(TODAY, -3) - ONE_DAY * 12
    loans = [
        make_loan(borrower=BorrowerFactory(), disbursed_on=add_months(first_due, -1), first_due_date=first_due)
        for _ in range(count)
    ]
    accrue_through(TODAY - ONE_DAY * 10, first=TODAY - ONE_DAY * 19)
    return [Loan.objects.get(pk=loan.pk) for loan in loans]


def paid_off_with_credit(make_loan, post, credit):
    """A loan paid off today by one payment `credit` beyond all it owed: settled, with that credit."""
    loan = make_loan(borrower=BorrowerFactory())
    post(loan, loan_owed_amount(loan) + Decimal(credit), received_on=TODAY)
    return Loan.objects.get(pk=loan.pk)


@pytest.fixture
def book(make_loan, post):
    """One loan of each kind the new admins show: waived and under an agreed settlement in instalments,
    restructured, written off with a recovery since, and paid off with a credit balance."""
    waived, restructured, written_off = overdue_loans(make_loan, 3)
    waiver = waiver_post(loan=waived, component="penalty", amount="1.00", reason="goodwill", authority="approval 2")
    settlement = settlement_agree(
        loan=waived,
        agreed_amount="5000.00",
        deadline=TODAY + ONE_DAY * 10,
        instalments=[(TODAY + ONE_DAY * 5, "2000.00"), (TODAY + ONE_DAY * 10, "3000.00")],
        authority="approval 1",
    )
    restructuring = loan_restructure(
        loan=restructured, method="capitalise", term_months=12, first_due_date=add_months(TODAY, 1),
        reason="job lost", authority="approval 3",
    )  # fmt: skip
    loan_write_off(loan=written_off, on=TODAY - ONE_DAY * 10, reason="uncollectable", authority="approval 4")
    post(written_off, "500.00", received_on=TODAY - ONE_DAY * 5)  # a recovery
    credit = paid_off_with_credit(make_loan, post, "80.00")
    refund = CreditRefund.objects.create(loan=credit, amount=Decimal("10.00"), reason="x", requested_by=staff("a"))
    CreditRefund.objects.filter(pk=refund.pk).update(status=CreditRefund.Status.REJECTED)  # not pending
    return {
        "waived": Loan.objects.get(pk=waived.pk),
        "waiver": waiver,
        "settlement": settlement,
        "restructured": Loan.objects.get(pk=restructured.pk),
        "restructuring": restructuring,
        "written_off": Loan.objects.get(pk=written_off.pk),
        "credit": credit,
        "refund": refund,
    }


def changelist(client, name, **params):
    return client.get(reverse(f"admin:lending_{name}_changelist"), params)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


# --- the new read-only admins ---------------------------------------------------------------------


def _instances(book):
    return {
        "ledgerentry": book["waiver"],
        "settlement": book["settlement"],
        "restructuring": book["restructuring"],
        "creditrefund": book["refund"],
    }


@pytest.mark.parametrize("role", [None, ADMINISTRATOR])
def test_the_new_changelists_and_pages_answer_200_with_data(client, superuser, book, role):
    client.force_login(superuser if role is None else staff("administrator", role=role))
    for name, obj in _instances(book).items():
        listing = changelist(client, name)
        assert listing.status_code == 200, name
        assert listing.context["cl"].result_count >= 1, name
        page = client.get(reverse(f"admin:lending_{name}_change", args=[obj.pk]))
        assert page.status_code == 200, name
        assert 'name="_save"' not in page.content.decode(), name  # read-only


def test_the_ledger_entry_page_shows_its_lines_and_money_in_the_one_format(admin_client, book):
    waiver = book["waiver"]
    page = admin_client.get(reverse("admin:lending_ledgerentry_change", args=[waiver.pk]))
    html = page.content.decode()
    assert "goodwill" in html and "approval no. 2" in html
    assert "1.00 CNY" in html
    (lines,) = page.context["inline_admin_formsets"]
    assert [form.original.installment.sequence for form in lines] == [1]
    assert lines.formset.forms[0].instance.penalty_amount == Decimal("1.00")

    listing = changelist(admin_client, "ledgerentry")
    kinds = {entry.kind for entry in listing.context["cl"].result_list}
    assert kinds >= {"waiver", "write_off", "recovery", "restructure"}
    ids = [entry.pk for entry in listing.context["cl"].result_list]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert "date_hierarchy" not in listing.content.decode()


def test_new_lists_filter_by_kind_or_status_and_find_a_loan_by_reference(admin_client, book):
    waivers = changelist(admin_client, "ledgerentry", kind="waiver").context["cl"].result_list
    assert [entry.pk for entry in waivers] == [book["waiver"].pk]
    written_off = book["written_off"]
    found = changelist(admin_client, "ledgerentry", q=written_off.reference.lower()).context["cl"].result_list
    assert {entry.kind for entry in found} == {"write_off", "recovery"}
    assert {entry.loan_id for entry in found} == {written_off.pk}
    assert list(changelist(admin_client, "ledgerentry", q="LN-2099-000001").context["cl"].result_list) == []

    active = changelist(admin_client, "settlement", status="active").context["cl"].result_list
    assert [settlement.pk for settlement in active] == [book["settlement"].pk]
    assert list(changelist(admin_client, "settlement", status="lapsed").context["cl"].result_list) == []
    capitalised = changelist(admin_client, "restructuring", method="capitalise").context["cl"].result_list
    assert [item.pk for item in capitalised] == [book["restructuring"].pk]
    rejected = changelist(admin_client, "creditrefund", status="rejected").context["cl"].result_list
    assert [refund.pk for refund in rejected] == [book["refund"].pk]


def test_the_settlement_page_shows_its_instalments_and_what_was_paid(admin_client, book):
    settlement = book["settlement"]
    page = admin_client.get(reverse("admin:lending_settlement_change", args=[settlement.pk]))
    html = page.content.decode()
    assert "5,000.00 CNY" in html
    assert "2,000.00 CNY" in html and "3,000.00 CNY" in html
    (instalments,) = page.context["inline_admin_formsets"]
    assert [form.original.amount for form in instalments] == [Decimal("2000.00"), Decimal("3000.00")]


def test_nobody_adds_changes_or_deletes_the_new_records(admin_client, book):
    for name, obj in _instances(book).items():
        assert admin_client.get(reverse(f"admin:lending_{name}_add")).status_code == 403, name
        assert admin_client.post(reverse(f"admin:lending_{name}_add"), {}).status_code == 403, name
        assert admin_client.get(reverse(f"admin:lending_{name}_delete", args=[obj.pk])).status_code == 403, name
        assert admin_client.post(reverse(f"admin:lending_{name}_delete", args=[obj.pk])).status_code == 403, name
        assert admin_client.post(reverse(f"admin:lending_{name}_change", args=[obj.pk]), {}).status_code == 403, name
        listing = changelist(admin_client, name).content.decode()
        assert "delete_selected" not in listing, name
        assert reverse(f"admin:lending_{name}_add") not in listing, name
    assert LedgerEntry.objects.filter(pk=book["waiver"].pk).exists()
    assert LedgerEntryLine.objects.filter(entry=book["waiver"]).count() == 1
    assert Settlement.objects.count() == 1 and Restructuring.objects.count() == 1
    assert CreditRefund.objects.count() == 1


def test_a_collector_sees_only_the_entries_of_their_cases_borrowers(client, book):
    client.force_login(staff("collector1", role=COLLECTOR))
    for name, obj in _instances(book).items():
        listing = changelist(client, name)
        assert listing.status_code == 200, name
        assert list(listing.context["cl"].result_list) == [], name  # no case of theirs
        assert client.get(reverse(f"admin:lending_{name}_change", args=[obj.pk])).status_code == 404, name


# --- the loan page ----------------------------------------------------------------------------------


def test_the_loan_page_shows_the_new_facts_and_the_ledger_tables(admin_client, book):
    waived = book["waived"]
    page = admin_client.get(reverse("admin:lending_loan_change", args=[waived.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    # Its ledger entries, newest first, with the waiver and its authority; the settlement and its instalments.
    assert reverse("admin:lending_ledgerentry_change", args=[book["waiver"].pk]) in html
    assert "Waiver" in html and "goodwill" in html and "approval no. 2" in html
    assert reverse("admin:lending_settlement_change", args=[book["settlement"].pk]) in html
    assert "Agreed, waiting for payment" in html
    assert "5,000.00 CNY" in html and "2,000.00 CNY" in html
    assert "Never restructured." in html and "Never written off." in html
    # The schedule shows the adjusted amounts per part and the day each installment counts as due.
    installments, _payments = page.context["inline_admin_formsets"]
    first = installments.formset.forms[0].instance
    assert first.penalty_adjusted_amount == Decimal("1.00")
    headers = [str(field["label"]) for field in installments.fields()]
    assert {"counts as due on", "principal adjusted", "interest adjusted", "fees adjusted", "penalty adjusted"} <= (
        set(headers)
    )

    restructured = book["restructured"]
    html = admin_client.get(reverse("admin:lending_loan_change", args=[restructured.pk])).content.decode()
    for label in ["Times restructured", "Last restructured on", "Restructured: watched until", "Arrears capitalised"]:
        assert f"<label>{label}:</label>" in html
    assert restructured.restructure_watch_until.isoformat() in html
    assert reverse("admin:lending_restructuring_change", args=[book["restructuring"].pk]) in html
    assert "Arrears capitalised into the new principal" in html
    assert f"{book['restructuring'].capitalised_amount:,.2f} CNY" in html

    written_off = book["written_off"]
    html = admin_client.get(reverse("admin:lending_loan_change", args=[written_off.pk])).content.decode()
    assert "Written off" in html and "<label>Written off, not recovered:</label>" in html
    assert f"{written_off.written_off_amount:,.2f} CNY" in html  # what stays written off
    assert "500.00 CNY" in html  # recovered since
    assert "Recovery after write-off" in html


def test_the_loan_page_names_the_settled_with_discount_status_and_its_credit(admin_client, make_loan, post):
    (loan,) = overdue_loans(make_loan, 1)
    settlement_agree(loan=loan, agreed_amount="3000.00", deadline=TODAY + ONE_DAY * 5)
    post(loan, "3010.00", received_on=TODAY)  # paid, and 10.00 beyond the agreed amount
    loan.refresh_from_db()
    assert loan.status == Loan.Status.SETTLED_WITH_DISCOUNT
    html = admin_client.get(reverse("admin:lending_loan_change", args=[loan.pk])).content.decode()
    assert "Settled with discount" in html
    assert "Settlement discount" in html and "Paid: loan settled" in html
    listing = changelist(admin_client, "loan", status="settled_discount")
    assert [item.pk for item in listing.context["cl"].result_list] == [loan.pk]
    assert "Settled with discount" in listing.content.decode()  # the status filter offers it


def test_the_loan_list_filters_restructured_loans(admin_client, book):
    def loans(value):
        return sorted(
            item.pk for item in changelist(admin_client, "loan", restructured=value).context["cl"].result_list
        )

    restructured = book["restructured"].pk
    assert loans("yes") == [restructured]
    assert loans("watched") == [restructured]  # restructured today: watched for six months
    assert restructured not in loans("no")
    assert len(loans("no")) == Loan.objects.count() - 1
    Loan.objects.filter(pk=restructured).update(restructure_watch_until=TODAY - ONE_DAY)
    assert loans("watched") == []


# --- credit balances: request, approve by someone else, apply -----------------------------------------


def test_a_refund_is_requested_in_the_admin_and_approved_by_someone_else(client, make_loan, post):
    loan = paid_off_with_credit(make_loan, post, "80.00")
    maker = staff("maker", role=ADMINISTRATOR, decides_refunds=True)
    checker = staff("checker", role=ADMINISTRATOR, decides_refunds=True)
    client.force_login(checker)
    page = client.get(reverse("admin:lending_loan_change", args=[loan.pk])).content.decode()
    request_url = reverse("admin:lending_loan_refund_request", args=[loan.pk])
    assert request_url in page and "Request refund of credit balance" in page

    # The changelist action leads to the same form.
    chosen = client.post(
        reverse("admin:lending_loan_changelist"), {"action": "request_credit_refund", "_selected_action": [loan.pk]}
    )
    assert chosen.status_code == 302 and chosen["Location"] == request_url

    # The maker (who also holds the right to decide) asks for the refund.
    client.force_login(maker)
    form = client.get(request_url)
    assert form.status_code == 200
    assert form.context["form"]["amount"].value() == Decimal("80.00")
    done = client.post(request_url, {"amount": "80.00", "reason": "paid twice"}, follow=True)
    refund = CreditRefund.objects.get()
    assert (refund.status, refund.amount, refund.requested_by) == ("requested", Decimal("80.00"), maker)
    assert done.redirect_chain[-1][0] == reverse("admin:lending_creditrefund_change", args=[refund.pk])
    assert "A refund of 80.00 CNY is requested; someone else must approve it." in messages_of(done)

    decide_url = reverse("admin:lending_creditrefund_decide", args=[refund.pk])
    pending = changelist(client, "creditrefund", status="requested")
    assert [item.pk for item in pending.context["cl"].result_list] == [refund.pk]
    assert decide_url in pending.content.decode()

    # The maker cannot approve their own request: the service refuses, the admin says so, nothing changes.
    own = client.post(decide_url, {"decision": "approve", "reference": "RF-1", "reason": "ok"})
    assert own.status_code == 200
    assert "You cannot decide your own request." in messages_of(own)
    assert "You cannot decide your own request." in own.content.decode()
    refund.refresh_from_db()
    loan.refresh_from_db()
    assert (refund.status, refund.decided_by, refund.reference) == ("requested", None, "")
    assert loan.credit_balance_amount == Decimal("80.00")
    assert not PaymentRefund.objects.exists()
    assert not AuditEvent.objects.filter(event="refund.decided").exists()

    # Someone else approves, with the bank's reference.
    client.force_login(checker)
    page = client.get(reverse("admin:lending_creditrefund_change", args=[refund.pk])).content.decode()
    assert decide_url in page
    approved = client.post(decide_url, {"decision": "approve", "reference": "RF-1", "reason": "checked"}, follow=True)
    assert "Refund approved and recorded as paid." in messages_of(approved)
    refund.refresh_from_db()
    loan.refresh_from_db()
    assert (refund.status, refund.decided_by, refund.reference) == ("paid", checker, "RF-1")
    assert refund.refunded_on == TODAY and refund.decision_reason == "checked"
    assert loan.credit_balance_amount == Decimal("0.00")
    assert Payment.objects.get(loan=loan).refunded_amount == Decimal("80.00")
    assert AuditEvent.objects.filter(event="refund.decided", actor=checker).count() == 1
    assert not any(ledger_mismatches().values())
    # Decided: no second decision.
    again = client.get(decide_url, follow=True)
    assert "This request has already been decided." in messages_of(again)
    twice = client.post(decide_url, {"decision": "reject", "reason": "late"})
    assert "This request has already been decided." in messages_of(twice)
    assert CreditRefund.objects.get().status == "paid"


def test_a_rejected_refund_changes_no_money(client, make_loan, post):
    loan = paid_off_with_credit(make_loan, post, "30.00")
    maker, checker = staff("maker", role=ADMINISTRATOR), staff("checker", role=ADMINISTRATOR, decides_refunds=True)
    client.force_login(maker)
    client.post(reverse("admin:lending_loan_refund_request", args=[loan.pk]), {"amount": "30.00", "reason": "asked"})
    refund = CreditRefund.objects.get()
    client.force_login(checker)
    decide_url = reverse("admin:lending_creditrefund_decide", args=[refund.pk])
    response = client.post(decide_url, {"decision": "reject", "reason": "borrower wants it applied"}, follow=True)
    assert "Refund rejected." in messages_of(response)
    refund.refresh_from_db()
    assert (refund.status, refund.decided_by, refund.decision_reason) == (
        "rejected",
        checker,
        "borrower wants it applied",
    )
    assert Loan.objects.get(pk=loan.pk).credit_balance_amount == Decimal("30.00")


def test_refund_rules_refused_by_the_service_are_shown_and_change_nothing(client, make_loan, post):
    loan = paid_off_with_credit(make_loan, post, "20.00")
    maker, checker = staff("maker", role=ADMINISTRATOR), staff("checker", role=ADMINISTRATOR, decides_refunds=True)
    client.force_login(maker)
    url = reverse("admin:lending_loan_refund_request", args=[loan.pk])
    too_much = client.post(url, {"amount": "20.01", "reason": "asked"})
    assert too_much.status_code == 200
    assert "A refund of 20.01 CNY is more than the loan's credit balance, 20.00 CNY." in messages_of(too_much)
    assert too_much.context["form"]["amount"].value() == "20.01"  # what was typed is kept
    assert not CreditRefund.objects.exists()
    zero = client.post(url, {"amount": "0", "reason": "asked"})
    assert "A refund must be a positive amount in whole cents." in messages_of(zero)
    assert not CreditRefund.objects.exists()

    client.post(url, {"amount": "20.00", "reason": "asked"})
    second = client.post(url, {"amount": "5.00", "reason": "again"})
    assert "A refund of this loan is already waiting for a decision." in messages_of(second)
    refund = CreditRefund.objects.get()

    client.force_login(checker)
    decide_url = reverse("admin:lending_creditrefund_decide", args=[refund.pk])
    no_reference = client.post(decide_url, {"decision": "approve", "reference": "", "reason": "ok"})
    assert any(message.startswith("Give the bank's reference of the refund") for message in messages_of(no_reference))
    refund.refresh_from_db()
    assert refund.status == "requested"
    assert Loan.objects.get(pk=loan.pk).credit_balance_amount == Decimal("20.00")


def test_only_holders_of_the_right_decide_and_nobody_without_it_sees_the_button(client, make_loan, post):
    loan = paid_off_with_credit(make_loan, post, "20.00")
    maker = staff("maker", role=ADMINISTRATOR)
    client.force_login(maker)
    client.post(reverse("admin:lending_loan_refund_request", args=[loan.pk]), {"amount": "20.00", "reason": "asked"})
    refund = CreditRefund.objects.get()
    client.force_login(staff("other", role="Compliance"))  # reads every loan, decides no refund
    decide_url = reverse("admin:lending_creditrefund_decide", args=[refund.pk])
    assert decide_url not in client.get(reverse("admin:lending_creditrefund_change", args=[refund.pk])).content.decode()
    assert client.get(decide_url).status_code == 403
    assert client.post(decide_url, {"decision": "approve", "reference": "RF-9", "reason": "ok"}).status_code == 403
    assert CreditRefund.objects.get().status == "requested"

    manager = staff("manager", role="Manager")  # reads loans, moves no money
    client.force_login(manager)
    page = client.get(reverse("admin:lending_loan_change", args=[loan.pk])).content.decode()
    assert reverse("admin:lending_loan_refund_request", args=[loan.pk]) not in page
    assert client.get(reverse("admin:lending_loan_refund_request", args=[loan.pk])).status_code == 403
    assert "request_credit_refund" not in changelist(client, "loan").content.decode()


def test_applying_a_credit_balance_pays_what_the_loan_owes_again(admin_client, make_loan, post):
    loan = make_loan(borrower=BorrowerFactory())
    waiver = waiver_post(loan=loan, component="interest", amount="10.00", reason="goodwill")
    post(loan, loan_owed_amount(loan) + Decimal("50.00"), received_on=TODAY)
    waiver_reverse(entry=waiver, reason="granted by mistake")  # owes 10.00 again; the credit stays
    loan.refresh_from_db()
    assert (loan.status, loan.credit_balance_amount, loan_owed_amount(loan)) == (
        Loan.Status.ACTIVE, Decimal("50.00"), Decimal("10.00"),
    )  # fmt: skip

    page = admin_client.get(reverse("admin:lending_loan_change", args=[loan.pk])).content.decode()
    apply_url = reverse("admin:lending_loan_apply_credit", args=[loan.pk])
    assert apply_url in page
    confirm = admin_client.get(apply_url)  # asks first; a GET changes nothing
    assert confirm.status_code == 200 and "50.00 CNY" in confirm.content.decode()
    assert Loan.objects.get(pk=loan.pk).credit_balance_amount == Decimal("50.00")

    done = admin_client.post(apply_url, follow=True)
    assert f"{loan.reference}: 10.00 CNY of its credit balance applied to what it owes next." in messages_of(done)
    loan.refresh_from_db()
    assert (loan.status, loan.credit_balance_amount, loan_owed_amount(loan)) == (
        Loan.Status.SETTLED, Decimal("40.00"), Decimal("0.00"),
    )  # fmt: skip
    assert not any(ledger_mismatches().values())

    # The changelist action does the same for the selected loans; with nothing owed it applies nothing.
    listing = reverse("admin:lending_loan_changelist")
    nothing = admin_client.post(listing, {"action": "apply_credit_balance", "_selected_action": [loan.pk]}, follow=True)
    assert "Nothing was applied: no credit balance, or nothing owed." in messages_of(nothing)
    assert Loan.objects.get(pk=loan.pk).credit_balance_amount == Decimal("40.00")


def test_the_refund_action_wants_exactly_one_loan(admin_client, make_loan, post):
    first = paid_off_with_credit(make_loan, post, "5.00")
    second = paid_off_with_credit(make_loan, post, "6.00")
    response = admin_client.post(
        reverse("admin:lending_loan_changelist"),
        {"action": "request_credit_refund", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert "Choose one loan to request a refund for." in messages_of(response)
    assert not CreditRefund.objects.exists()


def test_the_installment_list_and_inline_keep_their_money_format(admin_client, book):
    restructured = book["restructured"]
    closed = Installment.objects.filter(loan=restructured, sequence=1).get()
    assert closed.principal_adjusted_amount > 0  # closed by the restructuring
    page = admin_client.get(reverse("admin:lending_loan_change", args=[restructured.pk])).content.decode()
    assert f"{closed.principal_adjusted_amount:,.2f} CNY" in page


# --- the product ------------------------------------------------------------------------------------


def test_the_product_page_has_the_new_terms_in_their_sections(admin_client, product):
    page = admin_client.get(reverse("admin:lending_product_change", args=[product.pk]))
    assert page.status_code == 200
    sections = {str(fieldset.name): list(fieldset.fields) for fieldset in page.context["adminform"]}
    assert sections["Restructuring"] == ["restructure_limit", "restructure_watch_months"]
    assert sections["Due dates"] == ["business_calendar", "due_on_next_business_day"]
    shown = {name for fields in sections.values() for name in fields}
    editable = {field.name for field in product._meta.concrete_fields if field.editable and not field.primary_key}
    assert shown == editable  # every term is on the page, once

    data = {name: page.context["adminform"].form[name].value() for name in shown}
    data = {name: ("" if value is None else value) for name, value in data.items()}
    for flag in ("penalty_compounds", "penalty_pause_in_plan", "penalty_pause_in_dispute", "is_active"):
        if not data[flag]:
            data.pop(flag)
    data.update(restructure_limit="2", restructure_watch_months="12", business_calendar="US")
    data.update(due_on_next_business_day="on", _save="Save", **_inline_as_shown(page))
    response = admin_client.post(reverse("admin:lending_product_change", args=[product.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    product.refresh_from_db()
    assert (product.restructure_limit, product.restructure_watch_months) == (2, 12)
    assert (product.business_calendar, product.due_on_next_business_day) == ("US", True)


def _inline_as_shown(page):
    """The read-only penalty-terms inline posted back as the page showed it (its management form, its ids)."""
    formset = page.context["inline_admin_formsets"][0].formset
    data = {f"{formset.prefix}-{name}": value for name, value in formset.management_form.initial.items()}
    for form in formset.forms:
        data[form.add_prefix("id")] = form.instance.pk
    return data
