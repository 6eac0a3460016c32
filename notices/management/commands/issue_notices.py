from django.core.management.base import BaseCommand

from notices.services.batch import pending_notices_issue


class Command(BaseCommand):
    help = (
        "Issue every notice the dunning ladder is waiting for (pending stage actions with a notice kind), "
        "rendering on several processes. The nightly task does the same through the django-q2 workers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=None, help="Processes (default NOTICE_RENDER_WORKERS).")

    def handle(self, *args, workers, **options):
        counts = pending_notices_issue(workers=workers)
        summary = ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
        self.stdout.write(f"Notices: {summary}")
