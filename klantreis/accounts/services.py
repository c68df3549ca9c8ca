"""One-time sign-in links for customers.

The link carries a signed random secret; the database keeps only its hash,
the expiry and whether it was used. Redeeming claims the row with a
conditional update, so a link works once even when two clicks race.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import SignInLink, User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError

SALT = "klantreis.accounts.sign-in-link"
MAX_LINKS_PER_HOUR = 5

MESSAGE_LINK_INVALID = _("This sign-in link is not valid. Please ask for a new one.")
MESSAGE_LINK_EXPIRED = _("This sign-in link has expired. Please ask for a new one.")
MESSAGE_UNKNOWN_LANGUAGE = _("Choose Dutch or English.")
MESSAGE_LINK_USED = _("This sign-in link has already been used. Please ask for a new one.")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def sign_in_link_create(*, user: User, next_url: str = "") -> str | None:
    """A new link token for `user`, or None when too many were asked for
    within the hour (so the form cannot be used to flood someone's inbox)."""
    now = clock.now()
    recent = SignInLink.objects.filter(user=user, created_at__gte=now - timedelta(hours=1)).count()
    if recent >= MAX_LINKS_PER_HOUR:
        return None
    secret = secrets.token_urlsafe(32)
    SignInLink.objects.create(
        user=user,
        secret_hash=_hash(secret),
        created_at=now,
        expires_at=now + timedelta(minutes=settings.KLANTREIS_SIGN_IN_LINK_MINUTES),
        next_url=next_url,
    )
    return signing.dumps(secret, salt=SALT)


def sign_in_link_check(*, token: str) -> SignInLink:
    """The link behind `token` if it can still be used; raises otherwise."""
    try:
        secret = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise ApplicationError(MESSAGE_LINK_INVALID) from None
    link = SignInLink.objects.select_related("user").filter(secret_hash=_hash(str(secret))).first()
    if link is None or not link.user.is_active:
        raise ApplicationError(MESSAGE_LINK_INVALID)
    if link.used_at is not None:
        raise ApplicationError(MESSAGE_LINK_USED)
    if link.expires_at <= clock.now():
        raise ApplicationError(MESSAGE_LINK_EXPIRED)
    return link


def sign_in_link_redeem(*, token: str) -> SignInLink:
    link = sign_in_link_check(token=token)
    claimed = SignInLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=clock.now())
    if claimed != 1:
        raise ApplicationError(MESSAGE_LINK_USED)
    return link


def user_language_set(*, user: User, language: str) -> User:
    """Remember the language a person chose; messages to them use it too."""
    if language not in User.Language.values:
        raise ApplicationError(MESSAGE_UNKNOWN_LANGUAGE, field="language")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user
