"""One-time sign-in links for customers.

The link carries a signed random secret; the database keeps only its hash,
the expiry and whether it was used. Redeeming claims the row with a
conditional update, so a link works once even when two clicks race.
"""

import hashlib
import secrets
from dataclasses import dataclass
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


# --- Entry links ----------------------------------------------------------
# The links in a customer's messages ("see your request", "choose another
# time") sign them in and open one page. They are signed, not stored: a
# message may be read weeks later, and the same link may be opened again. The
# moment it was made travels inside the signed value and is checked against
# the injected clock (Django's TimestampSigner reads the system time).

ENTRY_SALT = "klantreis.accounts.entry-link"


class EntryTarget:
    REQUEST = "request"
    APPOINTMENT = "appointment"
    ALL = frozenset({REQUEST, APPOINTMENT})


MESSAGE_ENTRY_INVALID = _("This link is not valid. Please ask for a sign-in link by e-mail.")
MESSAGE_ENTRY_EXPIRED = _("This link has expired. Please ask for a new sign-in link by e-mail.")


@dataclass(frozen=True)
class EntryLink:
    user: User
    reference: str
    target: str


def entry_link_token(*, user_id: int, reference: str, target: str) -> str:
    """The signed token of a link that signs customer `user_id` in and opens
    `target` (request or appointment) of request `reference`."""
    if target not in EntryTarget.ALL:
        raise ValueError(f"unknown entry target {target!r}")
    payload = {"u": user_id, "r": reference, "t": target, "i": int(clock.now().timestamp())}
    return signing.dumps(payload, salt=ENTRY_SALT, compress=True)


def entry_link_read(*, token: str) -> EntryLink:
    """Who the link signs in and where it leads; raises for a tampered or
    expired link, and for one that does not belong to an active customer."""
    try:
        payload = signing.loads(token, salt=ENTRY_SALT)
    except signing.BadSignature:
        raise ApplicationError(MESSAGE_ENTRY_INVALID) from None
    if not isinstance(payload, dict):
        raise ApplicationError(MESSAGE_ENTRY_INVALID)
    user_id, reference, target, issued = (payload.get(key) for key in ("u", "r", "t", "i"))
    if (
        not isinstance(user_id, int)
        or not isinstance(reference, str)
        or target not in EntryTarget.ALL
        or not isinstance(issued, int)
    ):
        raise ApplicationError(MESSAGE_ENTRY_INVALID)
    user = User.objects.filter(pk=user_id, role=User.Role.CUSTOMER, is_active=True).first()
    if user is None:
        raise ApplicationError(MESSAGE_ENTRY_INVALID)
    lifetime = timedelta(days=settings.KLANTREIS_ENTRY_LINK_DAYS)
    if clock.now().timestamp() - issued >= lifetime.total_seconds():
        # Signed by us, so what it says can still be used: the page answers in
        # the customer's language and the new sign-in link leads to the same page.
        raise ApplicationError(
            MESSAGE_ENTRY_EXPIRED, language=user.language, reference=reference, target=target
        )
    return EntryLink(user=user, reference=reference, target=str(target))


def user_language_set(*, user: User, language: str) -> User:
    """Remember the language a person chose; messages to them use it too."""
    if language not in User.Language.values:
        raise ApplicationError(MESSAGE_UNKNOWN_LANGUAGE, field="language")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user
