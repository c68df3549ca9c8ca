"""How a caller of the JSON API proves who they are: a bearer token."""

from django.http import HttpRequest
from django.utils import translation
from ninja.security import HttpBearer

from klantreis.accounts.models import User
from klantreis.accounts.tokens import api_token_authenticate


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer <key>`; the request then acts as the token's user.

    The user's own language is activated here, as UserLanguageMiddleware does
    for signed-in browsers, so error messages come back in it.
    """

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = api_token_authenticate(key=token)
        if user is None:
            return None
        request.user = user
        if user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return user


def api_user(request: HttpRequest) -> User:
    """The user `ApiTokenAuth` let through."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):
        raise TypeError("api_user() needs an endpoint protected by ApiTokenAuth")
    return user
