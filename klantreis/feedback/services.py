"""Surveys: issued inside a message the journey sends, answered once by link.

The token in the link is derived from the send's idempotency key with an HMAC
keyed by the SECRET_KEY, so sending the same message again (a retry) carries
the same link without the token being stored anywhere: the database keeps
only its hash. Answering claims the survey with a conditional update, so two
answers racing each other cannot both count.
"""

import base64
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.customers.models import Customer
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.feedback.models import COMMENT_MAX, Survey
from klantreis.feedback.selectors import survey_get_by_token, token_hash

SALT = "klantreis.feedback.survey-link"
KEY_MAX = 80
CASE_MAX = 64
TOUCHPOINT_MAX = 40
SCORE_RANGES: dict[str, tuple[int, int]] = {Survey.Kind.CSAT: (1, 5)}

MESSAGE_SURVEY_UNKNOWN = _("We cannot find this survey. Please check that the link is complete.")
MESSAGE_SURVEY_EXPIRED = _("This survey has closed; answers can no longer be given.")
MESSAGE_SURVEY_ANSWERED = _("This survey has already been answered. Thank you!")
MESSAGE_SCORE_OUT_OF_RANGE = _("Please choose a score from %(low)d to %(high)d.")
MESSAGE_COMMENT_TOO_LONG = _("Please keep your comment to at most %(max)d characters.")
MESSAGE_COMMENT_UNSTORABLE = _("Your comment contains a character we cannot store. Please remove it.")
MESSAGE_SURVEY_KEY_REUSED = _("This key already belongs to a survey for another case or customer.")


def _token(key: str, *, secret: str | bytes | None = None) -> str:
    digest = salted_hmac(SALT, key, secret=secret, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _token_of(survey: Survey) -> str:
    """The token of an existing survey, derived again from its key. Links
    sent before the SECRET_KEY was rotated keep working through the
    fallbacks (answering needs only the hash, not the secret)."""
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        token = _token(survey.key, secret=secret)
        if token_hash(token) == survey.token_hash:
            return token
    raise RuntimeError(
        f"survey {survey.pk}'s link was made with a SECRET_KEY that is no longer configured "
        "(keep it in SECRET_KEY_FALLBACKS while its links are open)"
    )


def survey_issue(
    *,
    key: str,
    kind: str,
    case_id: str,
    customer: Customer,
    language: str,
    expires_at: datetime,
    touchpoint: str = "",
) -> str:
    """The token for the survey link of the send `key`; the survey is created
    on the first call and found again on every later one. Records no event:
    the send that carries the link is recorded by messaging."""
    if not key or len(key) > KEY_MAX:
        raise ValueError(f"a survey key has 1 to {KEY_MAX} characters")
    if kind not in SCORE_RANGES:
        raise ValueError(f"unknown kind of survey: {kind!r}")
    if not case_id or len(case_id) > CASE_MAX:
        raise ValueError(f"a survey's case has 1 to {CASE_MAX} characters")
    if language not in User.Language.values:
        raise ValueError(f"unknown survey language: {language!r}")
    if len(touchpoint) > TOUCHPOINT_MAX:
        raise ValueError(f"a touchpoint has at most {TOUCHPOINT_MAX} characters")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be an aware datetime")

    survey = Survey.objects.filter(key=key).first()
    if survey is None:
        now = clock.now()
        if expires_at <= now:
            raise ValueError("a survey must still be open when it is sent")
        token = _token(key)
        try:
            # A savepoint, so a lost race leaves the caller's transaction usable.
            with transaction.atomic():
                Survey.objects.create(
                    key=key,
                    kind=kind,
                    case_id=case_id,
                    customer=customer,
                    language=language,
                    touchpoint=touchpoint,
                    token_hash=token_hash(token),
                    created_at=now,
                    expires_at=expires_at,
                )
            return token
        except IntegrityError:
            # Another worker sent the same message at the same moment and
            # created the survey first; theirs is ours.
            survey = Survey.objects.filter(key=key).first()
            if survey is None:
                raise
    if (survey.kind, survey.case_id, survey.customer_id) != (kind, case_id, customer.pk):
        raise ApplicationError(MESSAGE_SURVEY_KEY_REUSED, field="key")
    return _token_of(survey)


def survey_check(*, token: str) -> Survey:
    """The survey behind `token` if it can still be answered; raises otherwise."""
    survey = survey_get_by_token(token=token)
    if survey is None:
        raise ApplicationError(MESSAGE_SURVEY_UNKNOWN, field="token")
    if survey.answered_at is not None:
        raise ApplicationError(MESSAGE_SURVEY_ANSWERED, field="token")
    if survey.expires_at <= clock.now():
        raise ApplicationError(MESSAGE_SURVEY_EXPIRED, field="token")
    return survey


def survey_answer(*, token: str, score: int, comment: str, channel: str = Event.Channel.PORTAL) -> Survey:
    """Record the customer's answer, once; the event `survey.answered` (without
    the comment's words) commits with it."""
    survey = survey_check(token=token)
    low, high = SCORE_RANGES[survey.kind]
    if not isinstance(score, int) or isinstance(score, bool) or not low <= score <= high:
        raise ApplicationError(MESSAGE_SCORE_OUT_OF_RANGE % {"low": low, "high": high}, field="score")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise ApplicationError(MESSAGE_COMMENT_TOO_LONG % {"max": COMMENT_MAX}, field="comment")
    if "\x00" in comment:  # PostgreSQL cannot store it in text
        raise ApplicationError(MESSAGE_COMMENT_UNSTORABLE, field="comment")
    if channel not in Event.Channel.values:
        raise ValueError(f"unknown channel: {channel!r}")

    now = clock.now()
    with transaction.atomic():
        # The claim: only the first of two racing answers finds the survey
        # open (and, checked again here, not expired in the meantime).
        claimed = Survey.objects.filter(pk=survey.pk, answered_at__isnull=True, expires_at__gt=now).update(
            answered_at=now, score=score, comment=comment
        )
        if claimed != 1:
            survey_check(token=token)  # says why: answered or expired
            raise ApplicationError(MESSAGE_SURVEY_ANSWERED, field="token")
        event_record(
            case_id=survey.case_id,
            activity="survey.answered",
            actor=survey.customer.user,
            channel=channel,
            layer=Event.Layer.DIGITAL,
            occurred_at=now,
            attributes={
                "survey": survey.pk,
                "kind": survey.kind,
                "score": score,
                "comment_given": bool(comment),
                "touchpoint": survey.touchpoint,
            },
        )
    survey.answered_at, survey.score, survey.comment = now, score, comment
    return survey
