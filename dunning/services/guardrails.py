"""The compliance guardrail: one check that every contact passes before it happens, manual or automatic.

A decision names the rule that decided it (a stable code such as `contact.quiet_hours`) and the profile
version in force. Holds come first and apply under every profile; then the profile's own rules. Days and
hours are judged in the borrower's time zone, whatever the server's is."""

import datetime
import operator
from dataclasses import dataclass, field
from functools import reduce
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from creditops.core.errors import DomainError
from lending.models import BorrowerContact

from ..models import (
    CONVERSATION_OUTCOMES,
    Channel,
    CollectionCase,
    ContactAttempt,
    Dispute,
    GuardrailProfile,
    GuardrailRule,
    PaymentPlan,
)

Rule = GuardrailRule.Kind
Outcome = ContactAttempt.Outcome
# A borrower counts as unreachable after calls that ended like this (and none that reached them).
UNREACHED_OUTCOMES = [Outcome.NO_ANSWER, Outcome.WRONG_NUMBER]


# What each refusal code is called on screens and in reports (the code itself is what is stored).
RULE_LABELS = {
    "contact.no_profile": gettext_lazy("No guardrail profile"),
    "contact.third_party_unknown": gettext_lazy("Not a contact of the borrower"),
    "contact.hold_dispute": gettext_lazy("Hold: open dispute"),
    "contact.hold_bankruptcy": gettext_lazy("Hold: bankruptcy"),
    "contact.hold_deceased": gettext_lazy("Hold: deceased"),
    "contact.hold_cease_communication": gettext_lazy("Hold: cease-communication request"),
    "contact.hold_do_not_contact": gettext_lazy("Hold: do not contact"),
    "contact.hold_payment_plan": gettext_lazy("Hold: performing payment plan"),
    "contact.hold_legal": gettext_lazy("Hold: legal"),
    "contact.letter_third_party": gettext_lazy("Letters go to the borrower only"),
    "contact.quiet_hours": gettext_lazy("Outside contact hours"),
    "contact.daily_connected_cap": gettext_lazy("Daily cap on calls that reached the borrower"),
    "contact.number_daily_cap": gettext_lazy("Daily cap on calls to one number"),
    "contact.attempt_cap": gettext_lazy("Call-attempt cap"),
    "contact.after_conversation": gettext_lazy("Too soon after a conversation"),
    "contact.third_party_no_consent": gettext_lazy("Third party without consent"),
    "contact.borrower_reachable": gettext_lazy("Borrower reachable: no third party"),
}


def rule_label(code: str) -> str:
    return str(RULE_LABELS.get(code, code))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str = ""
    message: str = ""
    profile: str = ""
    # What the contact must carry or avoid when it goes ahead ("opt_out", "no_debt_disclosure").
    requirements: tuple[str, ...] = field(default_factory=tuple)


class ContactBlockedError(DomainError):
    """A guardrail refused a contact; the attempt was still recorded as blocked."""

    def __init__(self, decision: Decision, attempt: ContactAttempt | None = None):
        detail = {"rule": decision.rule, "profile": decision.profile}
        if attempt is not None:
            detail["contact_attempt_id"] = attempt.pk
        super().__init__(decision.message, code=decision.rule, detail=detail)
        self.decision = decision
        self.attempt = attempt


def profile_in_force(code: str, on: datetime.date) -> GuardrailProfile:
    """The version of profile `code` whose effective date is the latest one not after `on`."""
    profile = (
        GuardrailProfile.objects.filter(code=code, effective_from__lte=on)
        .order_by("-effective_from")
        .prefetch_related("rules")
        .first()
    )
    if profile is None:
        raise DomainError(
            _("No guardrail profile %(code)s is in force on %(date)s; contact is not allowed without one.")
            % {"code": code, "date": on},
            code="contact.no_profile",
        )
    return profile


def contact_decide(
    *,
    channel: str,
    at: datetime.datetime,
    case: CollectionCase | None = None,
    loan=None,
    target_contact=None,
    profile: GuardrailProfile | None = None,
    passes_holds: tuple[str, ...] = (),
) -> Decision:
    """May this contact happen at `at`? About a case, or (a pre-due reminder) about a loan with no case.
    `passes_holds` names holds this contact is the exception to (the letter announcing a legal referral
    goes out under the legal hold it starts). Pure read: records nothing (contact_attempt_log records)."""
    return _decide(
        channel=channel, at=at, case=case, loan=loan, target_contact=target_contact, profile=profile,
        passes_holds=passes_holds, facts=_LiveFacts(),
    )  # fmt: skip


def calls_decide(cases: list[CollectionCase], *, at: datetime.datetime) -> list[Decision]:
    """contact_decide(case=…, channel=CALL, at=at) for each case — the same decisions, read together: the
    decisions run once noting what they ask about past calls (answering "none"), one query answers all of
    it, the cases' dispute and plan holds are two queries and each profile is read once; then the
    decisions run again on those answers (a question the first run did not reach is asked on its own)."""
    profiles = _ProfilesInForce()
    asking = _QuestionsNoted(profiles)
    for case in cases:
        _decide(channel=Channel.CALL, at=at, case=case, facts=asking)
    answered = _Answered(asking.answers(), [case.pk for case in cases], profiles)
    return [_decide(channel=Channel.CALL, at=at, case=case, facts=answered) for case in cases]


def _decide(*, channel, at, case=None, loan=None, target_contact=None, profile=None, passes_holds=(), facts):
    loan = case.loan if case is not None else loan
    borrower = case.borrower if case is not None else loan.borrower
    local = at.astimezone(ZoneInfo(borrower.time_zone))
    profile = profile or facts.profile(loan.product.guardrail_profile, local.date())
    label = str(profile)
    if target_contact is not None and target_contact.borrower_id != loan.borrower_id:
        return Decision(
            False, "contact.third_party_unknown", _("That person is not a contact of this borrower."), label
        )
    hold = _hold(case, borrower, channel, target_contact, passes_holds, facts)
    if hold is not None:
        return Decision(False, hold[0], hold[1], label)
    requirements = []
    for rule in profile.rules.all():
        if not rule.applies_to(channel):
            continue
        check = _CHECKS[rule.kind]
        refusal = check(
            rule, loan=loan, borrower=borrower, channel=channel, local=local, target_contact=target_contact,
            facts=facts,
        )  # fmt: skip
        if isinstance(refusal, tuple):
            return Decision(False, refusal[0], refusal[1], label)
        if isinstance(refusal, str):
            requirements.append(refusal)
    return Decision(True, "", "", label, tuple(requirements))


class _LiveFacts:
    """What the rules read — the profile in force, the case's holds, counts and dates of past allowed
    calls — asked of the database when a rule asks."""

    def profile(self, code: str, on: datetime.date) -> GuardrailProfile:
        return profile_in_force(code, on)

    def open_dispute(self, case) -> bool:
        return case.disputes.filter(status="open").exists()

    def performing_plan(self, case) -> bool:
        return case.plans.filter(status=PaymentPlan.Status.ACTIVE).exists()

    def calls(self, where: Q) -> int:
        return _allowed_calls().filter(where).count()

    def last_call(self, where: Q):
        return _allowed_calls().filter(where).aggregate(last=Max("attempted_at"))["last"]


class _ProfilesInForce(_LiveFacts):
    """Each profile in force read once per code and day."""

    def __init__(self):
        self.read = {}

    def profile(self, code, on):
        if (code, on) not in self.read:
            self.read[(code, on)] = profile_in_force(code, on)
        return self.read[(code, on)]


class _QuestionsNoted(_LiveFacts):
    """The first run of a batch: no hold, no past call — and every question about past calls noted."""

    def __init__(self, profiles: _ProfilesInForce):
        self.profiles, self.asked = profiles, {}

    def profile(self, code, on):
        return self.profiles.profile(code, on)

    def open_dispute(self, case):
        return False

    def performing_plan(self, case):
        return False

    def calls(self, where):
        self.asked[("calls", where)] = None
        return 0

    def last_call(self, where):
        self.asked[("last_call", where)] = None
        return None

    def answers(self) -> dict:
        """Every noted question answered by one query: each a filtered count or latest time."""
        questions = list(self.asked)
        if not questions:
            return {}
        everything = reduce(operator.or_, (where for _kind, where in questions))
        reads = {
            f"q{number}": Count("pk", filter=where) if kind == "calls" else Max("attempted_at", filter=where)
            for number, (kind, where) in enumerate(questions)
        }
        values = _allowed_calls().filter(everything).aggregate(**reads)
        return {question: values[f"q{number}"] for number, question in enumerate(questions)}


class _Answered(_LiveFacts):
    """The second run of a batch: the answers read together; anything else asked live."""

    def __init__(self, answers: dict, case_ids: list[int], profiles: _ProfilesInForce):
        self.answers_read, self.profiles = answers, profiles
        self.disputed = set(
            Dispute.objects.filter(case_id__in=case_ids, status="open").values_list("case_id", flat=True)
        )
        performing = PaymentPlan.objects.filter(case_id__in=case_ids, status=PaymentPlan.Status.ACTIVE)
        self.in_plan = set(performing.values_list("case_id", flat=True))

    def profile(self, code, on):
        return self.profiles.profile(code, on)

    def open_dispute(self, case):
        return case.pk in self.disputed

    def performing_plan(self, case):
        return case.pk in self.in_plan

    def calls(self, where):
        answer = self.answers_read.get(("calls", where))
        return super().calls(where) if answer is None else answer

    def last_call(self, where):
        if ("last_call", where) not in self.answers_read:
            return super().last_call(where)
        return self.answers_read[("last_call", where)]


def _hold(case, borrower, channel, target_contact, passes_holds, facts):
    """(code, message) of the first hold that stops all contact with the borrower (and on the case), or
    None. The case's holds are read from the facts (an open dispute, a performing plan), not its status."""
    has_case = case is not None
    holds = [
        (
            borrower.has_open_dispute or (has_case and facts.open_dispute(case)),
            "contact.hold_dispute",
            _("The debt is disputed: no contact or notice until the dispute is resolved."),
        ),
        (
            borrower.is_bankrupt,
            "contact.hold_bankruptcy",
            _("The borrower is in bankruptcy: collection contact is stayed."),
        ),
        (borrower.is_deceased, "contact.hold_deceased", _("The borrower is deceased: no collection contact.")),
        (
            borrower.cease_communication,
            "contact.hold_cease_communication",
            _("The borrower asked us to stop communicating: no collection contact."),
        ),
        (borrower.do_not_contact, "contact.hold_do_not_contact", _("The borrower is marked do-not-contact.")),
        (
            has_case and facts.performing_plan(case),
            "contact.hold_payment_plan",
            _("A payment plan is performing: the ladder and collection contact are paused."),
        ),
        (
            has_case and case.legal_hold,
            "contact.hold_legal",
            _("The case is under legal hold: contact goes through the lawyers."),
        ),
    ]
    for applies, code, message in holds:
        if applies and code not in passes_holds:
            return code, message
    if _is_third_party(target_contact) and channel == Channel.LETTER:
        return "contact.letter_third_party", _("Letters and notices go to the borrower only.")
    return None


def _is_third_party(target_contact) -> bool:
    return target_contact is not None and target_contact.relation != target_contact.Relation.SELF


def _to_borrower():
    """Contacts with the borrower: their main number, or another number of their own."""
    return Q(target_contact__isnull=True) | Q(target_contact__relation=BorrowerContact.Relation.SELF)


def _contact_hours(rule, *, local, **_kwargs):
    start = datetime.time.fromisoformat(rule.parameters.get("start", "08:00"))
    end = datetime.time.fromisoformat(rule.parameters.get("end", "22:00"))
    if start <= local.time() < end:
        return None
    return (
        "contact.quiet_hours",
        _("It is %(now)s where the borrower lives; contact is allowed only from %(start)s to %(end)s.")
        % {"now": local.strftime("%H:%M"), "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
    )


def _local_day_range(local: datetime.datetime, days: int = 1):
    """[start, end) of the `days` local calendar days ending with today, as aware datetimes."""
    end = datetime.datetime.combine(local.date() + datetime.timedelta(days=1), datetime.time(), tzinfo=local.tzinfo)
    return end - datetime.timedelta(days=days), end


def _allowed_calls():
    return ContactAttempt.objects.filter(channel=Channel.CALL, decision=ContactAttempt.Decision.ALLOWED)


def _connected_calls_per_day(rule, *, loan, local, target_contact, facts, **_kwargs):
    """Calls that reached the borrower (on any of their own numbers, by any collector) count; calls to a
    relative or a wrong number do not use up the borrower's day, and calling a third party is not limited
    by it (the per-number cap and the third-party rule apply there)."""
    if _is_third_party(target_contact):
        return None
    limit = int(rule.parameters.get("limit", 3))
    start, end = _local_day_range(local)
    connected = facts.calls(
        Q(
            borrower_id=loan.borrower_id,
            outcome__in=CONVERSATION_OUTCOMES,
            attempted_at__gte=start,
            attempted_at__lt=end,
        )
        & _to_borrower()
    )
    if connected < limit:
        return None
    return (
        "contact.daily_connected_cap",
        _("This borrower has already been reached %(count)d times by phone today (all collectors); the limit is "
          "%(limit)d.") % {"count": connected, "limit": limit},
    )  # fmt: skip


def _calls_per_number_per_day(rule, *, borrower, local, target_contact, facts, **_kwargs):
    """Call attempts, answered or not, to the number about to be dialled, today in the borrower's time."""
    limit = int(rule.parameters.get("limit", 6))
    number = dialled_number(borrower, target_contact)
    start, end = _local_day_range(local)
    attempts = facts.calls(Q(phone_number=number, attempted_at__gte=start, attempted_at__lt=end))
    if attempts < limit:
        return None
    return (
        "contact.number_daily_cap",
        _("This number has already been called %(count)d times today; the limit is %(limit)d calls a day to one "
          "number.") % {"count": attempts, "limit": limit},
    )  # fmt: skip


def dialled_number(borrower, target_contact) -> str:
    """The phone number a call or SMS goes to: the third party's, or the borrower's own."""
    return target_contact.phone if target_contact is not None else borrower.phone


def _call_attempts_per_window(rule, *, loan, local, facts, **_kwargs):
    limit, days = int(rule.parameters.get("limit", 7)), int(rule.parameters.get("days", 7))
    start, end = _local_day_range(local, days)
    attempts = facts.calls(Q(loan_id=loan.pk, attempted_at__gte=start, attempted_at__lt=end))
    if attempts < limit:
        return None
    return (
        "contact.attempt_cap",
        _("%(count)d calls about this loan in the last %(days)d days already; the limit is %(limit)d.")
        % {"count": attempts, "days": days, "limit": limit},
    )


def _call_after_conversation(rule, *, loan, local, facts, **_kwargs):
    days = int(rule.parameters.get("days", 7))
    start, end = _local_day_range(local, days)
    last = facts.last_call(
        Q(loan_id=loan.pk, outcome__in=CONVERSATION_OUTCOMES, attempted_at__gte=start, attempted_at__lt=end)
        & _to_borrower()
    )
    if last is None:
        return None
    return (
        "contact.after_conversation",
        _("The borrower was spoken to about this loan on %(date)s; no call within %(days)d days of a conversation.")
        % {"date": last.astimezone(local.tzinfo).date(), "days": days},
    )


def _third_party(rule, *, loan, local, target_contact, facts, **_kwargs):
    if not _is_third_party(target_contact):
        return None
    if not target_contact.consent_to_contact:
        return "contact.third_party_no_consent", _("This contact has not consented to be contacted.")
    days, needed = int(rule.parameters.get("days", 7)), int(rule.parameters.get("failed_attempts", 3))
    start, end = _local_day_range(local, days)
    borrower_calls = Q(borrower_id=loan.borrower_id, attempted_at__gte=start, attempted_at__lt=end) & _to_borrower()
    reached = facts.calls(borrower_calls & ~Q(outcome__in=UNREACHED_OUTCOMES)) > 0
    failed = facts.calls(borrower_calls & Q(outcome__in=UNREACHED_OUTCOMES))
    if reached or failed < needed:
        return (
            "contact.borrower_reachable",
            _(
                "Third parties may be contacted only when the borrower cannot be reached: %(needed)d failed calls "
                "to the borrower in %(days)d days are needed (%(failed)d so far)."
            )
            % {"needed": needed, "days": days, "failed": failed},
        )
    return "no_debt_disclosure"


def _opt_out(rule, **_kwargs):
    return "opt_out"


_CHECKS = {
    Rule.CONTACT_HOURS: _contact_hours,
    Rule.CONNECTED_CALLS_PER_DAY: _connected_calls_per_day,
    Rule.CALLS_PER_NUMBER_PER_DAY: _calls_per_number_per_day,
    Rule.CALL_ATTEMPTS_PER_WINDOW: _call_attempts_per_window,
    Rule.CALL_AFTER_CONVERSATION: _call_after_conversation,
    Rule.THIRD_PARTY: _third_party,
    Rule.OPT_OUT: _opt_out,
}
