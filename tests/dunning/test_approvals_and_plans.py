"""Maker-checker approvals and hardship payment plans (dunning/services/approvals.py): who may decide,
what each approval does to the case and the loan, and the system's own requests from the D+90 stage.

A loan booked by `overdue_case` owes 1,066.19 a month; 10 days after the first due date its arrears
(loan.overdue_amount) are exactly 1,066.19, and 95 days after, four instalments: 4,264.76. The case goes
to `collector`, whose supervisor (`supervisor`, Team A) is the one who decides.
"""

import datetime
from decimal import Decimal

import pytest

from accounts import roles
from accounts.models import AuditEvent, Team
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from dunning.models import ApprovalRequest, CaseEvent, CaseStatus, Channel, DunningAction, PaymentPlan, PromiseToPay
from dunning.selectors import approvals_decidable_by
from dunning.services.approvals import approval_decide, approval_request, plan_request
from dunning.services.cases import contact_attempt_log, promise_record
from dunning.services.guardrails import ContactBlockedError
from dunning.services.run import dunning_run
from lending.models import Loan
from lending.services import payment_post
from lending.settlements import loan_owed_amount
from tests.dunning.conftest import FIRST_DUE, staff

pytestmark = pytest.mark.django_db

ARREARS = Decimal("1066.19")
Event = CaseEvent.Kind
Status = ApprovalRequest.Status
# In the borrower's (Shanghai) daytime.
WORKING_HOURS = datetime.datetime(2026, 3, 10, 2, 0, tzinfo=datetime.UTC)


def refusal(function, **kwargs) -> DomainError:
    """Call a service that must refuse; returns the DomainError."""
    with pytest.raises(DomainError) as caught:
        function(**kwargs)
    return caught.value


def in_days(days: int) -> datetime.date:
    return business_today() + datetime.timedelta(days=days)


def two_instalments(first="500.00", second="566.19"):
    return [(in_days(30), first), (in_days(60), second)]


@pytest.fixture
def case(overdue_case, collector):
    case = overdue_case(days_past_due=10)
    assert (case.assigned_to, case.loan.overdue_amount) == (collector, ARREARS)
    return case


@pytest.fixture
def plan(case, collector):
    """A plan the collector asked for: 500.00 in 30 days, 566.19 in 60."""
    return plan_request(case=case, installments=two_instalments(), reason="Lost his job in January", actor=collector)


def decide(approval, actor, approve=True, reason="Checked the file"):
    return approval_decide(approval=approval, approve=approve, reason=reason, actor=actor)


def contact_refused(case, actor) -> str:
    with pytest.raises(ContactBlockedError) as caught:
        contact_attempt_log(case=case, channel=Channel.CALL, outcome="reached", actor=actor, at=WORKING_HOURS)
    return caught.value.code


# ---------------------------------------------------------------------------------------------------------
# Who may decide


def test_supervisors_and_administrators_hold_the_permission_to_decide_and_collectors_do_not(supervisor, collector):
    administrator = staff("admin_group", roles.ADMINISTRATOR)

    assert supervisor.has_perm("dunning.decide_approvalrequest")
    assert administrator.has_perm("dunning.decide_approvalrequest")
    assert not collector.has_perm("dunning.decide_approvalrequest")


def test_a_supervisor_cannot_decide_their_own_request(case, supervisor):
    approval = approval_request(case=case, kind="legal_referral", reason="Refuses to pay", actor=supervisor)

    error = refusal(approval_decide, approval=approval, approve=True, reason="fine by me", actor=supervisor)

    assert error.code == "approval.own_request"
    approval.refresh_from_db()
    case.refresh_from_db()
    assert (approval.status, approval.decided_by, approval.decided_at) == (Status.PENDING, None, None)
    assert (case.status, case.legal_hold) == (CaseStatus.OPEN, False)
    assert not case.events.filter(kind=Event.APPROVAL_DECIDED).exists()
    assert not AuditEvent.objects.filter(event="approval.decided").exists()


def test_a_collector_cannot_decide(case, supervisor, collector, other_collector):
    approval = approval_request(case=case, kind="legal_referral", reason="Refuses to pay", actor=supervisor)

    for user in (collector, other_collector):
        assert refusal(approval_decide, approval=approval, approve=True, reason="ok", actor=user).code == (
            "approval.forbidden"
        )
    assert refusal(approval_decide, approval=approval, approve=True, reason="ok", actor=None).code == (
        "approval.forbidden"
    )
    approval.refresh_from_db()
    assert approval.status == Status.PENDING


def test_a_supervisor_of_another_team_cannot_decide(case, collector):
    outsider = staff("sup_b", roles.SUPERVISOR)
    Team.objects.create(name="Team B", supervisor=outsider)
    approval = approval_request(case=case, kind="legal_referral", reason="Refuses to pay", actor=collector)

    assert refusal(approval_decide, approval=approval, approve=True, reason="ok", actor=outsider).code == (
        "approval.forbidden"
    )


@pytest.mark.parametrize("approve", [True, False])
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_decision_needs_a_reason(case, collector, supervisor, approve, reason):
    approval = approval_request(case=case, kind="legal_referral", reason="Refuses to pay", actor=collector)

    error = refusal(approval_decide, approval=approval, approve=approve, reason=reason, actor=supervisor)

    assert error.code == "approval.reason_missing"
    approval.refresh_from_db()
    assert approval.status == Status.PENDING


def test_a_request_is_decided_only_once(case, collector, supervisor):
    approval = approval_request(case=case, kind="legal_referral", reason="Refuses to pay", actor=collector)
    decide(approval, supervisor, approve=False, reason="Try a plan first")

    error = refusal(approval_decide, approval=approval, approve=True, reason="Changed my mind", actor=supervisor)

    assert error.code == "approval.decided"
    approval.refresh_from_db()
    assert (approval.status, approval.decision_reason) == (Status.REJECTED, "Try a plan first")


def test_approvals_decidable_by_never_lists_the_users_own_requests(overdue_case, collector, supervisor):
    case = overdue_case(days_past_due=95)  # D+90: legal referral and bureau report, requested by the system
    by_the_system = list(case.approvals.all())
    own = approval_request(case=case, kind="settlement_discount", amount="800", reason="Offer", actor=supervisor)
    from_collector = approval_request(case=case, kind="write_off", amount="100", reason="Deceased", actor=collector)

    decidable = set(approvals_decidable_by(supervisor))

    assert own not in decidable
    assert decidable == {from_collector, *by_the_system}
    assert len(by_the_system) == 2
    assert not approvals_decidable_by(collector).exists()
    outsider = staff("sup_b", roles.SUPERVISOR)
    Team.objects.create(name="Team B", supervisor=outsider)
    assert not approvals_decidable_by(outsider).exists()


# ---------------------------------------------------------------------------------------------------------
# Payment plans


def test_a_plan_request_creates_the_plan_and_asks_the_supervisor(case, collector):
    before = CaseEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    late, early = (in_days(45), "566.19"), (in_days(15), "500.00")

    plan = plan_request(case=case, installments=[late, early], reason=" Lost his job ", actor=collector)

    assert (plan.status, plan.total_amount, plan.starts_on) == (PaymentPlan.Status.REQUESTED, ARREARS, business_today())
    assert (plan.reason, plan.requested_by) == ("Lost his job", collector)
    assert list(plan.installments.values_list("sequence", "due_date", "amount")) == [
        (1, in_days(15), Decimal("500.00")),
        (2, in_days(45), Decimal("566.19")),
    ]
    approval = plan.approval
    assert (approval.kind, approval.status, approval.requested_by, approval.amount, approval.case) == (
        ApprovalRequest.Kind.PAYMENT_PLAN,
        Status.PENDING,
        collector,
        ARREARS,
        case,
    )
    assert list(case.events.filter(pk__gt=before).values_list("kind", flat=True)) == [
        Event.PLAN_REQUESTED,
        Event.APPROVAL_REQUESTED,
    ]


@pytest.mark.parametrize(
    ("installments", "reason", "code"),
    [
        (lambda: [(in_days(30), "1066.18")], "hardship", "plan.total_mismatch"),
        (lambda: [(in_days(30), "500.00"), (in_days(60), "566.20")], "hardship", "plan.total_mismatch"),
        (lambda: [(in_days(0), "1066.19")], "hardship", "plan.date_invalid"),
        (lambda: [(in_days(-5), "66.19"), (in_days(30), "1000.00")], "hardship", "plan.date_invalid"),
        (lambda: [(in_days(30), "500.00"), (in_days(30), "566.19")], "hardship", "plan.date_invalid"),
        (lambda: [], "hardship", "plan.installments_invalid"),
        (lambda: [(in_days(day), "44.42") for day in range(1, 26)], "hardship", "plan.installments_invalid"),
        (lambda: [(in_days(30), "1066.19"), (in_days(60), "0")], "hardship", "plan.amount_invalid"),
        (lambda: [(in_days(30), "1166.19"), (in_days(60), "-100")], "hardship", "plan.amount_invalid"),
        (lambda: [(in_days(30), "a lot")], "hardship", "plan.amount_invalid"),
        (lambda: [(in_days(30), "1066.19")], "  ", "plan.reason_missing"),
    ],
)
def test_plan_request_validation(case, collector, installments, reason, code):
    error = refusal(plan_request, case=case, installments=installments(), reason=reason, actor=collector)

    assert error.code == code
    assert not PaymentPlan.objects.exists()
    assert not ApprovalRequest.objects.exists()


def test_a_plan_in_24_instalments_is_accepted(case, collector):
    amounts = ["44.42"] * 23 + ["44.53"]  # 23 × 44.42 + 44.53 = 1,066.19

    plan = plan_request(
        case=case, installments=[(in_days(n), a) for n, a in enumerate(amounts, 1)], reason="x", actor=collector
    )

    assert plan.installments.count() == 24


def test_a_plan_instalment_that_is_nan_is_a_domain_error(case, collector):
    """Bug: Decimal('NaN') passes _money's try block and crashes its `amount <= 0` comparison."""
    installments = [(in_days(30), "NaN"), (in_days(60), "1066.19")]

    assert refusal(plan_request, case=case, installments=installments, reason="x", actor=collector).code == (
        "plan.amount_invalid"
    )


def test_only_one_plan_may_be_live(plan, case, collector):
    error = refusal(plan_request, case=case, installments=two_instalments(), reason="again", actor=collector)

    assert error.code == "plan.already_live"


def test_another_collector_cannot_ask_for_a_plan(case, other_collector):
    error = refusal(plan_request, case=case, installments=two_instalments(), reason="x", actor=other_collector)

    assert error.code == "case.forbidden"


def test_an_approved_plan_performs_and_pauses_the_ladder(plan, case, collector, supervisor):
    approval = decide(plan.approval, supervisor, reason="Income verified")

    plan.refresh_from_db()
    case.refresh_from_db()
    assert (approval.status, approval.decided_by, approval.decision_reason) == (
        Status.APPROVED,
        supervisor,
        "Income verified",
    )
    assert plan.status == PaymentPlan.Status.ACTIVE
    assert (case.status, case.is_paused) == (CaseStatus.HARDSHIP, True)
    assert contact_refused(case, collector) == "contact.hold_payment_plan"
    assert list(
        case.events.filter(kind__in=[Event.PLAN_STARTED, Event.APPROVAL_DECIDED]).values_list("kind", "actor")
    ) == [
        (Event.PLAN_STARTED, supervisor.pk),
        (Event.APPROVAL_DECIDED, supervisor.pk),
    ]
    audit = AuditEvent.objects.get(event="approval.decided")
    assert (audit.actor, audit.detail["approved"], audit.detail["kind"]) == (supervisor, True, "payment_plan")


def test_a_rejected_plan_ends_and_a_new_one_may_be_asked_for(plan, case, collector, supervisor):
    decide(plan.approval, supervisor, approve=False, reason="Income not verified")

    plan.refresh_from_db()
    case.refresh_from_db()
    assert (plan.status, plan.ended_on) == (PaymentPlan.Status.REJECTED, business_today())
    assert case.status == CaseStatus.OPEN
    again = plan_request(case=case, installments=two_instalments(), reason="Payslip attached", actor=collector)
    assert again.status == PaymentPlan.Status.REQUESTED


# ---------------------------------------------------------------------------------------------------------
# Legal referral and write-off


def test_an_approved_legal_referral_puts_the_case_under_legal_hold(case, collector, supervisor):
    approval = approval_request(case=case, kind="legal_referral", reason="Refuses to pay", actor=collector)

    decide(approval, supervisor)

    case.refresh_from_db()
    assert (case.status, case.legal_hold, case.is_open) == (CaseStatus.LEGAL, True, True)
    assert contact_refused(case, collector) == "contact.hold_legal"


def test_a_rejected_legal_referral_changes_nothing_on_the_case(case, collector, supervisor):
    approval = approval_request(case=case, kind="legal_referral", reason="Refuses to pay", actor=collector)

    decide(approval, supervisor, approve=False, reason="Too early")

    case.refresh_from_db()
    assert (case.status, case.legal_hold) == (CaseStatus.OPEN, False)


def test_an_approved_write_off_writes_off_the_loan_and_moves_the_case_to_recovery(case, collector, supervisor):
    approval = approval_request(case=case, kind="write_off", reason="Deceased", actor=collector)
    assert approval.amount == loan_owed_amount(case.loan)

    decide(approval, supervisor, reason="Death certificate on file")

    case.refresh_from_db()
    case.loan.refresh_from_db()
    assert case.loan.status == Loan.Status.WRITTEN_OFF
    assert case.loan.written_off_amount >= ARREARS  # the arrears and everything not yet due
    assert (case.is_open, case.status, case.close_reason) == (True, CaseStatus.RECOVERY, "")
    assert case.actions.get(kind="collector_call").status == DunningAction.Status.PENDING  # still worked
    entry = case.events.filter(kind=Event.LEDGER_ENTRY).get().detail
    assert (entry["kind"], entry["amount"]) == ("write_off", str(case.loan.written_off_amount))
    assert AuditEvent.objects.filter(event="ledger.write_off", actor=supervisor).count() == 1
    assert case.is_paused  # the ladder no longer moves it


def test_a_written_off_case_keeps_its_pending_promise(case, collector, supervisor):
    """A case in recovery goes on being worked: a promise made before the write-off still stands (money
    it brings is a recovery)."""
    promise = promise_record(case=case, amount="300", promised_for=in_days(5), actor=collector)
    approval = approval_request(case=case, kind="write_off", amount="1066.19", reason="Deceased", actor=collector)

    decide(approval, supervisor)

    promise.refresh_from_db()
    assert promise.status == PromiseToPay.Status.PENDING


@pytest.mark.parametrize("amount", [None, "0", "-1", "lots", "NaN", "99999999"])
def test_a_write_off_request_is_for_all_the_loan_owes_whatever_amount_is_given(case, collector, amount):
    """A write-off takes everything off balance: the request records what the loan owes when it is asked
    for (the decider sees the real figure), never a typed amount."""
    approval = approval_request(case=case, kind="write_off", amount=amount, reason="Deceased", actor=collector)

    assert approval.amount == loan_owed_amount(case.loan)
    assert approval.amount > ARREARS  # the arrears and every instalment not yet due


def test_approval_requests_are_validated(case, collector, other_collector):
    def ask(**overrides):
        arguments = {"case": case, "kind": "legal_referral", "reason": "Refuses to pay", "actor": collector}
        return refusal(approval_request, **{**arguments, **overrides}).code

    assert ask(kind="amnesty") == "approval.kind_invalid"
    assert ask(reason="  ") == "approval.reason_missing"
    assert ask(actor=other_collector) == "case.forbidden"
    approval_request(case=case, kind="legal_referral", reason="Refuses to pay", actor=collector)
    assert ask() == "approval.already_pending"


def test_a_write_off_still_pending_when_the_case_is_cured_does_not_write_off_the_loan(case, collector, supervisor):
    """Bug: the nightly run closes a cured case (cancelling its waiting actions) but leaves its approval
    requests pending, and approval_decide does not check that the case is still open, so approving the
    write-off afterwards writes off a loan that has nothing overdue."""
    approval = approval_request(case=case, kind="write_off", amount="1066.19", reason="Unreachable", actor=collector)
    paid_on = FIRST_DUE + datetime.timedelta(days=10)
    payment_post(
        loan=case.loan,
        source="bank",
        external_ref="CURE-1",
        amount=ARREARS,
        received_on=paid_on,
        channel="bank_transfer",
    )
    dunning_run(as_of=paid_on + datetime.timedelta(days=1))
    case.refresh_from_db()
    assert (case.is_open, case.status) == (False, CaseStatus.CURED)

    with pytest.raises(DomainError):
        decide(approval, supervisor)

    case.loan.refresh_from_db()
    assert case.loan.status == Loan.Status.ACTIVE


# ---------------------------------------------------------------------------------------------------------
# The nightly run's own requests (D+90)


def test_the_d90_stage_requests_approvals_that_the_supervisor_can_approve(overdue_case, collector, supervisor):
    case = overdue_case(days_past_due=95)
    approvals = {approval.kind: approval for approval in case.approvals.all()}
    assert set(approvals) == {"legal_referral", "credit_bureau_report"}
    for approval in approvals.values():
        assert (approval.status, approval.requested_by, approval.action.status) == (
            Status.PENDING,
            None,
            DunningAction.Status.AWAITING_APPROVAL,
        )
    assert case.loan.overdue_amount == Decimal("4264.76")

    decide(approvals["legal_referral"], supervisor, reason="Three months of refusals")
    decide(approvals["credit_bureau_report"], supervisor, approve=False, reason="Dispute history, hold it")

    legal, bureau = (
        ApprovalRequest.objects.get(pk=approvals[kind].pk) for kind in ("legal_referral", "credit_bureau_report")
    )
    assert (legal.status, legal.decided_by) == (Status.APPROVED, supervisor)
    # Approved, the legal referral waits for its notice (issued by the notices batch, tests/notices).
    assert (legal.action.status, legal.action.result) == (DunningAction.Status.PENDING, "approved")
    assert (bureau.status, bureau.action.status, bureau.action.result) == (
        Status.REJECTED,
        DunningAction.Status.REJECTED,
        "rejected",
    )
    case.refresh_from_db()
    assert (case.status, case.legal_hold) == (CaseStatus.LEGAL, True)
    assert contact_refused(case, collector) == "contact.hold_legal"
