from django.apps import AppConfig
from django.apps import apps as global_apps
from django.utils.translation import gettext_lazy as _


class DunningConfig(AppConfig):
    # Not "collections": that name is taken by Python's standard library.
    name = "dunning"
    verbose_name = _("Collections")

    def ready(self):
        from django.db.models.signals import post_migrate

        from lending.signals import (
            ledger_entry_posted,
            payment_posted,
            payment_reversed,
            penalty_replayed,
            settlement_ended,
        )

        from . import import_receivers  # noqa: F401 - connects the bulk import's timeline receiver
        from .receivers import (
            ledger_entry_on_case,
            payment_on_timeline,
            penalty_replay_on_timeline,
            settlement_ended_on_case,
        )

        _audit_details_in_words()
        payment_posted.connect(payment_on_timeline, dispatch_uid="dunning.payment_posted")
        payment_reversed.connect(payment_on_timeline, dispatch_uid="dunning.payment_reversed")
        penalty_replayed.connect(penalty_replay_on_timeline, dispatch_uid="dunning.penalty_replayed")
        ledger_entry_posted.connect(ledger_entry_on_case, dispatch_uid="dunning.ledger_entry")
        settlement_ended.connect(settlement_ended_on_case, dispatch_uid="dunning.settlement_ended")
        # A flush (TransactionTestCase) empties the tables the data migration filled; this refills them.
        post_migrate.connect(_install_defaults_after_migrate, sender=self, dispatch_uid="dunning.defaults")


def _audit_details_in_words():
    """How the audit trail words the collections details it shows (rule codes, channels, outcomes, kinds)."""
    from accounts.audit_words import register_detail_words

    from .models import ActionKind, ApprovalRequest, Channel, ContactAttempt, NoticeKind
    from .services.guardrails import rule_label
    from .services.reviews import ReviewOutcome

    def label_of(*choice_sets):
        def words(value):
            for choices in choice_sets:
                if value in choices.values:
                    return choices(value).label
            return value

        return words

    register_detail_words("rule", rule_label)
    register_detail_words("channel", label_of(Channel))
    register_detail_words("outcome", label_of(ContactAttempt.Outcome, ReviewOutcome))
    register_detail_words("kind", label_of(ApprovalRequest.Kind, ActionKind, NoticeKind))


def _install_defaults_after_migrate(sender, apps=None, using="default", **kwargs):
    from .defaults import install_defaults

    install_defaults(apps or global_apps, using=using)
