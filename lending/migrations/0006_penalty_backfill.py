"""Loans booked before penalty terms existed take their product's terms (version 1) and their contract
cost; the accrual ledger refuses UPDATE and DELETE on PostgreSQL."""

from django.db import migrations
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from creditops.core.db import append_only_trigger

TERMS = (
    "penalty_base", "penalty_daily_rate", "grace_days", "penalty_grace_rule", "penalty_compounds", "penalty_cost_cap_rate",
    "penalty_pause_in_plan", "penalty_pause_in_dispute",
)  # fmt: skip


def backfill(apps, schema_editor):
    Product = apps.get_model("lending", "Product")
    Loan = apps.get_model("lending", "Loan")
    Installment = apps.get_model("lending", "Installment")
    PenaltyTerms = apps.get_model("lending", "PenaltyTerms")
    for product in Product.objects.all():
        terms = {name: getattr(product, name) for name in TERMS if name != "penalty_daily_rate"}
        PenaltyTerms.objects.get_or_create(
            product=product, version=1, defaults={**terms, "penalty_daily_rate": product.penalty_daily_rate}
        )
        Loan.objects.filter(product=product).update(**terms, penalty_terms_version=1)
    cost = (
        Installment.objects.filter(loan=OuterRef("pk"))
        .values("loan")
        .annotate(total=Sum(F("interest_amount") + F("fee_amount")))
        .values("total")
    )
    Loan.objects.update(contract_cost_amount=Coalesce(Subquery(cost), Value(0)))


class Migration(migrations.Migration):
    dependencies = [("lending", "0005_penalty_interest")]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        append_only_trigger("lending_penaltyentry"),
    ]
