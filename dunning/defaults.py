"""The default dunning ladder, the CN and US guardrail profiles and the nightly run's lock row: installed
by a data migration, and again after a test flush empties the tables (post_migrate)."""

import datetime

# (start DPD, (name in Chinese, in English), owner role, [(action, notice kind, needs approval), ...])
DEFAULT_LADDER = [
    (1, ("短信提醒", "SMS reminder"), "system", [("sms_reminder", "", False)]),
    (3, ("邮件提醒", "E-mail reminder"), "system", [("email_reminder", "payment_reminder", False)]),
    (7, ("催收员致电", "Collector call"), "Collector", [("collector_call", "", False)]),
    (15, ("催缴单", "Formal collection notice"), "Collector", [("collection_notice", "collection_notice", False)]),
    (30, ("二次催缴与主管复核", "Second notice and supervisor review"), "Supervisor",
     [("collection_notice", "collection_notice", False), ("supervisor_review", "", False)]),
    (60, ("最后通牒", "Final demand"), "Supervisor", [("final_demand", "final_demand", False)]),
    (90, ("法律移交与征信报送", "Legal referral and credit-bureau report"), "Supervisor",
     [("legal_referral", "legal_referral", True), ("credit_bureau_report", "credit_reporting", True)]),
    (180, ("核销提议", "Charge-off proposal"), "Manager", [("charge_off_proposal", "", True)]),
]  # fmt: skip

CN_SOURCE = "中国互联网金融协会《互联网金融逾期债务催收自律公约》及2024年催收指引 (NIFA collection guideline 2024)"
CBA_SOURCE = (
    "中国银行业协会《金融机构个人消费类贷款催收工作指引（试行）》(2026)：对债务人同一联系方式当日尝试拨打不宜超过6次 "
    "(China Banking Association consumer-loan collection guideline 2026: at most 6 call attempts a day to one number)"
)
CN_RULES_2024 = [
    ("contact_hours", ["call", "sms", "email", "visit"], {"start": "08:00", "end": "22:00"}, CN_SOURCE),
    ("connected_calls_per_day", ["call"], {"limit": 3}, CN_SOURCE),
    ("third_party", ["call", "sms", "email", "visit"], {"failed_attempts": 3, "days": 7}, CN_SOURCE),
]
# (code, version, (name in Chinese, in English), effective from, rules): a version is created when it is
# missing, never changed.
PROFILES = [
    ("CN", 1, ("中国 NIFA 2024 催收指引", "China NIFA collection guideline 2024"), datetime.date(2024, 1, 1),
     CN_RULES_2024),
    ("CN", 2, ("中国 NIFA 2024 催收指引及 2026 银行业协会消费贷催收指引", "China NIFA 2024 and CBA 2026 guidelines"),
     datetime.date(2026, 2, 1), [*CN_RULES_2024, ("calls_per_number_per_day", ["call"], {"limit": 6}, CBA_SOURCE)]),
    ("US", 1, ("美国 CFPB 债务催收规则 F (12 CFR 1006)", "US CFPB Regulation F (12 CFR part 1006)"),
     datetime.date(2021, 11, 30), [
        # §1006.6(b)(1)(i) is about any communication, not only calls: SMS and e-mail keep the hours too.
        ("contact_hours", ["call", "sms", "email", "visit"], {"start": "08:00", "end": "21:00"},
         "12 CFR 1006.6(b)(1)(i); FDCPA §805(a)(1)"),
        ("call_attempts_per_window", ["call"], {"limit": 7, "days": 7}, "12 CFR 1006.14(b)(2)(i)(A)"),
        ("call_after_conversation", ["call"], {"days": 7}, "12 CFR 1006.14(b)(2)(i)(B)"),
        ("third_party", ["call", "sms", "email", "visit"], {"failed_attempts": 3, "days": 7},
         "12 CFR 1006.6(d), 1006.10; FDCPA §804, §805(b)"),
        ("opt_out", ["email", "sms"], {}, "12 CFR 1006.6(e)"),
    ]),
]  # fmt: skip


def install_defaults(apps, schema_editor=None, **kwargs):
    """Create what is missing of the default ladder, the CN and US profiles and the run lock (idempotent;
    `apps` is the migration state or the live registry)."""
    DunningPolicy = apps.get_model("dunning", "DunningPolicy")
    DunningStage = apps.get_model("dunning", "DunningStage")
    StageAction = apps.get_model("dunning", "StageAction")
    GuardrailProfile = apps.get_model("dunning", "GuardrailProfile")
    GuardrailRule = apps.get_model("dunning", "GuardrailRule")
    RunLock = apps.get_model("dunning", "RunLock")
    db = schema_editor.connection.alias if schema_editor is not None else kwargs.get("using", "default")
    if not DunningPolicy.objects.using(db).exists():
        policy = DunningPolicy.objects.using(db).create(name="标准催收流程", name_en="Standard ladder", is_default=True)
        for start_dpd, (name, name_en), owner, actions in DEFAULT_LADDER:
            stage = DunningStage.objects.using(db).create(
                policy=policy, name=name, name_en=name_en, start_dpd=start_dpd, owner_role=owner
            )
            for kind, notice_kind, needs_approval in actions:
                StageAction.objects.using(db).create(
                    stage=stage, kind=kind, notice_kind=notice_kind, needs_approval=needs_approval
                )
    for code, version, (name, name_en), effective_from, rules in PROFILES:
        if not GuardrailProfile.objects.using(db).filter(code=code, version=version).exists():
            profile = GuardrailProfile.objects.using(db).create(
                code=code, version=version, name=name, name_en=name_en, effective_from=effective_from
            )
            for kind, channels, parameters, source in rules:
                GuardrailRule.objects.using(db).create(
                    profile=profile, kind=kind, channels=channels, parameters=parameters, source=source
                )
    RunLock.objects.using(db).get_or_create(name="nightly-run")
