"""The dashboard's tables as a person reads them, for CSV and Excel: headers in the reader's language, names
and buckets in words, and every number rounded as the page prints it (money to the cent, rates as per cent
to two places). The API stays the machine-readable face."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dunning.services.guardrails import rule_label

from . import selectors

CENT = Decimal("0.01")


def money(value):
    return None if value is None else Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def percent(value):
    """A rate as the page shows it: 0.1458733… → 14.59 (the header says %)."""
    return None if value is None else (Decimal(value) * 100).quantize(CENT, rounding=ROUND_HALF_UP)


def average(value):
    return None if value is None else Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _rate_header(label) -> str:
    return f"{label} (%)"


FIGURE_VALUES = {"money": money, "rate": percent, "count": lambda value: value}


def _headline(table):
    header = [_("Figure"), _("Value"), _("vs 7 days before"), _("vs 30 days before")]
    rows = []
    for figure in table:
        shown = FIGURE_VALUES[figure.kind]
        label = _rate_header(figure.label) if figure.kind == "rate" else figure.label
        rows.append([label, shown(figure.value), shown(figure.change_7), shown(figure.change_30)])
    return header, rows


def _buckets(table):
    header = [_("Bucket"), _("Loans"), _rate_header(_("Loans")), _("Outstanding"), _rate_header(_("Outstanding"))]
    return header, [
        [row["label"], row["loans"], percent(row["loans_share"]), money(row["outstanding"]),
         percent(row["outstanding_share"])]
        for row in table
    ]  # fmt: skip


def _stages(table):
    return [_("Stage"), _("Cases")], [[row["stage"].local_name, row["cases"]] for row in table]


def _trend(table):
    header = [_("Business date"), _("Overdue balance"), _rate_header(_("30+ DPD rate (balance)")),
              _("Amount recovered")]  # fmt: skip
    return header, [
        [row["day"], money(row["overdue"]), percent(row["rate_30_balance"]), money(row["recovered"])] for row in table
    ]


def _rollrates(table):
    targets = [_rate_header(label) for label in selectors.roll_target_labels()]
    header = [_("Bucket at month start"), _("Balance"), *targets, _rate_header(_("Cured")), _rate_header(_("Stayed")),
              _rate_header(_("Rolled forward"))]  # fmt: skip
    return header, [
        [row["label"], money(row["balance"]), *[percent(share) for share in row["shares"]], percent(row["cured"]),
         percent(row["stayed"]), percent(row["rolled_forward"])]
        for row in table
    ]  # fmt: skip


def _flows(table):
    header = [_("Month"), *[_rate_header(label) for label in selectors.flow_labels()]]
    return header, [[f"{row['month']:%Y-%m}", *[percent(rate) for rate in row["rates"]]] for row in table]


def _vintages(table):
    header = [_("Disbursed in"), _("Months on book"), _rate_header(_("30+ DPD rate (loans)"))]
    return header, [
        [f"{curve['vintage']:%Y-%m}", months, percent(rate)] for curve in table for months, rate in curve["points"]
    ]


def _activity_header():
    return [_("Case-days worked"), _("Contacts"), _("Right-party contacts"), _("Promises"),
            _rate_header(_("Kept")), _("Collected")]  # fmt: skip


def _activity(row):
    return [row["cases_worked"], row["contacts"], row["right_party_contacts"], row["promises_made"],
            percent(row["kept_rate"]), money(row["amount_collected"])]  # fmt: skip


def _performance(table):
    header = [_("Collector"), *_activity_header(), _("Average days past due of their cases now")]
    return header, [[str(row["collector"]), *_activity(row), average(row["average_dpd"])] for row in table]


def _teams(table):
    return [_("Team"), *_activity_header()], [[row["team"].local_name, *_activity(row)] for row in table]


def _compliance(table):
    rows = [[rule_label(row["rule"]), row["attempts"]] for row in table["blocked_by_rule"]]
    return [_("Rule"), _("Blocked attempts")], rows


TABLES = {
    "headline": _headline, "buckets": _buckets, "stages": _stages, "trend": _trend, "rollrates": _rollrates,
    "flows": _flows, "vintages": _vintages, "performance": _performance, "teams": _teams, "compliance": _compliance,
}  # fmt: skip


TITLES = {
    "headline": gettext_lazy("Headline figures"),
    "buckets": gettext_lazy("Aging buckets"),
    "stages": gettext_lazy("Open cases per stage"),
    "trend": gettext_lazy("Trend"),
    "rollrates": gettext_lazy("Roll rates"),
    "flows": gettext_lazy("Flow rates"),
    "vintages": gettext_lazy("Vintage curves"),
    "performance": gettext_lazy("Collectors"),
    "teams": gettext_lazy("Teams"),
    "compliance": gettext_lazy("Compliance figures"),
    "monthly_report": gettext_lazy("Monthly report"),
}


def table_title(name: str) -> str:
    """A dashboard table by its title (the audit trail names what was exported)."""
    title = TITLES.get(name)
    return str(title) if title is not None else name


def export_table(name: str, table) -> tuple[list[str], list[list]]:
    """(header, rows) of one dashboard table, as the reader sees it."""
    return TABLES[name](table)
