from django.core.management.base import BaseCommand, CommandError

from creditops.core.errors import DomainError
from notices.services.delivery import email_bounce_record


class Command(BaseCommand):
    help = "Record that the e-mail of a notice bounced, as the mail system reported it."

    def add_arguments(self, parser):
        parser.add_argument("reference", help="The notice reference, e.g. CN-2026-000123.")
        parser.add_argument("--reason", required=True, help="The bounce reason the mail system gave.")

    def handle(self, *args, reference, reason, **options):
        try:
            email_bounce_record(reference=reference, reason=reason)
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"{reference}: e-mail marked as bounced.")
