"""The five staff roles and the model permissions each needs. Groups are created by a data migration;
`sync_role_permissions` (run after every migrate) keeps their permissions equal to this table, so a new
app's models get their permissions without another hand-written migration."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

COLLECTOR = "Collector"
SUPERVISOR = "Supervisor"
MANAGER = "Manager"
COMPLIANCE = "Compliance"
ADMINISTRATOR = "Administrator"
ROLES = [COLLECTOR, SUPERVISOR, MANAGER, COMPLIANCE, ADMINISTRATOR]

_READ_LEDGER = [
    "lending.view_borrower",
    "lending.view_borrowercontact",
    "lending.view_product",
    "lending.view_loan",
    "lending.view_installment",
    "lending.view_payment",
    "lending.view_paymentallocation",
    # What changes a debt without money (lending/models/entries.py, arrangements.py).
    "lending.view_ledgerentry",
    "lending.view_ledgerentryline",
    "lending.view_settlement",
    "lending.view_settlementinstalment",
    "lending.view_restructuring",
    "lending.view_creditrefund",
    "lending.view_paymentrefund",
]

_CASE_RECORDS = ["collectioncase", "caseevent", "stagetransition", "dunningaction", "contactattempt", "promisetopay",
                 "dispute", "paymentplan", "planinstallment", "approvalrequest"]  # fmt: skip
_RULES = ["dunningpolicy", "dunningstage", "stageaction", "guardrailprofile", "guardrailrule", "assignmentrule"]
# Collectors and supervisors read case records in their scope (the admin filters by cases_visible_to).
_READ_NOTICES = ["notices.view_notice", "notices.view_noticedelivery"]
_READ_CASES = [f"dunning.view_{model}" for model in _CASE_RECORDS + _RULES] + _READ_NOTICES
_READ_COLLECTIONS = _READ_CASES + [
    "dunning.view_dunningrun",
    "dunning.view_portfoliosnapshot",
    "notices.view_printbatch",
]
_DECIDE_RISK_MODELS = ["risk.view_riskmodel", "risk.decide_riskmodel"]
# Printing letters (a print batch marks them printed): supervisors and administrators.
_PRINT_LETTERS = ["notices.add_printbatch"]

ROLE_PERMISSIONS = {
    # Collectors read the ledger here; they work their cases in the collections workspace.
    COLLECTOR: _READ_LEDGER + _READ_CASES,
    # Supervisors also post and reverse payments and keep borrowers' contact details current.
    SUPERVISOR: _READ_LEDGER
    + _READ_COLLECTIONS
    + ["dunning.decide_approvalrequest"]
    + _PRINT_LETTERS
    + [
        "lending.change_borrower",
        "lending.add_borrowercontact",
        "lending.change_borrowercontact",
        "lending.add_payment",
        # Asking for a credit balance to be paid back (an administrator decides).
        "lending.add_creditrefund",
        "accounts.view_team",
        "accounts.view_user",
    ],
    # Managers read everything for dashboards; Compliance reads everything plus the audit trail.
    # They also approve risk models (never one they trained: risk/services.py).
    MANAGER: _READ_LEDGER + _READ_COLLECTIONS + _DECIDE_RISK_MODELS + ["accounts.view_team", "accounts.view_user"],
    # Compliance also keeps the guardrail profiles (contact rules) current.
    COMPLIANCE: _READ_LEDGER
    + _READ_COLLECTIONS
    + _DECIDE_RISK_MODELS
    + ["accounts.view_team", "accounts.view_user", "accounts.view_auditevent"]
    + [f"dunning.{action}_{model}" for model in ["guardrailprofile", "guardrailrule"] for action in ["add", "change"]],
    # Administrators run the book: products, borrowers, loans, payments, staff, teams and API keys.
    ADMINISTRATOR: _READ_LEDGER
    + [
        f"lending.{action}_{model}"
        for model in ["borrower", "borrowercontact", "product", "loan", "payment"]
        for action in ["add", "change"]
    ]
    + [f"accounts.{action}_{model}" for model in ["user", "team"] for action in ["add", "change", "view"]]
    + ["accounts.view_auditevent", "core.view_referencecounter"]
    + _READ_COLLECTIONS
    + ["risk.view_riskmodel"]
    + [f"dunning.{action}_{model}" for model in _RULES for action in ["add", "change"]]
    + ["dunning.decide_approvalrequest"]
    + ["lending.add_creditrefund", "lending.decide_creditrefund"]
    + _PRINT_LETTERS
    # Issuing and revoking the integrations' API keys.
    + ["api.add_apikey", "api.view_apikey"],
}


def sync_role_permissions(sender=None, apps=global_apps, using="default", **kwargs):
    """Give each role group exactly the permissions in ROLE_PERMISSIONS (idempotent). Connected to
    post_migrate: permissions of apps later in INSTALLED_APPS are created here first, not left for later."""
    try:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:
        return
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        wanted = [_permission(Permission, code, using) for code in codes]
        group.permissions.set([permission for permission in wanted if permission is not None])


def _permission(permission_model, code, using):
    app_label, codename = code.split(".")
    return permission_model.objects.using(using).filter(content_type__app_label=app_label, codename=codename).first()
