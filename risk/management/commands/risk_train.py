import datetime

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from risk.datasets import DatasetError
from risk.models import RiskModel
from risk.services import risk_model_train


class Command(BaseCommand):
    help = (
        "Train a new version of a risk model and store it waiting for approval (a Manager or Compliance user "
        "approves it in the admin before it scores anything)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, choices=RiskModel.Kind.values)
        parser.add_argument("--dataset", default=RiskModel.Dataset.GERMAN_CREDIT, choices=RiskModel.Dataset.values)
        parser.add_argument("--seed", type=int, default=42, help="draws the held-out 30 %% (default 42)")
        parser.add_argument(
            "--as-of", type=datetime.date.fromisoformat, help="the book's business date (default: today)"
        )
        parser.add_argument("--as", dest="username", help="the staff user who trains it (recorded; cannot approve it)")

    def handle(self, *args, model, dataset, seed, as_of, username, **options):
        actor = None
        if username:
            actor = get_user_model().objects.filter(username=username).first()
            if actor is None:
                raise CommandError(f"No user {username!r}.")
        try:
            trained = risk_model_train(kind=model, dataset=dataset, seed=seed, as_of=as_of, actor=actor)
        except DatasetError as error:
            raise CommandError(str(error)) from error
        holdout = trained.metrics["holdout"]
        window = f" booked {trained.window_from} to {trained.window_to}" if trained.window_from else ""
        self.stdout.write(
            f"{trained} on {trained.get_dataset_display()}{window}: {len(trained.features)} features; held-out "
            f"{trained.metrics['rows']['holdout']} rows: AUC {holdout['auc']:.4f}, Gini {holdout['gini']:.4f}, "
            f"KS {holdout['ks']:.4f}. Waiting for approval."
        )
