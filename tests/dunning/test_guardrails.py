"""The compliance guardrail (dunning/services/guardrails.py) at its boundaries, through contact_decide (the
pure check) and contact_attempt_log (check and record), plus the reminder dispatch that passes it.

Hours and days are the borrower's: the server runs on Asia/Shanghai, the borrowers here live in London,
Ürümqi or New York, and the instants are chosen so that judging them in server time would give the
other answer. Profiles come from dunning/defaults.py: CN v1 (2024-01-01) calls/SMS/e-mail/visits
08:00–22:00, 3 calls a day that reach the borrower, third parties only after 3 failed calls in 7 days; CN v2
(2026-02-01) adds at most 6 call attempts a day to one number; US v1 (2021-11-30) calls, SMS, e-mail and
visits 08:00–21:00, 7 call attempts per loan in 7 days, no call within 7 days of a conversation, opt-out
line in e-mail and SMS.
"""

import datetime
from zoneinfo import ZoneInfo

import pytest

from accounts.models import AuditEvent
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from dunning.models import (
    CaseEvent,
    CaseStatus,
    Channel,
    CollectionCase,
    ContactAttempt,
    DunningAction,
    GuardrailProfile,
    GuardrailRule,
    PaymentPlan,
)
from dunning.services.cases import contact_attempt_log, dispute_raise
from dunning.services.dispatch import reminders_dispatch
from dunning.services.guardrails import ContactBlockedError, calls_decide, contact_decide, profile_in_force
from lending.models import BorrowerContact
from tests.factories import BorrowerFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = "Europe/London"
URUMQI = "Asia/Urumqi"
NEW_YORK = "America/New_York"
CN_V2 = "CN v2 (2026-02-01)"  # in force on CN_DAY
US_V1 = "US v1 (2021-11-30)"
# London is on GMT and New York on EDT around these days (no clock change inside any window below).
CN_DAY = datetime.date(2026, 3, 10)
US_DAY = datetime.date(2026, 3, 20)
OPT_OUT_LINE = "Reply STOP to stop receiving these messages."

Outcome = ContactAttempt.Outcome


def local(zone: str, day: datetime.date, hhmm: str) -> datetime.datetime:
    """An aware datetime at hh:mm on `day` in `zone`."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=ZoneInfo(zone))


def london(day, hhmm):
    return local(LONDON, day, hhmm)


def new_york(day, hhmm):
    return local(NEW_YORK, day, hhmm)


def log(case, at, *, channel=Channel.CALL, outcome=Outcome.NO_ANSWER, actor=None, target=None):
    """Log a contact by the case's collector (or `actor`); returns the recorded attempt. A borrower who asks
    to be called back asks for an hour later."""
    return contact_attempt_log(
        case=case,
        channel=channel,
        outcome=outcome,
        actor=actor or case.assigned_to,
        at=at,
        target_contact=target,
        call_back_at=at + datetime.timedelta(hours=1) if outcome == Outcome.CALL_BACK else None,
    )


def refused(case, at, **kwargs) -> ContactBlockedError:
    """Log a contact the guardrail must refuse; returns the refusal."""
    with pytest.raises(ContactBlockedError) as caught:
        log(case, at, **kwargs)
    return caught.value


def decide(case, at, channel=Channel.CALL, target=None):
    return contact_decide(case=case, channel=channel, at=at, target_contact=target)


@pytest.fixture
def cn_case(overdue_case):
    """A CN-product case, assigned to `collector`, of a borrower living in London."""
    return overdue_case(days_past_due=10, borrower=BorrowerFactory(time_zone=LONDON))


@pytest.fixture
def us_case(overdue_case, us_product):
    """A US-product case, assigned to `collector`, of a borrower living in New York."""
    borrower = BorrowerFactory(time_zone=NEW_YORK, preferred_language="en")
    return overdue_case(days_past_due=10, product=us_product, borrower=borrower)


# ---------------------------------------------------------------------------------------------------------
# Contact hours


@pytest.mark.parametrize("zone", [LONDON, URUMQI])
@pytest.mark.parametrize(("hhmm", "allowed"), [("07:59", False), ("08:00", True), ("21:59", True), ("22:00", False)])
def test_cn_contact_hours_are_08_to_22_in_the_borrowers_local_time(overdue_case, zone, hhmm, allowed):
    case = overdue_case(days_past_due=10, borrower=BorrowerFactory(time_zone=zone))

    decision = decide(case, local(zone, CN_DAY, hhmm))

    assert decision.allowed is allowed
    assert decision.rule == ("" if allowed else "contact.quiet_hours")
    assert decision.profile == CN_V2


def test_the_same_instant_is_allowed_for_a_london_borrower_and_blocked_for_a_shanghai_one(overdue_case):
    in_london = overdue_case(days_past_due=10, borrower=BorrowerFactory(time_zone=LONDON))
    in_shanghai = overdue_case(days_past_due=11, borrower=BorrowerFactory(time_zone="Asia/Shanghai"))
    instant = london(CN_DAY, "21:59")  # 05:59 the next morning in Shanghai

    assert decide(in_london, instant).allowed is True
    shanghai_decision = decide(in_shanghai, instant)
    assert (shanghai_decision.allowed, shanghai_decision.rule) == (False, "contact.quiet_hours")
    assert "It is 05:59 where the borrower lives" in shanghai_decision.message
    assert "from 08:00 to 22:00" in shanghai_decision.message


def test_cn_quiet_hours_cover_sms_but_not_letters(cn_case):
    at_night = london(CN_DAY, "22:30")

    assert decide(cn_case, at_night, Channel.SMS).rule == "contact.quiet_hours"
    assert decide(cn_case, at_night, Channel.EMAIL).rule == "contact.quiet_hours"
    letter = decide(cn_case, at_night, Channel.LETTER)
    assert (letter.allowed, letter.rule, letter.requirements) == (True, "", ())


@pytest.mark.parametrize(("hhmm", "allowed"), [("07:59", False), ("08:00", True), ("20:59", True), ("21:00", False)])
def test_us_calls_are_allowed_08_to_21_in_the_borrowers_local_time(us_case, hhmm, allowed):
    decision = decide(us_case, new_york(US_DAY, hhmm))

    assert decision.allowed is allowed
    assert decision.rule == ("" if allowed else "contact.quiet_hours")
    assert decision.profile == US_V1


def test_us_contact_hours_cover_sms_and_email_too(us_case):
    """12 CFR 1006.6(b)(1)(i): no communication at an inconvenient time, whatever the medium."""
    for channel in (Channel.CALL, Channel.SMS, Channel.EMAIL, Channel.VISIT):
        decision = decide(us_case, new_york(US_DAY, "23:30"), channel)
        assert (decision.allowed, decision.rule) == (False, "contact.quiet_hours"), channel
        assert decide(us_case, new_york(US_DAY, "07:59"), channel).rule == "contact.quiet_hours"
    assert "from 08:00 to 21:00" in decide(us_case, new_york(US_DAY, "21:30"), Channel.SMS).message


def test_us_sms_and_email_in_the_hours_must_carry_the_opt_out_line(us_case):
    at = new_york(US_DAY, "20:30")

    for channel in (Channel.SMS, Channel.EMAIL):
        decision = decide(us_case, at, channel)
        assert (decision.allowed, decision.requirements) == (True, ("opt_out",))

    attempt = log(us_case, at, channel=Channel.SMS, outcome=Outcome.SENT)
    assert attempt.decision == ContactAttempt.Decision.ALLOWED
    assert attempt.requirements == ("opt_out",)
    event = CaseEvent.objects.get(case=us_case, kind=CaseEvent.Kind.CONTACT)
    assert event.detail["requirements"] == ["opt_out"]


def test_cn_sms_carries_no_opt_out_requirement(cn_case):
    decision = decide(cn_case, london(CN_DAY, "10:00"), Channel.SMS)

    assert (decision.allowed, decision.requirements) == (True, ())


# ---------------------------------------------------------------------------------------------------------
# CN: connected calls per borrower per day


def test_cn_fourth_connected_call_of_the_day_is_blocked_across_collectors_and_loans(
    overdue_case, collector, other_collector
):
    borrower = BorrowerFactory(time_zone=LONDON)
    first_loan_case = overdue_case(days_past_due=10, borrower=borrower)
    second_loan_case = overdue_case(days_past_due=11, borrower=borrower)
    assert (first_loan_case.assigned_to, second_loan_case.assigned_to) == (collector, other_collector)

    log(first_loan_case, london(CN_DAY, "09:00"), outcome=Outcome.REACHED)
    log(second_loan_case, london(CN_DAY, "10:00"), outcome=Outcome.PROMISE_TO_PAY)
    log(first_loan_case, london(CN_DAY, "10:30"), outcome=Outcome.NO_ANSWER)  # unanswered: not counted
    log(second_loan_case, london(CN_DAY, "10:45"), outcome=Outcome.NO_ANSWER)
    third = log(second_loan_case, london(CN_DAY, "11:00"), outcome=Outcome.CALL_BACK)
    assert third.decision == ContactAttempt.Decision.ALLOWED

    refusal = refused(first_loan_case, london(CN_DAY, "12:00"), outcome=Outcome.REACHED)
    assert refusal.code == "contact.daily_connected_cap"
    assert "already been reached 3 times by phone today" in refusal.message
    # The cap is on calls only, and the next local day starts afresh.
    assert decide(second_loan_case, london(CN_DAY, "12:00"), Channel.SMS).allowed is True
    assert decide(first_loan_case, london(CN_DAY + datetime.timedelta(days=1), "08:00")).allowed is True


def test_calls_to_a_third_party_do_not_use_up_the_borrowers_daily_cap(cn_case):
    """Only calls that reach the borrower count: three calls a consenting relative answered (allowed once
    the borrower could not be reached) leave the borrower's own three."""
    contact = third_party(cn_case)
    for hhmm in ("09:00", "09:10", "09:20"):
        log(cn_case, london(CN_DAY, hhmm), outcome=Outcome.NO_ANSWER)
    for hhmm in ("10:00", "11:00", "12:00"):
        log(cn_case, london(CN_DAY, hhmm), target=contact, outcome=Outcome.THIRD_PARTY_REACHED)

    reached = [log(cn_case, london(CN_DAY, hhmm), outcome=Outcome.REACHED) for hhmm in ("13:00", "14:00", "15:00")]

    assert [attempt.decision for attempt in reached] == ["allowed"] * 3


def test_cn_unanswered_calls_never_reach_the_daily_cap(cn_case):
    for hhmm in ("09:00", "09:10", "09:20", "09:30", "09:40"):
        log(cn_case, london(CN_DAY, hhmm), outcome=Outcome.NO_ANSWER)

    assert decide(cn_case, london(CN_DAY, "10:00")).allowed is True


def test_cn_daily_cap_counts_the_borrowers_local_day_not_the_servers(cn_case):
    yesterday = CN_DAY - datetime.timedelta(days=1)
    evening_calls = [london(yesterday, hhmm) for hhmm in ("21:00", "21:30", "21:59")]
    for at in evening_calls:
        log(cn_case, at, outcome=Outcome.REACHED)
    morning = london(CN_DAY, "08:00")
    # In Shanghai all four instants fall on the same day, so a server-day count would refuse the fourth.
    assert {at.astimezone(SHANGHAI).date() for at in [*evening_calls, morning]} == {CN_DAY}

    attempt = log(cn_case, morning, outcome=Outcome.REACHED)

    assert attempt.decision == ContactAttempt.Decision.ALLOWED
    assert refused(cn_case, london(yesterday, "21:59")).code == "contact.daily_connected_cap"


# ---------------------------------------------------------------------------------------------------------
# CN v2: call attempts per phone number per day (China Banking Association guideline, 2026)


def test_cn_seventh_call_attempt_to_one_number_in_a_day_is_blocked(cn_case):
    own_other_number = BorrowerContact.objects.create(
        borrower=cn_case.borrower, relation=BorrowerContact.Relation.SELF, name="work", phone="+8613700000002"
    )
    for hhmm in ("08:00", "09:00", "10:00", "11:00", "12:00", "13:00"):
        attempt = log(cn_case, london(CN_DAY, hhmm), outcome=Outcome.NO_ANSWER)
        assert (attempt.decision, attempt.phone_number) == ("allowed", cn_case.borrower.phone)

    refusal = refused(cn_case, london(CN_DAY, "14:00"))

    assert refusal.code == "contact.number_daily_cap"
    assert refusal.decision.profile == CN_V2
    assert "This number has already been called 6 times today" in refusal.message
    other = log(cn_case, london(CN_DAY, "14:05"), target=own_other_number)
    assert (other.decision, other.phone_number) == ("allowed", "+8613700000002")
    assert decide(cn_case, london(CN_DAY, "14:10"), Channel.SMS).allowed is True  # a cap on calls
    assert decide(cn_case, london(CN_DAY + datetime.timedelta(days=1), "08:00")).allowed is True


def test_the_per_number_cap_applies_from_the_version_that_introduced_it(cn_case):
    before = datetime.date(2026, 1, 20)  # CN v1 was in force
    for hhmm in ("08:00", "09:00", "10:00", "11:00", "12:00", "13:00"):
        log(cn_case, london(before, hhmm), outcome=Outcome.NO_ANSWER)

    seventh = log(cn_case, london(before, "14:00"), outcome=Outcome.NO_ANSWER)

    assert (seventh.decision, seventh.profile) == ("allowed", "CN v1 (2024-01-01)")


def test_the_per_number_cap_cites_its_source():
    rule = GuardrailRule.objects.get(profile__code="CN", profile__version=2, kind="calls_per_number_per_day")
    assert rule.parameters == {"limit": 6}
    assert "中国银行业协会《金融机构个人消费类贷款催收工作指引（试行）》" in rule.source


# ---------------------------------------------------------------------------------------------------------
# US: call attempts per loan in 7 days, and the 7 days after a conversation


def test_us_eighth_call_attempt_on_a_loan_within_seven_days_is_blocked(us_case):
    for days_back in range(6, -1, -1):  # one unanswered call a day, US_DAY-6 .. US_DAY: seven in all
        attempt = log(us_case, new_york(US_DAY - datetime.timedelta(days=days_back), "10:00"))
        assert attempt.decision == ContactAttempt.Decision.ALLOWED

    refusal = refused(us_case, new_york(US_DAY, "11:00"))

    assert refusal.code == "contact.attempt_cap"
    assert refusal.decision.profile == US_V1
    assert "7 calls about this loan in the last 7 days" in refusal.message


def test_us_an_attempt_seven_local_days_earlier_falls_out_of_the_window(us_case):
    week_ago = new_york(US_DAY - datetime.timedelta(days=7), "20:30")  # already US_DAY-6 in Shanghai
    log(us_case, week_ago)
    for days_back in range(6, 0, -1):
        log(us_case, new_york(US_DAY - datetime.timedelta(days=days_back), "10:00"))
    assert ContactAttempt.objects.filter(loan=us_case.loan, decision="allowed").count() == 7

    seventh_in_window = log(us_case, new_york(US_DAY, "10:00"))

    assert seventh_in_window.decision == ContactAttempt.Decision.ALLOWED
    assert refused(us_case, new_york(US_DAY, "11:00")).code == "contact.attempt_cap"


def test_us_blocked_attempts_do_not_count_towards_the_attempt_cap(us_case):
    for days_back in range(5, -1, -1):
        log(us_case, new_york(US_DAY - datetime.timedelta(days=days_back), "10:00"))
    assert refused(us_case, new_york(US_DAY, "21:00")).code == "contact.quiet_hours"

    assert log(us_case, new_york(US_DAY, "20:00")).decision == ContactAttempt.Decision.ALLOWED


def test_us_no_call_within_seven_days_after_a_conversation_allowed_on_the_eighth_day(us_case):
    log(us_case, new_york(US_DAY, "20:30"), outcome=Outcome.REACHED)  # US_DAY+1 08:30 in Shanghai

    day_7 = US_DAY + datetime.timedelta(days=6)
    refusal = refused(us_case, new_york(day_7, "20:59"))
    assert refusal.code == "contact.after_conversation"
    assert f"spoken to about this loan on {US_DAY}" in refusal.message
    assert decide(us_case, new_york(US_DAY + datetime.timedelta(days=1), "12:00"), Channel.SMS).allowed is True

    day_8 = US_DAY + datetime.timedelta(days=7)
    assert log(us_case, new_york(day_8, "08:00")).decision == ContactAttempt.Decision.ALLOWED


def test_us_an_unanswered_call_is_not_a_conversation(us_case):
    log(us_case, new_york(US_DAY, "10:00"), outcome=Outcome.NO_ANSWER)

    assert decide(us_case, new_york(US_DAY, "11:00")).allowed is True


# ---------------------------------------------------------------------------------------------------------
# Third parties


def third_party(case, *, consent=True, relation=BorrowerContact.Relation.SPOUSE):
    return BorrowerContact.objects.create(
        borrower=case.borrower, relation=relation, name="李四", phone="+8613900000001", consent_to_contact=consent
    )


def test_cn_third_party_without_consent_is_blocked(cn_case):
    contact = third_party(cn_case, consent=False)
    for hhmm in ("09:00", "09:10", "09:20"):
        log(cn_case, london(CN_DAY, hhmm))

    assert decide(cn_case, london(CN_DAY, "10:00"), target=contact).rule == "contact.third_party_no_consent"


def test_cn_third_party_with_consent_is_blocked_while_the_borrower_is_reachable(cn_case):
    contact = third_party(cn_case)

    decision = decide(cn_case, london(CN_DAY, "10:00"), target=contact)
    assert (decision.allowed, decision.rule) == (False, "contact.borrower_reachable")
    assert "(0 so far)" in decision.message

    log(cn_case, london(CN_DAY, "10:00"))
    log(cn_case, london(CN_DAY, "10:10"))
    decision = decide(cn_case, london(CN_DAY, "10:30"), target=contact)
    assert (decision.rule, "(2 so far)" in decision.message) == ("contact.borrower_reachable", True)


def test_cn_third_party_after_three_unanswered_calls_in_seven_days_may_be_called_without_the_debt(cn_case):
    contact = third_party(cn_case)
    log(cn_case, london(CN_DAY - datetime.timedelta(days=6), "09:00"))
    log(cn_case, london(CN_DAY - datetime.timedelta(days=3), "09:00"))
    log(cn_case, london(CN_DAY, "09:00"), outcome=Outcome.WRONG_NUMBER)

    attempt = log(cn_case, london(CN_DAY, "10:00"), target=contact, outcome=Outcome.THIRD_PARTY_REACHED)

    assert attempt.decision == ContactAttempt.Decision.ALLOWED
    assert attempt.target_contact == contact
    assert attempt.requirements == ("no_debt_disclosure",)
    event = CaseEvent.objects.filter(case=cn_case, kind=CaseEvent.Kind.CONTACT).latest("id")
    assert (event.detail["third_party"], event.detail["requirements"]) == (contact.pk, ["no_debt_disclosure"])


def test_cn_failed_calls_older_than_seven_days_do_not_make_the_borrower_unreachable(cn_case):
    contact = third_party(cn_case)
    log(cn_case, london(CN_DAY - datetime.timedelta(days=7), "21:00"))  # 8 local days ago counting today
    log(cn_case, london(CN_DAY - datetime.timedelta(days=1), "09:00"))
    log(cn_case, london(CN_DAY, "09:00"))

    assert decide(cn_case, london(CN_DAY, "10:00"), target=contact).rule == "contact.borrower_reachable"


def test_cn_a_borrower_reached_once_in_seven_days_is_reachable_whatever_the_failed_calls(cn_case):
    contact = third_party(cn_case)
    log(cn_case, london(CN_DAY - datetime.timedelta(days=2), "09:00"), outcome=Outcome.REACHED)
    for hhmm in ("09:00", "09:10", "09:20"):
        log(cn_case, london(CN_DAY, hhmm))

    assert decide(cn_case, london(CN_DAY, "10:00"), target=contact).rule == "contact.borrower_reachable"


def test_a_letter_to_a_third_party_is_blocked_even_when_calling_them_is_allowed(cn_case):
    contact = third_party(cn_case)
    for hhmm in ("09:00", "09:10", "09:20"):
        log(cn_case, london(CN_DAY, hhmm))
    assert decide(cn_case, london(CN_DAY, "10:00"), target=contact).allowed is True

    letter = decide(cn_case, london(CN_DAY, "10:00"), Channel.LETTER, target=contact)

    assert (letter.allowed, letter.rule) == (False, "contact.letter_third_party")


def test_a_contact_of_another_borrower_is_refused(cn_case, overdue_case):
    stranger = third_party(overdue_case(days_past_due=11))

    assert decide(cn_case, london(CN_DAY, "10:00"), target=stranger).rule == "contact.third_party_unknown"


# ---------------------------------------------------------------------------------------------------------
# Holds


BORROWER_HOLDS = [
    ("has_open_dispute", "contact.hold_dispute"),
    ("is_bankrupt", "contact.hold_bankruptcy"),
    ("is_deceased", "contact.hold_deceased"),
    ("cease_communication", "contact.hold_cease_communication"),
    ("do_not_contact", "contact.hold_do_not_contact"),
]
CASE_HOLDS = [({"legal_hold": True}, "contact.hold_legal")]


@pytest.mark.parametrize(("flag", "code"), BORROWER_HOLDS)
@pytest.mark.parametrize("profile", ["CN", "US"])
def test_a_borrower_hold_blocks_every_channel_under_every_profile(request, profile, flag, code):
    case = request.getfixturevalue("cn_case" if profile == "CN" else "us_case")
    at = london(CN_DAY, "10:00") if profile == "CN" else new_york(US_DAY, "10:00")
    assert decide(case, at).allowed is True
    setattr(case.borrower, flag, True)
    case.borrower.save(update_fields=[flag])

    assert refused(case, at).code == code
    for channel in (Channel.SMS, Channel.EMAIL, Channel.LETTER, Channel.VISIT):
        assert decide(case, at, channel).rule == code


@pytest.mark.parametrize(("change", "code"), CASE_HOLDS)
def test_a_case_hold_blocks_contact(cn_case, change, code):
    CollectionCase.objects.filter(pk=cn_case.pk).update(**change)
    cn_case.refresh_from_db()

    assert refused(cn_case, london(CN_DAY, "10:00")).code == code
    assert decide(cn_case, london(CN_DAY, "10:00"), Channel.LETTER).rule == code


def test_a_performing_plan_blocks_contact_whatever_the_status_says(cn_case):
    PaymentPlan.objects.create(
        case=cn_case, status=PaymentPlan.Status.ACTIVE, total_amount=cn_case.overdue_amount,
        starts_on=CN_DAY, reason="Lost job",
    )  # fmt: skip
    assert cn_case.status == CaseStatus.OPEN  # the hold is the plan, not a status someone may overwrite

    assert refused(cn_case, london(CN_DAY, "10:00")).code == "contact.hold_payment_plan"


def test_a_contact_of_another_borrower_is_refused_even_as_their_own_number(cn_case):
    stranger = BorrowerContact.objects.create(
        borrower=BorrowerFactory(), relation=BorrowerContact.Relation.SELF, name="Other", phone="+8613900000001"
    )
    decision = decide(cn_case, london(CN_DAY, "10:00"), target=stranger)
    assert (decision.allowed, decision.rule) == (False, "contact.third_party_unknown")


def test_a_dispute_raised_on_the_case_blocks_contact(cn_case, collector):
    dispute_raise(case=cn_case, reason="The borrower says the loan was repaid in cash.", actor=collector)
    cn_case.refresh_from_db()

    assert refused(cn_case, london(CN_DAY, "10:00")).code == "contact.hold_dispute"


def test_holds_come_before_the_profile_rules(cn_case):
    cn_case.borrower.is_deceased = True
    cn_case.borrower.save(update_fields=["is_deceased"])

    assert decide(cn_case, london(CN_DAY, "23:00")).rule == "contact.hold_deceased"


# ---------------------------------------------------------------------------------------------------------
# A refusal is an error and a record


def test_a_blocked_attempt_raises_and_is_recorded_with_its_rule_timeline_and_audit(cn_case, collector):
    at = london(CN_DAY, "22:00")

    refusal = refused(cn_case, at, outcome=Outcome.REACHED)

    assert isinstance(refusal, DomainError)
    assert refusal.code == "contact.quiet_hours"
    attempt = ContactAttempt.objects.get(case=cn_case)
    assert refusal.attempt == attempt
    assert refusal.detail == {"rule": "contact.quiet_hours", "profile": CN_V2, "contact_attempt_id": attempt.pk}
    assert (attempt.decision, attempt.rule, attempt.profile) == ("blocked", "contact.quiet_hours", CN_V2)
    assert (attempt.channel, attempt.outcome, attempt.actor, attempt.attempted_at) == ("call", "", collector, at)
    event = CaseEvent.objects.get(case=cn_case, kind=CaseEvent.Kind.CONTACT_BLOCKED)
    assert (event.actor, event.detail["attempt"], event.detail["rule"]) == (
        collector,
        attempt.pk,
        "contact.quiet_hours",
    )
    audit = AuditEvent.objects.get(event="contact.blocked")
    assert (audit.actor, audit.subject_type, audit.subject_id) == (collector, "dunning.contactattempt", str(attempt.pk))
    cn_case.refresh_from_db()
    assert cn_case.last_contact_at is None
    assert not CaseEvent.objects.filter(case=cn_case, kind=CaseEvent.Kind.CONTACT).exists()


def test_an_allowed_attempt_is_recorded_with_its_profile_and_updates_the_last_contact(cn_case, collector):
    at = london(CN_DAY, "08:00")

    attempt = log(cn_case, at, outcome=Outcome.REACHED)

    assert (attempt.decision, attempt.rule, attempt.profile, attempt.outcome) == ("allowed", "", CN_V2, "reached")
    cn_case.refresh_from_db()
    assert cn_case.last_contact_at == at
    assert not AuditEvent.objects.filter(event="contact.blocked").exists()


# ---------------------------------------------------------------------------------------------------------
# Profile versions


@pytest.fixture
def cn_next():
    """The next CN version, in force 30 days from today: contact only until 20:00."""
    profile = GuardrailProfile.objects.create(
        code="CN", version=3, name="CN stricter evenings", effective_from=business_today() + datetime.timedelta(30)
    )
    GuardrailRule.objects.create(
        profile=profile,
        kind=GuardrailRule.Kind.CONTACT_HOURS,
        channels=["call", "sms", "email", "visit"],
        parameters={"start": "08:00", "end": "20:00"},
        source="test",
    )
    return profile


def test_a_new_profile_version_applies_from_its_effective_date_in_the_borrowers_local_calendar(cn_case, cn_next):
    effective = cn_next.effective_from
    eve = effective - datetime.timedelta(days=1)
    # 20:30 on the eve in London is already the effective date in Shanghai.
    assert london(eve, "20:30").astimezone(SHANGHAI).date() == effective

    before = decide(cn_case, london(eve, "20:30"))
    assert (before.allowed, before.profile) == (True, CN_V2)

    after = decide(cn_case, london(effective, "20:30"))
    assert (after.allowed, after.rule, after.profile) == (False, "contact.quiet_hours", f"CN v3 ({effective})")
    assert "from 08:00 to 20:00" in after.message

    attempt = log(cn_case, london(effective, "19:59"))
    assert attempt.profile == f"CN v3 ({effective})"


def test_profile_in_force_picks_the_latest_version_not_after_the_date(cn_next):
    effective = cn_next.effective_from

    assert profile_in_force("CN", effective - datetime.timedelta(days=1)).version == 2
    assert profile_in_force("CN", datetime.date(2026, 1, 31)).version == 1
    assert profile_in_force("CN", effective).version == 3
    assert profile_in_force("CN", effective + datetime.timedelta(days=400)).version == 3
    with pytest.raises(DomainError) as caught:
        profile_in_force("CN", datetime.date(2023, 12, 31))
    assert caught.value.code == "contact.no_profile"


# ---------------------------------------------------------------------------------------------------------
# Reminders dispatched through the guardrail


def sms_reminder(case) -> DunningAction:
    return DunningAction.objects.get(case=case, kind="sms_reminder")


def test_reminders_dispatch_puts_the_opt_out_line_in_a_us_sms(
    overdue_case, us_product, sms_outbox, django_capture_on_commit_callbacks
):
    borrower = BorrowerFactory(time_zone=NEW_YORK, preferred_language="en")
    case = overdue_case(days_past_due=1, product=us_product, borrower=borrower)
    assert sms_reminder(case).status == DunningAction.Status.PENDING

    with django_capture_on_commit_callbacks(execute=True):
        late = reminders_dispatch(now=new_york(US_DAY, "21:30"))  # Regulation F's hours hold for SMS too
        counts = reminders_dispatch(now=new_york(US_DAY + datetime.timedelta(days=1), "08:30"))

    assert late == {"sent": 0, "deferred": 1, "blocked": 0, "no_address": 0, "cancelled": 0}
    assert counts == {"sent": 1, "deferred": 0, "blocked": 0, "no_address": 0, "cancelled": 0}
    assert len(sms_outbox) == 1
    assert sms_outbox[0].phone == borrower.phone
    assert f"loan {case.loan.reference} is 1 day overdue" in sms_outbox[0].text
    assert sms_outbox[0].text.endswith(" " + OPT_OUT_LINE)
    attempt = ContactAttempt.objects.get(case=case, decision="allowed")
    assert (attempt.channel, attempt.outcome, attempt.is_automatic) == ("sms", "sent", True)
    action = sms_reminder(case)
    assert (action.status, action.result) == (DunningAction.Status.DONE, f"contact:{attempt.pk}")


def test_reminders_dispatch_sends_a_cn_sms_without_the_opt_out_line(
    overdue_case, sms_outbox, django_capture_on_commit_callbacks
):
    case = overdue_case(days_past_due=1, borrower=BorrowerFactory(time_zone=LONDON))

    with django_capture_on_commit_callbacks(execute=True):
        counts = reminders_dispatch(now=london(CN_DAY, "10:00"))

    assert counts["sent"] == 1
    assert len(sms_outbox) == 1
    assert case.loan.reference in sms_outbox[0].text
    assert OPT_OUT_LINE not in sms_outbox[0].text
    assert "STOP" not in sms_outbox[0].text


def test_reminders_dispatch_defers_a_cn_sms_in_the_borrowers_quiet_hours(
    overdue_case, sms_outbox, django_capture_on_commit_callbacks
):
    case = overdue_case(days_past_due=1, borrower=BorrowerFactory(time_zone=LONDON))

    with django_capture_on_commit_callbacks(execute=True):
        counts = reminders_dispatch(now=london(CN_DAY, "22:30"))  # 06:30 in Shanghai

    assert counts == {"sent": 0, "deferred": 1, "blocked": 0, "no_address": 0, "cancelled": 0}
    assert sms_outbox == []
    assert sms_reminder(case).status == DunningAction.Status.PENDING
    attempt = ContactAttempt.objects.get(case=case)
    assert (attempt.decision, attempt.rule, attempt.is_automatic) == ("blocked", "contact.quiet_hours", True)


# ---------------------------------------------------------------------------------------------------------
# Many decisions at once (the worklist's callbacks)


def test_calls_decided_together_are_the_decisions_made_one_by_one(
    overdue_case, us_product, collector, django_assert_max_num_queries
):
    """calls_decide reads what many decisions share at once; each answer must be contact_decide's."""
    london_borrower = BorrowerFactory(time_zone=LONDON)
    capped = overdue_case(days_past_due=10, borrower=london_borrower)
    for hhmm in ("09:00", "10:00", "11:00"):
        log(capped, london(CN_DAY, hhmm), outcome=Outcome.REACHED)
    free = overdue_case(days_past_due=12, borrower=BorrowerFactory(time_zone=LONDON))
    disputed = overdue_case(days_past_due=13, borrower=BorrowerFactory(time_zone=LONDON))
    dispute_raise(case=disputed, reason="Repaid in cash.", actor=collector)
    planned = overdue_case(days_past_due=14, borrower=BorrowerFactory(time_zone=URUMQI))
    PaymentPlan.objects.create(
        case=planned, status=PaymentPlan.Status.ACTIVE, total_amount=planned.overdue_amount, starts_on=CN_DAY,
        reason="Lost job",
    )  # fmt: skip
    us_borrower = {"time_zone": NEW_YORK, "preferred_language": "en"}
    spoken_to = overdue_case(days_past_due=15, product=us_product, borrower=BorrowerFactory(**us_borrower))
    log(spoken_to, new_york(CN_DAY - datetime.timedelta(days=2), "10:00"), outcome=Outcome.REACHED)
    busy = overdue_case(days_past_due=16, product=us_product, borrower=BorrowerFactory(**us_borrower))
    for days_back, hhmm in [(6, "10:00"), (5, "10:00"), (4, "10:00"), (3, "10:00"), (2, "10:00"), (1, "10:00"),
                            (1, "11:00")]:  # fmt: skip
        log(busy, new_york(CN_DAY - datetime.timedelta(days=days_back), hhmm))
    cases = list(
        CollectionCase.objects.filter(pk__in=[c.pk for c in (capped, free, disputed, planned, spoken_to, busy)])
        .select_related("loan__product", "borrower")
        .order_by("pk")
    )
    noon_in_london = london(CN_DAY, "12:00")  # 08:00 in New York, 20:00 in Ürümqi
    for at in (noon_in_london, london(CN_DAY, "23:30")):
        one_by_one = [contact_decide(case=case, channel=Channel.CALL, at=at) for case in cases]
        # Each profile in force and its rules (CN and US; at 23:30 in London it is already the next day in
        # Ürümqi: a third), the calls, the disputes, the plans.
        with django_assert_max_num_queries(9):
            together = calls_decide(cases, at=at)
        assert together == one_by_one
    rules = {
        case.pk: decision.rule for case, decision in zip(cases, calls_decide(cases, at=noon_in_london), strict=True)
    }
    assert rules == {
        capped.pk: "contact.daily_connected_cap", free.pk: "", disputed.pk: "contact.hold_dispute",
        planned.pk: "contact.hold_payment_plan", spoken_to.pk: "contact.after_conversation",
        busy.pk: "contact.attempt_cap",
    }  # fmt: skip
