"""Every endpoint: scope (another collector's record answers 404), filters, cursor pages, idempotent
payments, guardrail refusals, notices' PDFs and runs."""

import datetime
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.models import AuditEvent
from creditops.core.dates import business_today
from dunning.models import Callback, ContactAttempt, PromiseToPay
from lending.models import Installment, Payment
from notices.models import Notice
from notices.services.issue import notice_issue
from tests.api.conftest import assert_error
from tests.factories import ASLEEP_HOURS, AWAKE_HOURS, BorrowerFactory, time_zone_where_local_hour_is

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def payment_body(loan, **overrides):
    body = {"loan_reference": loan.reference, "source": "icbc-file", "external_ref": "TX-1", "amount": "300.00",
            "received_on": "2026-03-10", "channel": "bank_transfer"}  # fmt: skip
    return {**body, **overrides}


# --- scope -------------------------------------------------------------------------------------------


def test_a_collector_lists_only_their_own_records(client_for, collector, two_cases):
    mine, _theirs = two_cases
    client = client_for(collector)
    assert ids(client.get("/api/v1/cases/")) == [mine.pk]
    assert ids(client.get("/api/v1/loans/")) == [mine.loan_id]
    assert ids(client.get("/api/v1/borrowers/")) == [mine.borrower_id]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cases/{case}/",
        "/api/v1/cases/{case}/timeline/",
        "/api/v1/loans/{loan}/",
        "/api/v1/borrowers/{borrower}/",
        "/api/v1/payments/{payment}/",
        "/api/v1/contact-attempts/{attempt}/",
        "/api/v1/promises/{promise}/",
        "/api/v1/notices/{notice}/",
        "/api/v1/notices/{notice}/pdf/",
    ],
)
def test_another_collectors_records_answer_404(path, client_for, collector, supervisor, two_cases, media_root):
    _mine, theirs = two_cases
    their = _records_on(theirs, supervisor)
    response = client_for(collector).get(path.format(**their))
    assert_error(response, 404, "not_found")
    assert client_for(supervisor).get(path.format(**their)).status_code == 200


def _records_on(case, supervisor) -> dict:
    """One record of each kind on `case`, made through the services; their ids by name."""
    from dunning.services.cases import contact_attempt_log, promise_record
    from lending.services import payment_post

    payment, _created = payment_post(
        loan=case.loan, source="bank", external_ref=f"P{case.pk}", amount=Decimal("10.00"),
        received_on=datetime.date(2026, 3, 1), channel="bank_transfer",
    )  # fmt: skip
    case.borrower.time_zone = time_zone_where_local_hour_is(AWAKE_HOURS)
    case.borrower.save()
    attempt = contact_attempt_log(case=case, channel="call", outcome="no_answer", actor=supervisor)
    promise = promise_record(
        case=case, amount=Decimal("50.00"), promised_for=business_today() + datetime.timedelta(days=3), actor=supervisor
    )
    notice = notice_issue(case=case, kind="collection_notice", actor=supervisor, queue_email=False)
    return {"case": case.pk, "loan": case.loan_id, "borrower": case.borrower_id, "payment": payment.pk,
            "attempt": attempt.pk, "promise": promise.pk, "notice": notice.pk}  # fmt: skip


def test_writes_on_another_collectors_case_answer_404_and_record_nothing(client_for, collector, two_cases):
    _mine, theirs = two_cases
    client = client_for(collector, "write")
    response = client.post("/api/v1/contact-attempts/", {"case": theirs.pk, "channel": "call"}, format="json")
    assert_error(response, 404, "not_found")
    promise = {"case": theirs.pk, "amount": "10.00", "promised_for": business_today().isoformat()}
    assert_error(client.post("/api/v1/promises/", promise, format="json"), 404, "not_found")
    assert not ContactAttempt.objects.exists()
    assert not PromiseToPay.objects.exists()


def test_runs_are_for_roles_that_read_them(client_for, collector, supervisor, two_cases):
    assert_error(client_for(collector).get("/api/v1/runs/"), 403, "permission_denied")
    runs = client_for(supervisor).get("/api/v1/runs/").json()["results"]
    assert runs and runs[0]["status"] == "succeeded"
    detail = client_for(supervisor).get(f"/api/v1/runs/{runs[0]['id']}/").json()
    assert detail["as_of"] == runs[0]["as_of"]


# --- filters, ordering, pages -------------------------------------------------------------------------


def test_loans_and_cases_filter_by_bucket_dpd_product_and_borrower(client_for, supervisor, overdue_cases):
    early = overdue_cases(2, days_past_due=20)
    late = overdue_cases(1, days_past_due=45)  # the run for day 45 also ages the first two to 45 days
    client = client_for(supervisor)
    every = {case.loan_id for case in early + late}
    assert set(ids(client.get("/api/v1/loans/", {"bucket": "31-60"}))) == every
    assert ids(client.get("/api/v1/loans/", {"bucket": "1-30"})) == []
    assert set(ids(client.get("/api/v1/loans/", {"dpd_min": 45, "dpd_max": 45}))) == every
    assert ids(client.get("/api/v1/loans/", {"dpd_min": 46})) == []
    assert set(ids(client.get("/api/v1/loans/", {"product": "CN12"}))) == every
    assert ids(client.get("/api/v1/loans/", {"product": "NOPE"})) == []
    assert ids(client.get("/api/v1/cases/", {"borrower": late[0].borrower_id})) == [late[0].pk]
    assert set(ids(client.get("/api/v1/cases/", {"bucket": "31-60", "is_open": "true"}))) == {
        case.pk for case in early + late
    }
    assert ids(client.get("/api/v1/cases/", {"opened_from": "2099-01-01"})) == []


@pytest.mark.parametrize(
    "query, field",
    [
        ({"dpd_min": "many"}, "dpd_min"),
        ({"dpd_min": -1}, "dpd_min"),
        ({"borrower": "99999999999999999999999"}, "borrower"),
        ({"bucket": "7-8"}, "bucket"),
        ({"opened_from": "2026-13-01"}, "opened_from"),
        ({"product": "CN\x0012"}, "product"),
    ],
)
def test_a_bad_filter_answers_400_naming_it(query, field, client_for, supervisor, two_cases):
    body = assert_error(client_for(supervisor).get("/api/v1/cases/", query), 400, "invalid")
    assert field in body["detail"]


def test_cursor_pages_walk_every_row_once_in_order(client_for, supervisor, overdue_cases):
    overdue_cases(5)
    client = client_for(supervisor)
    seen, url = [], "/api/v1/cases/?page_size=2&ordering=-days_past_due"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(ids(client.get("/api/v1/cases/", {"page_size": 200})))
    assert len(seen) == len(set(seen)) == 5
    newest_first = ids(client.get("/api/v1/cases/", {"page_size": 200}))
    assert newest_first == sorted(newest_first, reverse=True)


# --- payments -----------------------------------------------------------------------------------------


def test_posting_a_payment_is_idempotent_on_source_and_reference(client_for, supervisor, two_cases):
    mine, _theirs = two_cases
    client = client_for(supervisor, "write")
    first = client.post("/api/v1/payments/", payment_body(mine.loan), format="json")
    assert first.status_code == 201
    paid = Installment.objects.filter(loan=mine.loan).aggregate(total=Sum("principal_paid_amount"))

    replay = client.post("/api/v1/payments/", payment_body(mine.loan), format="json")
    assert replay.status_code == 200
    assert replay.json() == first.json()

    for change in ({"amount": "301.00"}, {"received_on": "2026-03-11"}, {"loan_reference": _theirs.loan.reference}):
        body = assert_error(
            client.post("/api/v1/payments/", payment_body(mine.loan, **change), format="json"),
            409,
            "payment.duplicate_conflict",
        )
        assert body["detail"]["payment_id"] == first.json()["id"]
    assert Payment.objects.count() == 1
    assert Installment.objects.filter(loan=mine.loan).aggregate(total=Sum("principal_paid_amount")) == paid
    assert first.json()["amount"] == "300.00" and first.json()["loan_reference"] == mine.loan.reference


@pytest.mark.parametrize(
    "change, field",
    [
        ({"amount": "-5.00"}, "amount"),
        ({"amount": 300}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"amount": "1.005"}, "amount"),
        ({"received_on": "yesterday"}, "received_on"),
        ({"channel": "pigeon"}, "channel"),
        ({"external_ref": ""}, "external_ref"),
        ({"external_ref": " TX-1"}, "external_ref"),
    ],
)
def test_a_bad_payment_answers_400_naming_the_field_and_posts_nothing(change, field, client_for, supervisor, two_cases):
    mine, _theirs = two_cases
    response = client_for(supervisor, "write").post(
        "/api/v1/payments/", payment_body(mine.loan, **change), format="json"
    )
    body = assert_error(response, 400, "invalid")
    assert list(body["detail"]) == [field]
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    "change, code",
    [({"amount": "0"}, "payment.amount_invalid"), ({"loan_reference": "LN-0000-000000"}, "payment.loan_unknown")],
)
def test_a_well_formed_payment_a_rule_refuses_answers_422_and_posts_nothing(
    change, code, client_for, supervisor, two_cases
):
    mine, _theirs = two_cases
    response = client_for(supervisor, "write").post(
        "/api/v1/payments/", payment_body(mine.loan, **change), format="json"
    )
    assert_error(response, 422, code)
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("received_on", "code"), [("0001-01-01", "payment.date_before_loan"), ("9999-12-31", "payment.date_future")]
)
def test_a_payment_dated_outside_the_loans_life_answers_422(received_on, code, client_for, supervisor, two_cases):
    mine, _theirs = two_cases
    response = client_for(supervisor, "write").post(
        "/api/v1/payments/", payment_body(mine.loan, received_on=received_on), format="json"
    )
    assert assert_error(response, 422, code)["detail"]["received_on"] == received_on
    assert not Payment.objects.exists()


def test_a_reversal_dated_before_its_payment_answers_422_and_changes_nothing(client_for, supervisor, two_cases):
    mine, _theirs = two_cases
    client = client_for(supervisor, "write")
    payment = client.post("/api/v1/payments/", payment_body(mine.loan), format="json").json()
    response = client.post(
        f"/api/v1/payments/{payment['id']}/reverse/", {"reason": "recall", "reversed_on": "2026-03-09"}, format="json"
    )
    assert_error(response, 422, "payment.reversal_date_invalid")
    assert Payment.objects.get(pk=payment["id"]).status == Payment.Status.POSTED


def test_reversing_a_payment_once_and_not_twice(client_for, supervisor, two_cases):
    mine, _theirs = two_cases
    client = client_for(supervisor, "write")
    payment = client.post("/api/v1/payments/", payment_body(mine.loan), format="json").json()
    reversed_ = client.post(f"/api/v1/payments/{payment['id']}/reverse/", {"reason": "bank recall"}, format="json")
    assert reversed_.status_code == 200
    assert reversed_.json()["status"] == "reversed" and reversed_.json()["reversal_reason"] == "bank recall"
    again = client.post(f"/api/v1/payments/{payment['id']}/reverse/", {"reason": "again"}, format="json")
    assert_error(again, 409, "payment.already_reversed")
    assert Installment.objects.filter(loan=mine.loan).aggregate(total=Sum("principal_paid_amount"))["total"] == 0


def test_payments_filter_by_date_amount_and_loan(client_for, supervisor, two_cases):
    mine, theirs = two_cases
    client = client_for(supervisor, "write")
    posted = [
        client.post("/api/v1/payments/", payment_body(case.loan, external_ref=ref, amount=amount, received_on=day),
                    format="json").json()["id"]
        for case, ref, amount, day in [(mine, "A", "100.00", "2026-03-01"), (mine, "B", "200.00", "2026-03-05"),
                                       (theirs, "C", "300.00", "2026-03-09")]
    ]  # fmt: skip
    assert ids(client.get("/api/v1/payments/", {"received_from": "2026-03-02"})) == [posted[2], posted[1]]
    assert ids(client.get("/api/v1/payments/", {"amount_min": "150", "amount_max": "250"})) == [posted[1]]
    assert ids(client.get("/api/v1/payments/", {"loan": mine.loan_id, "ordering": "received_on"})) == posted[:2]


# --- contact attempts and promises --------------------------------------------------------------------


def test_a_contact_the_guardrail_refuses_answers_422_with_the_rule_and_stays_recorded(
    client_for, collector, overdue_case
):
    case = overdue_case(20, borrower=BorrowerFactory(time_zone=time_zone_where_local_hour_is(ASLEEP_HOURS)))
    case.assigned_to = collector
    case.save()
    response = client_for(collector, "write").post(
        "/api/v1/contact-attempts/", {"case": case.pk, "channel": "call", "outcome": "reached"}, format="json"
    )
    body = assert_error(response, 422, "contact.quiet_hours")
    attempt = ContactAttempt.objects.get()
    assert attempt.decision == "blocked" and attempt.rule == "contact.quiet_hours"
    assert body["detail"]["contact_attempt_id"] == attempt.pk


def test_an_allowed_contact_is_recorded_with_its_promise(client_for, collector, overdue_case):
    case = overdue_case(20, borrower=BorrowerFactory(time_zone=time_zone_where_local_hour_is(AWAKE_HOURS)))
    case.assigned_to = collector
    case.save()
    pay_by = (business_today() + datetime.timedelta(days=5)).isoformat()
    body = {"case": case.pk, "channel": "call", "outcome": "promise_to_pay", "promise_amount": "500.00",
            "promise_date": pay_by}  # fmt: skip
    response = client_for(collector, "write").post("/api/v1/contact-attempts/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["decision"] == "allowed" and response.json()["actor"] == collector.pk
    promise = PromiseToPay.objects.get(case=case)
    assert (promise.amount, promise.promised_for.isoformat()) == (Decimal("500.00"), pay_by)
    listed = client_for(collector).get("/api/v1/contact-attempts/", {"case": case.pk, "decision": "allowed"})
    assert ids(listed) == [response.json()["id"]]


def test_a_call_back_request_becomes_a_callback_and_needs_its_time(client_for, collector, overdue_case):
    case = overdue_case(20, borrower=BorrowerFactory(time_zone=time_zone_where_local_hour_is(AWAKE_HOURS)))
    case.assigned_to = collector
    case.save()
    api = client_for(collector, "write")
    missing = api.post("/api/v1/contact-attempts/", {"case": case.pk, "channel": "call", "outcome": "call_back"},
                       format="json")  # fmt: skip
    assert_error(missing, 422, "callback.time_missing")  # a rule of the service, as for promises
    when = (timezone.now() + datetime.timedelta(minutes=30)).replace(microsecond=0)
    body = {"case": case.pk, "channel": "call", "outcome": "call_back", "call_back_at": when.isoformat()}
    assert api.post("/api/v1/contact-attempts/", body, format="json").status_code == 201
    assert Callback.objects.get(case=case).due_at == when


def test_a_promise_in_the_past_is_refused_with_its_rule(client_for, collector, two_cases):
    mine, _theirs = two_cases
    client = client_for(collector, "write")
    past = {"case": mine.pk, "amount": "10.00", "promised_for": "2020-01-01"}
    assert_error(client.post("/api/v1/promises/", past, format="json"), 422, "promise.date_past")
    soon = (business_today() + datetime.timedelta(days=2)).isoformat()
    created = client.post("/api/v1/promises/", {**past, "promised_for": soon}, format="json")
    assert created.status_code == 201
    assert ids(client.get("/api/v1/promises/", {"status": "pending"})) == [created.json()["id"]]


def test_a_promise_beyond_what_the_loan_owes_is_refused(client_for, collector, two_cases):
    mine, _theirs = two_cases
    soon = (business_today() + datetime.timedelta(days=2)).isoformat()
    huge = {"case": mine.pk, "amount": "9999999999999999.99", "promised_for": soon}
    body = assert_error(client_for(collector, "write").post("/api/v1/promises/", huge, format="json"), 422,
                        "promise.amount_over_owed")  # fmt: skip
    assert body["detail"]["amount"] == "9999999999999999.99"
    assert not PromiseToPay.objects.exists()


def test_a_manager_reads_every_case_but_cannot_work_one(client_for, two_cases, db):
    from django.contrib.auth.models import Group

    from accounts import roles
    from tests.factories import UserFactory

    manager = UserFactory(username="mgr")
    manager.groups.add(Group.objects.get(name=roles.MANAGER))
    mine, theirs = two_cases
    assert sorted(ids(client_for(manager).get("/api/v1/cases/"))) == sorted([mine.pk, theirs.pk])
    body = {"case": mine.pk, "channel": "call"}
    response = client_for(manager, "write").post("/api/v1/contact-attempts/", body, format="json")
    assert_error(response, 403, "case.forbidden")


# --- notices and timelines -----------------------------------------------------------------------------


def test_a_notice_lists_with_its_metadata_and_its_pdf_downloads_audited(client_for, supervisor, two_cases, media_root):
    mine, _theirs = two_cases
    notice = notice_issue(case=mine, kind="collection_notice", actor=supervisor, queue_email=False)
    client = client_for(supervisor)
    listed = client.get("/api/v1/notices/", {"kind": "collection_notice"}).json()["results"]
    assert [row["reference"] for row in listed] == [notice.reference]
    assert listed[0]["sha256"] == notice.sha256
    pdf = client.get(f"/api/v1/notices/{notice.pk}/pdf/", HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    event = AuditEvent.objects.get(event="notice.downloaded")
    assert event.actor == supervisor and event.detail == {"reference": notice.reference, "via": "api"}
    assert Notice.objects.count() == 1


def test_a_case_timeline_shows_its_events_newest_first(client_for, supervisor, two_cases):
    mine, _theirs = two_cases
    client = client_for(supervisor)
    events = client.get(f"/api/v1/cases/{mine.pk}/timeline/").json()["results"]
    assert events and events[-1]["kind"] == "opened"
    assert [event["id"] for event in events] == sorted((event["id"] for event in events), reverse=True)
    loan = client.get(f"/api/v1/loans/{mine.loan_id}/").json()
    assert len(loan["schedule"]) == 12 and loan["days_past_due"] == mine.days_past_due
    assert Decimal(loan["overdue_amount"]) == mine.loan.overdue_amount > 0


def test_pages_stay_exact_across_more_ties_than_an_offset_cursor_can_step_over(client_for, supervisor, two_cases):
    """1,100 contact attempts at the same instant, ordered by time: the key is (time, id), so every page
    starts exactly after the last row shown (DRF's own cursor steps over ties by an offset capped at 1,000
    and would repeat rows here)."""
    mine, _theirs = two_cases
    at = datetime.datetime(2026, 3, 1, 10, tzinfo=datetime.UTC)
    ContactAttempt.objects.bulk_create(
        ContactAttempt(case=mine, borrower_id=mine.borrower_id, loan_id=mine.loan_id, channel="call",
                       decision="allowed", attempted_at=at)
        for _ in range(1100)
    )  # fmt: skip
    client = client_for(supervisor)
    seen, url = [], "/api/v1/contact-attempts/?ordering=-attempted_at&page_size=200"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 1100
    assert seen == sorted(seen, reverse=True)  # ties broken by id, in the same direction


def test_a_cursor_we_did_not_make_points_at_no_page(client_for, supervisor):
    assert_error(client_for(supervisor).get("/api/v1/cases/", {"cursor": "not-a-cursor"}), 404, "not_found")
    assert_error(client_for(supervisor).get("/api/v1/cases/", {"ordering": "borrower__name"}), 400, "invalid")


@pytest.mark.parametrize("key", ["[Infinity]", "[NaN]", "[1e999]", '{"a": 1}', "[[1]]"])
def test_a_cursor_holding_what_no_page_key_is_answers_404(key, client_for, supervisor):
    import base64

    cursor = base64.urlsafe_b64encode(key.encode()).decode()
    assert_error(client_for(supervisor).get("/api/v1/borrowers/", {"cursor": cursor}), 404, "not_found")
