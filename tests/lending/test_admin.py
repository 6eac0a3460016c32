"""The admin as staff use it: changelists, searches, masked personal data, booking loans and posting
payments through service-backed forms, reversals, what nobody may delete, and roles."""

import datetime
import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import AuditEvent, Team
from accounts.roles import COLLECTOR, SUPERVISOR
from accounts.services import audit_record
from creditops.core.dates import add_months, business_today
from creditops.core.models import ReferenceCounter
from lending.delinquency import delinquency_refresh
from lending.models import Borrower, Installment, Loan, Payment, PaymentAllocation, PenaltyEntry, PenaltyPause
from lending.penalties import penalty_accrue
from lending.refunds import credit_refund_request
from lending.restructuring import loan_restructure
from lending.services import payment_post
from lending.settlements import loan_owed_amount, settlement_agree
from lending.write_off import loan_write_off
from tests.factories import BorrowerFactory, UserFactory, resident_id

D = datetime.date


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def collector_client(client, db):
    user = UserFactory(username="collector1")
    user.groups.add(Group.objects.get(name=COLLECTOR))
    client.force_login(user)
    return client


@pytest.fixture
def loan(make_loan):
    return make_loan()


def _installments(loan):
    return list(
        Installment.objects.filter(loan=loan)
        .order_by("sequence")
        .values_list("sequence", "principal_paid_amount", "interest_paid_amount", "fee_paid_amount")
    )


def _post_payment(loan, **overrides):
    data = {
        "loan": loan,
        "source": "bank-file",
        "external_ref": "TX-1",
        "amount": Decimal("500.00"),
        "received_on": D(2026, 2, 15),
        "channel": Payment.Channel.BANK_TRANSFER,
        "actor": None,
    }
    data.update(overrides)
    return payment_post(**data)[0]


# --- every changelist -----------------------------------------------------------------------------


def _our_models():
    return sorted(
        (model for model in admin.site._registry if model._meta.app_label in {"lending", "accounts", "core"}),
        key=lambda model: model._meta.label,
    )


def test_the_admin_registers_the_ledger_and_accounts_models():
    assert [model._meta.label for model in _our_models()] == [
        "accounts.AuditEvent",
        "accounts.Team",
        "accounts.User",
        "core.ReferenceCounter",
        "lending.Borrower",
        "lending.BorrowerContact",
        "lending.CreditRefund",
        "lending.Installment",
        "lending.LedgerEntry",
        "lending.Loan",
        "lending.Payment",
        "lending.PaymentAllocation",
        "lending.PenaltyEntry",
        "lending.PenaltyPause",
        "lending.Product",
        "lending.Restructuring",
        "lending.Settlement",
    ]


@pytest.mark.django_db
def test_every_changelist_and_change_page_answers_200_for_a_superuser(admin_client, superuser, loan, make_loan):
    payment = _post_payment(loan)
    delinquency_refresh(as_of=datetime.date(2026, 2, 16))
    penalty_accrue(day=datetime.date(2026, 2, 16))  # the first installment's first day late
    loan_write_off(loan=loan, on=datetime.date(2026, 2, 17))  # a penalty pause
    Team.objects.create(name="East", supervisor=superuser).members.add(superuser)
    contact = loan.borrower.contacts.create(relation="spouse", name="李四", phone="+8613900000001")
    today = business_today()
    settling, restructured, overpaid = (make_loan() for _number in range(3))
    settlement = settlement_agree(loan=settling, agreed_amount="100.00", deadline=today + datetime.timedelta(days=5))
    restructuring = loan_restructure(
        loan=restructured, method="capitalise", term_months=12, first_due_date=add_months(today, 1), reason="x"
    )
    _post_payment(overpaid, amount=loan_owed_amount(overpaid) + 5, external_ref="TX-OVER")
    refund = credit_refund_request(loan=overpaid, amount="5.00", reason="overpaid", actor=superuser)
    instances = {
        "accounts.AuditEvent": AuditEvent.objects.first(),
        "accounts.Team": Team.objects.get(),
        "accounts.User": superuser,
        "core.ReferenceCounter": ReferenceCounter.objects.get(prefix="LN", year=2026),
        "lending.Borrower": loan.borrower,
        "lending.BorrowerContact": contact,
        "lending.Installment": loan.installments.first(),
        "lending.Loan": loan,
        "lending.Payment": payment,
        "lending.PaymentAllocation": payment.allocations.first(),
        "lending.PenaltyEntry": PenaltyEntry.objects.get(loan=loan),
        "lending.PenaltyPause": PenaltyPause.objects.get(loan=loan),
        "lending.Product": loan.product,
        "lending.CreditRefund": refund,
        "lending.LedgerEntry": restructuring.closing_entry,
        "lending.Restructuring": restructuring,
        "lending.Settlement": settlement,
    }
    for model in _our_models():
        opts = model._meta
        changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert changelist.status_code == 200, opts.label
        assert changelist.context["cl"].result_count >= 1, opts.label
        obj = instances[opts.label]
        change = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
        assert change.status_code == 200, opts.label


@pytest.mark.django_db
def test_loan_page_shows_its_schedule_and_payments(admin_client, loan):
    _post_payment(loan, external_ref="TX-SHOWN")
    response = admin_client.get(reverse("admin:lending_loan_change", args=[loan.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert loan.reference in html
    assert "TX-SHOWN" in html
    installments, payments = response.context["inline_admin_formsets"]
    assert [form.original.sequence for form in installments] == list(range(1, 13))
    assert [form.original.external_ref for form in payments] == ["TX-SHOWN"]


# --- searching loans ------------------------------------------------------------------------------


@pytest.fixture
def three_borrowers_with_loans(make_loan):
    borrowers = [
        Borrower.objects.create(
            kind=Borrower.Kind.INDIVIDUAL,
            name=name,
            id_type=Borrower.IdType.RESIDENT_ID,
            id_number=resident_id(7000 + index),
            phone=phone,
        )
        for index, (name, phone) in enumerate(
            [("王小明", "+8613800000001"), ("王大力", "+8613800000002"), ("李小明", "+8613900000003")]
        )
    ]
    loans = [make_loan(borrower=borrower) for borrower in borrowers]
    return borrowers, loans


def _loan_search(client, term):
    response = client.get(reverse("admin:lending_loan_changelist"), {"q": term})
    assert response.status_code == 200
    return sorted(loan.reference for loan in response.context["cl"].result_list)


@pytest.mark.django_db
def test_loan_search(admin_client, three_borrowers_with_loans):
    borrowers, loans = three_borrowers_with_loans
    first, second, third = (loan.reference for loan in loans)
    assert [first, second, third] == ["LN-2026-000001", "LN-2026-000002", "LN-2026-000003"]

    assert _loan_search(admin_client, "LN-2026-000002") == [second]
    assert _loan_search(admin_client, "ln-2026-000002") == [second]  # typed in lower case
    assert _loan_search(admin_client, "LN-2026-000009") == []
    # A mainland mobile typed without +86 is normalised, as is the full form.
    assert _loan_search(admin_client, "13800000001") == [first]
    assert _loan_search(admin_client, "+8613900000003") == [third]
    assert _loan_search(admin_client, " 13800000002 ") == [second]
    assert _loan_search(admin_client, "1380000000") == []  # a partial number matches nothing
    # Exact ID number only.
    assert _loan_search(admin_client, borrowers[2].id_number) == [third]
    assert _loan_search(admin_client, borrowers[0].id_number[:-1]) == []
    # Name prefix, never the middle of a name.
    assert _loan_search(admin_client, "王") == [first, second]
    assert _loan_search(admin_client, "王小") == [first]
    assert _loan_search(admin_client, "小明") == []
    assert _loan_search(admin_client, "") == [first, second, third]


@pytest.mark.django_db
def test_id_number_search_ignores_case(admin_client, make_loan):
    borrower = Borrower.objects.create(
        kind=Borrower.Kind.INDIVIDUAL,
        name="赵一",
        id_type=Borrower.IdType.RESIDENT_ID,
        id_number="11010519491231002X",
        phone="+8613700000007",
    )
    loan = make_loan(borrower=borrower)
    make_loan(borrower=BorrowerFactory(phone="+8613700000008"))
    assert _loan_search(admin_client, "11010519491231002x") == [loan.reference]


@pytest.mark.django_db
def test_loan_search_by_passport_number(admin_client, make_loan):
    """Passports are an ID type of their own (5 to 20 capitals or digits, e.g. E12345678): searching by a
    borrower's ID number must find them too, not only 15-18 character resident IDs and credit codes."""
    foreigner = Borrower.objects.create(
        kind=Borrower.Kind.INDIVIDUAL,
        name="John Smith",
        id_type=Borrower.IdType.PASSPORT,
        id_number="E12345678",
        phone="+12025550123",
    )
    loan = make_loan(borrower=foreigner)
    make_loan(borrower=BorrowerFactory(phone="+8613700000009"))
    assert _loan_search(admin_client, "John") == [loan.reference]  # control: the borrower is searchable
    assert _loan_search(admin_client, "E12345678") == [loan.reference]


@pytest.mark.django_db
def test_payment_search_by_external_ref_or_loan_reference(admin_client, make_loan):
    loan_a, loan_b = make_loan(), make_loan(borrower=BorrowerFactory())
    _post_payment(loan_a, external_ref="A-1")
    _post_payment(loan_a, external_ref="A-2")
    _post_payment(loan_b, external_ref="B-1")

    def search(term):
        response = admin_client.get(reverse("admin:lending_payment_changelist"), {"q": term})
        assert response.status_code == 200
        return sorted(payment.external_ref for payment in response.context["cl"].result_list)

    assert search(loan_a.reference) == ["A-1", "A-2"]
    assert search("B-1") == ["B-1"]
    assert search("B") == []


@pytest.mark.django_db
def test_borrower_autocomplete_uses_the_same_search(admin_client, three_borrowers_with_loans):
    borrowers, _loans = three_borrowers_with_loans
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "lending", "model_name": "loan", "field_name": "borrower", "term": "13800000002"},
    )
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(borrowers[1].pk)]


@pytest.mark.django_db
def test_audit_trail_search_by_exact_subject_or_event(admin_client, make_loan):
    loan_a, loan_b = make_loan(), make_loan(borrower=BorrowerFactory())
    audit_record(actor=None, event="loan.viewed", subject=loan_b)

    def search(term):
        response = admin_client.get(reverse("admin:accounts_auditevent_changelist"), {"q": term})
        assert response.status_code == 200
        return sorted((event.event, event.subject_id) for event in response.context["cl"].result_list)

    assert search(str(loan_a.pk)) == [("loan.created", str(loan_a.pk))]
    assert search("loan.viewed") == [("loan.viewed", str(loan_b.pk))]
    assert search("loan.view") == []  # exact matches only


# --- personal data is masked in lists -------------------------------------------------------------


@pytest.mark.django_db
def test_borrower_list_masks_id_numbers_and_phones(admin_client):
    borrower = Borrower.objects.create(
        kind=Borrower.Kind.INDIVIDUAL,
        name="赵一",
        id_type=Borrower.IdType.RESIDENT_ID,
        id_number="11010519491231002X",
        phone="+8613800138000",
    )
    response = admin_client.get(reverse("admin:lending_borrower_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "赵一" in html
    assert "110***********002X" in html
    assert "+86*******8000" in html
    assert borrower.id_number not in html
    assert "19491231" not in html
    assert borrower.phone not in html
    assert "13800138000" not in html


# --- booking a loan through the admin -------------------------------------------------------------


def _loan_form(for_borrower, of_product, **overrides):
    data = {
        "borrower": for_borrower.pk,
        "product": of_product.pk,
        "principal_amount": "12000.00",
        "term_months": "12",
        "disbursed_on": "2026-03-10",
        "first_due_date": "",
        "_save": "Save",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_add_loan_through_the_admin(admin_client, superuser, borrower, product):
    response = admin_client.post(reverse("admin:lending_loan_add"), _loan_form(borrower, product))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""

    loan = Loan.objects.get()
    assert response["Location"] == reverse("admin:lending_loan_changelist")
    assert re.fullmatch(r"LN-2026-\d{6}", loan.reference)
    assert loan.reference == "LN-2026-000001"
    assert (loan.borrower, loan.product, loan.principal_amount, loan.term_months) == (
        borrower,
        product,
        Decimal("12000.00"),
        12,
    )
    assert (loan.disbursed_on, loan.first_due_date, loan.maturity_date) == (
        D(2026, 3, 10),
        D(2026, 4, 10),
        D(2027, 3, 10),
    )
    assert (loan.currency, loan.annual_interest_rate) == ("CNY", Decimal("0.120000"))
    installments = list(loan.installments.order_by("sequence"))
    assert [item.sequence for item in installments] == list(range(1, 13))
    assert sum(item.principal_amount for item in installments) == Decimal("12000.00")
    assert installments[0].interest_amount == Decimal("120.00")
    event = AuditEvent.objects.get(event="loan.created")
    assert (event.actor, event.subject_type, event.subject_id) == (superuser, "lending.loan", str(loan.pk))


@pytest.mark.django_db
def test_add_loan_names_the_new_loan_in_the_message_and_history(admin_client, borrower, product):
    response = admin_client.post(reverse("admin:lending_loan_add"), _loan_form(borrower, product), follow=True)
    loan = Loan.objects.get()
    messages = [str(message) for message in response.context["messages"]]
    assert len(messages) == 1
    assert loan.reference in messages[0]
    entry = LogEntry.objects.get(object_id=str(loan.pk))
    assert entry.object_repr == loan.reference


@pytest.mark.django_db
def test_add_payment_names_the_new_payment_in_the_message_and_history(admin_client, loan):
    response = admin_client.post(reverse("admin:lending_payment_add"), _payment_form(loan), follow=True)
    payment = Payment.objects.get()
    assert str(payment) == "bank-file:TX-100"
    messages = [str(message) for message in response.context["messages"]]
    assert len(messages) == 1
    assert "bank-file:TX-100" in messages[0]
    assert LogEntry.objects.get(object_id=str(payment.pk)).object_repr == "bank-file:TX-100"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("principal_amount", "0", "The principal must be a positive amount in whole cents."),
        ("principal_amount", "-100.00", "The principal must be a positive amount in whole cents."),
        ("term_months", "0", "The term must be 1 to 360 months."),
        ("term_months", "361", "The term must be 1 to 360 months."),
        ("first_due_date", "2026-03-10", "The first due date must come after disbursement."),
    ],
)
def test_add_loan_refused_by_the_service_shows_a_form_error(admin_client, borrower, product, field, value, message):
    data = _loan_form(borrower, product, **{field: value})
    response = admin_client.post(reverse("admin:lending_loan_add"), data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.non_field_errors() == [message]
    assert message in response.content.decode()
    assert form[field].value() == value  # what the officer typed is kept
    assert Loan.objects.count() == 0
    assert Installment.objects.count() == 0
    assert AuditEvent.objects.count() == 0
    # Nothing was used up either: the next loan still gets number 1.
    ok = admin_client.post(reverse("admin:lending_loan_add"), _loan_form(borrower, product))
    assert ok.status_code == 302
    assert Loan.objects.get().reference == "LN-2026-000001"


@pytest.mark.django_db
def test_add_loan_on_an_inactive_product_is_refused(admin_client, borrower, product):
    product.is_active = False
    product.save()
    response = admin_client.post(reverse("admin:lending_loan_add"), _loan_form(borrower, product))
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == ["Product TERM12 is not active."]
    assert Loan.objects.count() == 0


@pytest.mark.django_db
def test_add_loan_with_missing_fields_shows_field_errors(admin_client, borrower, product):
    response = admin_client.post(
        reverse("admin:lending_loan_add"), _loan_form(borrower, product, principal_amount="", borrower="")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"principal_amount", "borrower"}
    assert Loan.objects.count() == 0


# --- posting payments through the admin -----------------------------------------------------------


def _payment_form(loan, **overrides):
    data = {
        "loan_reference": loan.reference,
        "source": "bank-file",
        "external_ref": "TX-100",
        "amount": "500.00",
        "received_on": "2026-02-15",
        "channel": "bank_transfer",
        "_save": "Save",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("received_on", "message"),
    [
        ("9999-12-31", "The payment's date 9999-12-31 is after today"),
        ("0001-01-01", "The payment's date 0001-01-01 is before the loan was disbursed (2026-01-15)."),
    ],
)
def test_add_payment_outside_the_loans_life_shows_the_rule_and_posts_nothing(admin_client, loan, received_on, message):
    response = admin_client.post(reverse("admin:lending_payment_add"), _payment_form(loan, received_on=received_on))
    assert response.status_code == 200
    assert message in response.context["adminform"].form.non_field_errors()[0]
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_add_payment_posts_and_allocates_it(admin_client, superuser, loan):
    zero = Decimal("0.00")
    assert _installments(loan)[0] == (1, zero, zero, zero)
    response = admin_client.post(
        reverse("admin:lending_payment_add"), _payment_form(loan, loan_reference=loan.reference.lower())
    )
    assert response.status_code == 302

    payment = Payment.objects.get()
    assert (payment.loan, payment.source, payment.external_ref, payment.amount) == (
        loan,
        "bank-file",
        "TX-100",
        Decimal("500.00"),
    )
    assert (payment.received_on, payment.channel, payment.status) == (D(2026, 2, 15), "bank_transfer", "posted")
    assert payment.posted_by == superuser
    # Waterfall: the first installment's 120.00 interest, then 380.00 of its principal.
    installments = _installments(loan)
    assert installments[0] == (1, Decimal("380.00"), Decimal("120.00"), zero)
    assert all(row[1:] == (zero, zero, zero) for row in installments[1:])
    assert sum(allocation.total_amount for allocation in payment.allocations.all()) == Decimal("500.00")
    assert AuditEvent.objects.filter(event="payment.posted", actor=superuser, subject_id=str(payment.pk)).count() == 1


@pytest.mark.django_db
def test_posting_the_same_payment_twice_changes_nothing(admin_client, loan):
    assert admin_client.post(reverse("admin:lending_payment_add"), _payment_form(loan)).status_code == 302
    before = _installments(loan)
    response = admin_client.post(reverse("admin:lending_payment_add"), _payment_form(loan), follow=True)
    assert response.status_code == 200
    messages = [str(message) for message in response.context["messages"]]
    assert "This payment was already posted; nothing changed." in messages
    assert Payment.objects.count() == 1
    assert _installments(loan) == before
    assert AuditEvent.objects.filter(event="payment.posted").count() == 1


@pytest.mark.django_db
def test_same_reference_with_other_details_is_refused_and_keeps_the_input(admin_client, loan):
    assert admin_client.post(reverse("admin:lending_payment_add"), _payment_form(loan)).status_code == 302
    before = _installments(loan)
    events_before = AuditEvent.objects.count()

    response = admin_client.post(reverse("admin:lending_payment_add"), _payment_form(loan, amount="600.00"))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.non_field_errors() == ["Reference bank-file:TX-100 was already posted with other details."]
    html = response.content.decode()
    assert "already posted with other details" in html
    for name, typed in [
        ("loan_reference", loan.reference),
        ("source", "bank-file"),
        ("external_ref", "TX-100"),
        ("amount", "600.00"),
        ("received_on", "2026-02-15"),
    ]:
        assert form[name].value() == typed
        assert f'value="{typed}"' in html, name
    assert re.search(r'<option value="bank_transfer" selected>', html)
    assert Payment.objects.count() == 1
    assert Payment.objects.get().amount == Decimal("500.00")
    assert _installments(loan) == before
    assert AuditEvent.objects.count() == events_before


@pytest.mark.django_db
def test_unknown_loan_reference_is_a_field_error(admin_client, loan):
    response = admin_client.post(
        reverse("admin:lending_payment_add"), _payment_form(loan, loan_reference="LN-2026-999999")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["loan_reference"] == ["No loan has this reference."]
    assert "__all__" not in errors
    assert Payment.objects.count() == 0


@pytest.mark.django_db
def test_payment_with_a_fraction_of_a_cent_is_refused(admin_client, loan):
    response = admin_client.post(reverse("admin:lending_payment_add"), _payment_form(loan, amount="10.005"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Payment.objects.count() == 0


@pytest.mark.django_db
def test_reverse_payments_action(admin_client, superuser, loan):
    payment = _post_payment(loan)
    assert _installments(loan)[0][1:] == (Decimal("380.00"), Decimal("120.00"), Decimal("0.00"))
    url = reverse("admin:lending_payment_changelist")

    # First the confirmation page asks for a reason; nothing happens yet.
    confirm = admin_client.post(url, {"action": "reverse_payments", "_selected_action": [payment.pk]})
    assert confirm.status_code == 200
    assert "admin/lending/payment/reverse.html" in [template.name for template in confirm.templates]
    assert str(payment) in confirm.content.decode()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.POSTED

    done = admin_client.post(
        url, {"action": "reverse_payments", "_selected_action": [payment.pk], "reason": "bank recalled it"}, follow=True
    )
    assert done.redirect_chain == [(url, 302)]
    assert [str(message) for message in done.context["messages"]] == ["1 payment reversed."]
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REVERSED
    assert payment.reversal_reason == "bank recalled it"
    assert payment.reversed_on is not None
    zero = Decimal("0.00")
    assert all(row[1:] == (zero, zero, zero) for row in _installments(loan))
    assert PaymentAllocation.objects.filter(payment=payment, is_reversal=True).count() == 1
    assert AuditEvent.objects.filter(event="payment.reversed", actor=superuser).count() == 1

    # Reversing it again is refused with a message, and changes nothing.
    again = admin_client.post(
        url, {"action": "reverse_payments", "_selected_action": [payment.pk], "reason": "again"}, follow=True
    )
    messages = [str(message) for message in again.context["messages"]]
    assert "bank-file:TX-1: This payment is already reversed." in messages
    assert "0 payments reversed." in messages
    assert PaymentAllocation.objects.filter(payment=payment, is_reversal=True).count() == 1


# --- what nobody may change or delete -------------------------------------------------------------


@pytest.mark.django_db
def test_ledger_rows_and_audit_events_cannot_be_deleted(admin_client, superuser, loan):
    payment = _post_payment(loan)
    audit_record(actor=superuser, event="x.seen", subject=loan)
    rows = {
        "installment": loan.installments.first(),
        "payment": payment,
        "paymentallocation": payment.allocations.first(),
    }
    for name, obj in rows.items():
        assert admin_client.get(reverse(f"admin:lending_{name}_delete", args=[obj.pk])).status_code == 403, name
        assert admin_client.post(reverse(f"admin:lending_{name}_delete", args=[obj.pk])).status_code == 403, name
        changelist = admin_client.get(reverse(f"admin:lending_{name}_changelist"))
        assert "delete_selected" not in changelist.content.decode(), name
    event = AuditEvent.objects.first()
    assert admin_client.post(reverse("admin:accounts_auditevent_delete", args=[event.pk])).status_code == 403
    audit_list = admin_client.get(reverse("admin:accounts_auditevent_changelist"))
    assert "delete_selected" not in audit_list.content.decode()
    assert audit_list.context["action_form"] is None
    # The bulk action exists where deleting is allowed (teams), so the check above is meaningful.
    Team.objects.create(name="East", supervisor=superuser)
    assert "delete_selected" in admin_client.get(reverse("admin:accounts_team_changelist")).content.decode()
    # Everything is still there.
    assert Installment.objects.count() == 12
    assert Payment.objects.count() == 1
    assert PaymentAllocation.objects.count() == 1
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_audit_events_and_ledger_rows_cannot_be_edited_or_added(admin_client, loan):
    payment = _post_payment(loan)
    event = AuditEvent.objects.get(event="payment.posted")
    change = admin_client.post(reverse("admin:accounts_auditevent_change", args=[event.pk]), {"event": "tampered"})
    assert change.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).event == "payment.posted"
    assert admin_client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    assert admin_client.get(reverse("admin:lending_installment_add")).status_code == 403
    assert admin_client.get(reverse("admin:lending_paymentallocation_add")).status_code == 403
    edit = admin_client.post(
        reverse("admin:lending_payment_change", args=[payment.pk]), {"amount": "1.00", "_save": "Save"}
    )
    assert edit.status_code == 403
    assert Payment.objects.get(pk=payment.pk).amount == Decimal("500.00")


# --- roles ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_collector_sees_no_loan_outside_their_cases_and_cannot_post_payments(collector_client, loan):
    response = collector_client.get(reverse("admin:lending_loan_changelist"))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []  # no case of theirs on this borrower
    assert collector_client.get(reverse("admin:lending_loan_change", args=[loan.pk])).status_code == 404
    assert collector_client.get(reverse("admin:lending_payment_add")).status_code == 403
    assert collector_client.post(reverse("admin:lending_payment_add"), _payment_form(loan)).status_code == 403
    assert collector_client.get(reverse("admin:lending_loan_add")).status_code == 403
    assert Payment.objects.count() == 0
    # No reversal action for a collector, and no audit trail.
    payments = collector_client.get(reverse("admin:lending_payment_changelist"))
    assert payments.status_code == 200
    assert "reverse_payments" not in payments.content.decode()
    assert collector_client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 403


@pytest.mark.django_db
def test_supervisor_posts_and_reverses_payments(client, loan):
    supervisor = UserFactory(username="supervisor1")
    supervisor.groups.add(Group.objects.get(name=SUPERVISOR))
    client.force_login(supervisor)
    assert client.get(reverse("admin:lending_payment_add")).status_code == 200
    assert client.post(reverse("admin:lending_payment_add"), _payment_form(loan)).status_code == 302
    payment = Payment.objects.get()
    assert payment.posted_by == supervisor
    assert "reverse_payments" in client.get(reverse("admin:lending_payment_changelist")).content.decode()
    response = client.post(
        reverse("admin:lending_payment_changelist"),
        {"action": "reverse_payments", "_selected_action": [payment.pk], "reason": "duplicate transfer"},
    )
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REVERSED
    assert client.get(reverse("admin:lending_loan_add")).status_code == 403
    assert client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [("Compliance", 200), ("Administrator", 200), ("Manager", 403)])
def test_only_compliance_and_administrators_read_the_audit_trail(client, role, status):
    user = UserFactory(username=f"{role.lower()}1")
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    audit_record(actor=None, event="x.happened")
    response = client.get(reverse("admin:accounts_auditevent_changelist"))
    assert response.status_code == status
    if status == 200:
        assert [event.event for event in response.context["cl"].result_list] == ["x.happened"]


@pytest.mark.django_db
def test_staff_and_team_lists_show_roles_and_member_counts(admin_client, superuser):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    alice.groups.add(Group.objects.get(name=COLLECTOR), Group.objects.get(name=SUPERVISOR))
    Team.objects.create(name="East", supervisor=alice).members.add(alice, bob)
    Team.objects.create(name="West", supervisor=bob)

    users = admin_client.get(reverse("admin:accounts_user_changelist"))
    user_admin = users.context["cl"].model_admin
    rows = {user.username: user_admin.role_names(user) for user in users.context["cl"].result_list}
    assert rows == {"alice": "Collector, Supervisor", "bob": "", "root": ""}

    teams = admin_client.get(reverse("admin:accounts_team_changelist"))
    team_admin = teams.context["cl"].model_admin
    assert [(team.name, team_admin.member_count(team)) for team in teams.context["cl"].result_list] == [
        ("East", 2),
        ("West", 0),
    ]


def _borrower_form(**overrides):
    data = {
        "kind": "individual",
        "name": "钱七",
        "name_latin": "",
        "legal_representative": "",
        "id_type": "resident_id",
        "id_number": "11010519491231002x",
        "phone": "+8613600000006",
        "email": "",
        "address": "",
        "province": "",
        "city": "",
        "preferred_language": "zh-hans",
        "time_zone": "Asia/Shanghai",
        "risk_grade": "C",
        "credit_limit_amount": "50000.00",
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_add_borrower_through_the_admin_validates_and_audits(admin_client, superuser):
    response = admin_client.post(reverse("admin:lending_borrower_add"), _borrower_form())
    assert response.status_code == 302
    borrower = Borrower.objects.get()
    assert borrower.id_number == "11010519491231002X"  # stored in capitals
    assert borrower.credit_limit_amount == Decimal("50000.00")
    event = AuditEvent.objects.get(event="borrower.created")
    assert (event.actor, event.subject_id) == (superuser, str(borrower.pk))

    wrong = admin_client.post(reverse("admin:lending_borrower_add"), _borrower_form(id_number="110105194912310021"))
    assert wrong.status_code == 200
    assert wrong.context["adminform"].form.errors["id_number"] == ["The resident ID number's check digit is wrong."]
    assert Borrower.objects.count() == 1


# --- Chinese --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_switches_to_chinese_when_the_browser_asks(admin_client):
    response = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hans"' in html
    assert "站点管理" in html  # Django's own admin catalogue


@pytest.mark.django_db
def test_admin_index_in_chinese_names_the_lending_section(admin_client):
    """Needs the project's catalogue: locale/zh_Hans/LC_MESSAGES/django.mo."""
    response = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert "贷款" in response.content.decode()


@pytest.mark.django_db
def test_admin_stays_in_english_when_asked(admin_client):
    response = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert "Site administration" in html
    assert "Lending" in html


def test_opening_a_borrower_form_is_an_audited_reveal_of_personal_data(admin_client, superuser, borrower):
    response = admin_client.get(reverse("admin:lending_borrower_change", args=[borrower.pk]))
    assert response.status_code == 200
    assert borrower.id_number in response.content.decode()
    event = AuditEvent.objects.get(event="personal_data.viewed")
    assert (event.actor, event.subject_type, event.subject_id) == (superuser, "lending.borrower", str(borrower.pk))
    assert event.detail == {"via": "admin"}


def test_a_booked_loan_is_read_only_and_posting_its_form_is_refused(admin_client, loan):
    url = reverse("admin:lending_loan_change", args=[loan.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(url, {"term_months": 24}).status_code == 403
    assert Loan.objects.get(pk=loan.pk).term_months == 12


def test_name_search_ignores_case_and_covers_latin_names(admin_client, make_loan):
    english = make_loan(borrower=BorrowerFactory(name="John Smith"))
    romanised = make_loan(borrower=BorrowerFactory(name="王小明", name_latin="Wang Xiaoming"))
    assert _loan_search(admin_client, "john") == [english.reference]
    assert _loan_search(admin_client, "JOHN SM") == [english.reference]
    assert _loan_search(admin_client, "wang x") == [romanised.reference]
    assert _loan_search(admin_client, "王小") == [romanised.reference]


def test_references_past_999999_are_still_found(admin_client, make_loan):
    loan = make_loan()
    Loan.objects.filter(pk=loan.pk).update(reference="LN-2026-1000001")
    assert _loan_search(admin_client, "ln-2026-1000001") == ["LN-2026-1000001"]


def test_a_refused_borrower_page_reveals_nothing_and_records_no_reveal(client, borrower):
    outsider = UserFactory(username="outsider")  # staff, but no permission on borrowers
    client.force_login(outsider)
    assert client.get(reverse("admin:lending_borrower_change", args=[borrower.pk])).status_code == 403
    assert not AuditEvent.objects.filter(event="personal_data.viewed").exists()


def test_money_columns_show_currency_in_the_installment_list(admin_client, loan):
    page = admin_client.get(reverse("admin:lending_installment_changelist")).content.decode()
    assert "1,066.19 CNY" in page


def test_sorting_a_big_list_by_an_unindexed_column_is_ignored(admin_client, make_loan):
    make_loan(principal_amount=Decimal("5000.00"))
    make_loan(principal_amount=Decimal("9000.00"))
    url = reverse("admin:lending_loan_changelist")
    column = admin_client.get(url).context["cl"].list_display.index("principal_display")
    changelist = admin_client.get(url, {"o": str(column)}).context["cl"]
    assert changelist.get_ordering_field_columns() == {}
    assert [loan.principal_amount for loan in changelist.result_list] == [Decimal("9000.00"), Decimal("5000.00")]


def test_contacts_are_listed_masked_and_found_by_exact_phone(admin_client, borrower):
    borrower.contacts.create(relation="spouse", name="李四", phone="+8613900000001")
    borrower.contacts.create(relation="employer", name="某公司", phone="+8613900000002")
    url = reverse("admin:lending_borrowercontact_changelist")
    page = admin_client.get(url, {"q": "13900000001"})
    assert [contact.name for contact in page.context["cl"].result_list] == ["李四"]
    assert "+8613900000001" not in page.content.decode()
    assert "+86*******0001" in page.content.decode()


def test_sorting_by_the_indexed_reference_is_allowed(admin_client, make_loan):
    first, second = make_loan(), make_loan()
    url = reverse("admin:lending_loan_changelist")
    column = admin_client.get(url).context["cl"].list_display.index("reference")
    changelist = admin_client.get(url, {"o": str(column)}).context["cl"]
    assert changelist.get_ordering_field_columns() == {column: "asc"}
    assert [loan.reference for loan in changelist.result_list] == [first.reference, second.reference]


def test_refusals_and_missing_pages_are_explained_in_the_users_language(collector_client):
    refused = collector_client.get(reverse("admin:lending_payment_add"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert refused.status_code == 403
    assert "无权访问" in refused.content.decode()
    missing = collector_client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 404
    assert "There is no such page or record" in missing.content.decode()
