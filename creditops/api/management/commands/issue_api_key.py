from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from creditops.api.models import ApiKey
from creditops.api.services import api_key_issue
from creditops.core.errors import DomainError


class Command(BaseCommand):
    help = "Issue an API key acting as USERNAME (its roles decide what the key sees). Prints the key once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="Which system uses the key, e.g. core-banking.")
        parser.add_argument("--scope", choices=ApiKey.Scope.values, default=ApiKey.Scope.READ)

    def handle(self, *args, username, name, scope, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        try:
            _api_key, key = api_key_issue(name=name, user=user, scope=scope, actor=None)
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(key)
