import datetime

from django.db import migrations

# (start DPD, name, owner role, [(action, notice kind, needs approval), ...])
DEFAULT_LADDER = [
    (1, "短信提醒 SMS reminder", "system", [("sms_reminder", "", False)]),
    (3, "邮件提醒 E-mail reminder", "system", [("email_reminder", "payment_reminder", False)]),
    (7, "催收员致电 Collector call", "Collector", [("collector_call", "", False)]),
    (15, "催缴单 Formal collection notice", "Collector", [("collection_notice", "collection_notice", False)]),
    (30, "二次催缴与主管复核 Second notice and supervisor review", "Supervisor",
     [("collection_notice", "collection_notice", False), ("supervisor_review", "", False)]),
    (60, "最后通牒 Final demand", "Supervisor", [("final_demand", "final_demand", False)]),
    (90, "法律移交与征信报送 Legal referral and credit-bureau report", "Supervisor",
     [("legal_referral", "legal_referral", True), ("credit_bureau_report", "credit_reporting", True)]),
    (180, "核销提议 Charge-off proposal", "Manager", [("charge_off_proposal", "", True)]),
]  # fmt: skip

CN_SOURCE = "中国互联网金融协会《互联网金融逾期债务催收自律公约》及2024年催收指引 (NIFA collection guideline 2024)"
PROFILES = [
    ("CN", "中国 NIFA 2024 催收指引 / China NIFA collection guideline 2024", datetime.date(2024, 1, 1), [
        ("contact_hours", ["call", "sms", "email", "visit"], {"start": "08:00", "end": "22:00"}, CN_SOURCE),
        ("connected_calls_per_day", ["call"], {"limit": 3}, CN_SOURCE),
        ("third_party", ["call", "sms", "email", "visit"], {"failed_attempts": 3, "days": 7}, CN_SOURCE),
    ]),
    ("US", "US CFPB Regulation F (12 CFR part 1006)", datetime.date(2021, 11, 30), [
        ("contact_hours", ["call"], {"start": "08:00", "end": "21:00"}, "12 CFR 1006.6(b)(1)(i); FDCPA §805(a)(1)"),
        ("call_attempts_per_window", ["call"], {"limit": 7, "days": 7}, "12 CFR 1006.14(b)(2)(i)(A)"),
        ("call_after_conversation", ["call"], {"days": 7}, "12 CFR 1006.14(b)(2)(i)(B)"),
        ("third_party", ["call", "sms", "email", "visit"], {"failed_attempts": 3, "days": 7},
         "12 CFR 1006.6(d), 1006.10; FDCPA §804, §805(b)"),
        ("opt_out", ["email", "sms"], {}, "12 CFR 1006.6(e)"),
    ]),
]  # fmt: skip


def install(apps, schema_editor):
    DunningPolicy = apps.get_model("dunning", "DunningPolicy")
    DunningStage = apps.get_model("dunning", "DunningStage")
    StageAction = apps.get_model("dunning", "StageAction")
    GuardrailProfile = apps.get_model("dunning", "GuardrailProfile")
    GuardrailRule = apps.get_model("dunning", "GuardrailRule")
    RunLock = apps.get_model("dunning", "RunLock")
    policy, created = DunningPolicy.objects.get_or_create(
        name="标准催收流程 Standard ladder", defaults={"is_default": True}
    )
    if created:
        for start_dpd, name, owner, actions in DEFAULT_LADDER:
            stage = DunningStage.objects.create(policy=policy, name=name, start_dpd=start_dpd, owner_role=owner)
            for kind, notice_kind, needs_approval in actions:
                StageAction.objects.create(stage=stage, kind=kind, notice_kind=notice_kind, needs_approval=needs_approval)
    for code, name, effective_from, rules in PROFILES:
        profile, created = GuardrailProfile.objects.get_or_create(
            code=code, version=1, defaults={"name": name, "effective_from": effective_from}
        )
        if created:
            for kind, channels, parameters, source in rules:
                GuardrailRule.objects.create(
                    profile=profile, kind=kind, channels=channels, parameters=parameters, source=source
                )
    RunLock.objects.get_or_create(name="nightly-run")


class Migration(migrations.Migration):
    """The default dunning ladder, the CN and US guardrail profiles, and the nightly run's lock row."""

    dependencies = [("dunning", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
