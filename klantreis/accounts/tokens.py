"""API tokens: bearer keys for the JSON API.

The plain key is shown once, when the token is created; the database keeps
only its SHA-256 hash (to find the token) and the first characters (so a
person can tell their tokens apart). Looking a key up by its hash means no
secret is ever compared character by character, so response times say
nothing about how much of a guessed key was right.
"""

import hashlib
import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import ApiToken, User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError

KEY_PREFIX = "kr_"
PREFIX_LENGTH = 8
# Longer than any key we hand out; longer input is refused before hashing.
KEY_MAX_LENGTH = 128
# Writing last_used_at on every call would turn each API read into a write.
LAST_USED_PRECISION = timedelta(minutes=1)
NAME_MAX = 100

MESSAGE_TOKEN_NAME_EMPTY = _("Please give the token a name.")
MESSAGE_TOKEN_NAME_TOO_LONG = _("Please keep the token name under %(max)d characters.")
MESSAGE_TOKEN_USER_INACTIVE = _("An inactive user cannot get an API token.")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user` and its plain key, which is not stored anywhere."""
    name = name.strip()
    if not name:
        raise ApplicationError(MESSAGE_TOKEN_NAME_EMPTY, field="name")
    if len(name) > NAME_MAX:
        raise ApplicationError(MESSAGE_TOKEN_NAME_TOO_LONG % {"max": NAME_MAX}, field="name")
    if not user.is_active:
        raise ApplicationError(MESSAGE_TOKEN_USER_INACTIVE, field="user")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_hash=_hash(key),
        prefix=key[:PREFIX_LENGTH],
        created_at=clock.now(),
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Stop the token from working; revoking twice keeps the first moment."""
    now = clock.now()
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_authenticate(*, key: str) -> User | None:
    """The active user behind a key, or None for an unknown, revoked or
    malformed key."""
    if not key or len(key) > KEY_MAX_LENGTH:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = clock.now()
    # A conditional update: concurrent calls within the minute write once.
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_PRECISION)
    ).update(last_used_at=now)
    return token.user
