from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from klantreis.accounts.models import User
from klantreis.accounts.tokens import api_token_create
from klantreis.core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print its key (on stdout, alone, so scripts can "
        "capture it). The key is shown only this once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("name", help="What the token is for, e.g. 'housing system sync'.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        try:
            token, key = api_token_create(user=user, name=options["name"])
        except ApplicationError as error:
            raise CommandError(str(error)) from None
        self.stderr.write(
            f"API token {token.name!r} for {user.username} ({user.role}), prefix {token.prefix}. "
            "Store the key now: it cannot be shown again."
        )
        self.stdout.write(key)
