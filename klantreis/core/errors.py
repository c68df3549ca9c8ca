"""The one business error type of klantreis.

Services raise `ApplicationError` with a message constant; tests compare
against the same constants, and views show the (translated) message.
"""

from typing import Any

from django.utils.functional import Promise


class ApplicationError(Exception):
    def __init__(self, message: str | Promise, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.extra = extra

    def __str__(self) -> str:
        return str(self.message)
