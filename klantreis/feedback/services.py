"""Surveys: issued inside a message the journey sends, answered once by link.

One send may ask several kinds of question on one page (one Survey row per
kind, sharing the token); the customer answers them together, once.

The token in the link is derived from the send's idempotency key with an HMAC
keyed by the SECRET_KEY, so sending the same message again (a retry) carries
the same link without the token being stored anywhere: the database keeps
only its hash. Answering claims the survey with a conditional update, so two
answers racing each other cannot both count.
"""

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Value, When
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.customers.models import Customer
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.feedback.models import COMMENT_MAX, Survey
from klantreis.feedback.selectors import survey_send_get, token_hash

SALT = "klantreis.feedback.survey-link"
KEY_MAX = 80
CASE_MAX = 64
TOUCHPOINT_MAX = 40
SCORE_RANGES: dict[str, tuple[int, int]] = {
    Survey.Kind.CSAT: (1, 5),
    Survey.Kind.NPS: (0, 10),
    Survey.Kind.CES: (1, 7),
    Survey.Kind.MOMENT: (1, 5),
}
TOPIC_MAX = 200

MESSAGE_SURVEY_UNKNOWN = _("We cannot find this survey. Please check that the link is complete.")
MESSAGE_SURVEY_EXPIRED = _("This survey has closed; answers can no longer be given.")
MESSAGE_SURVEY_ANSWERED = _("This survey has already been answered. Thank you!")
MESSAGE_SCORE_MISSING = _("Please choose a score.")
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


def _kinds(kind: str | Sequence[str]) -> tuple[str, ...]:
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    if not kinds:
        raise ValueError("a survey asks at least one question")
    for one in kinds:
        if one not in SCORE_RANGES:
            raise ValueError(f"unknown kind of survey: {one!r}")
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"a survey asks each kind once: {kinds!r}")
    if Survey.Kind.MOMENT in kinds and len(kinds) > 1:
        raise ValueError("the moment question is asked on its own")
    return kinds


def survey_issue(
    *,
    key: str,
    kind: str | Sequence[str],
    case_id: str,
    customer: Customer,
    language: str,
    expires_at: datetime,
    touchpoint: str = "",
    topic: Mapping[str, str] | None = None,
) -> str:
    """The token for the survey link of the send `key`; the survey is created
    on the first call and found again on every later one. `kind` is one kind,
    or several asked together on one page in this order. `topic` is what the
    touchpoint is called per language (a moment question names its moment).
    Records no event: the send that carries the link is recorded by messaging."""
    kinds = _kinds(kind)
    if not key or len(key) > KEY_MAX:
        raise ValueError(f"a survey key has 1 to {KEY_MAX} characters")
    if not case_id or len(case_id) > CASE_MAX:
        raise ValueError(f"a survey's case has 1 to {CASE_MAX} characters")
    if language not in User.Language.values:
        raise ValueError(f"unknown survey language: {language!r}")
    if len(touchpoint) > TOUCHPOINT_MAX:
        raise ValueError(f"a touchpoint has at most {TOUCHPOINT_MAX} characters")
    topic = dict(topic or {})
    if any(lang not in User.Language.values or len(str(text)) > TOPIC_MAX for lang, text in topic.items()):
        raise ValueError(f"a topic has texts of at most {TOPIC_MAX} characters in known languages")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be an aware datetime")

    questions = list(Survey.objects.filter(key=key).order_by("position"))
    if not questions:
        now = clock.now()
        if expires_at <= now:
            raise ValueError("a survey must still be open when it is sent")
        token = _token(key)
        try:
            # A savepoint, so a lost race leaves the caller's transaction usable.
            with transaction.atomic():
                Survey.objects.bulk_create(
                    Survey(
                        key=key,
                        kind=one,
                        position=position,
                        case_id=case_id,
                        customer=customer,
                        language=language,
                        touchpoint=touchpoint,
                        topic=topic,
                        token_hash=token_hash(token),
                        created_at=now,
                        expires_at=expires_at,
                    )
                    for position, one in enumerate(kinds)
                )
            return token
        except IntegrityError:
            # Another worker sent the same message at the same moment and
            # created the survey first; theirs is ours.
            questions = list(Survey.objects.filter(key=key).order_by("position"))
            if not questions:
                raise
    first = questions[0]
    if (tuple(q.kind for q in questions), first.case_id, first.customer_id) != (kinds, case_id, customer.pk):
        raise ApplicationError(MESSAGE_SURVEY_KEY_REUSED, field="key")
    return _token_of(first)


def survey_check(*, token: str) -> list[Survey]:
    """The questions of the send behind `token` if it can still be answered; raises otherwise."""
    questions = survey_send_get(token=token)
    if not questions:
        raise ApplicationError(MESSAGE_SURVEY_UNKNOWN, field="token")
    if questions[0].answered_at is not None:
        raise ApplicationError(MESSAGE_SURVEY_ANSWERED, field="token")
    if questions[0].expires_at <= clock.now():
        raise ApplicationError(MESSAGE_SURVEY_EXPIRED, field="token")
    return questions


def survey_answer(
    *, token: str, scores: Mapping[str, int], comment: str = "", channel: str = Event.Channel.PORTAL
) -> list[Survey]:
    """Record the customer's answer to every question of the send, once; the
    event `survey.answered` (with each kind's score under its own name, e.g.
    `csat`, `nps`, `ces`, `moment`, and without the comment's words) commits
    with it. Errors name the kind whose score is wrong as their field."""
    questions = survey_check(token=token)
    kinds = [question.kind for question in questions]
    unknown = sorted(set(scores) - set(kinds))
    if unknown:
        raise ValueError(f"this survey does not ask {unknown!r}")
    for kind in kinds:
        low, high = SCORE_RANGES[kind]
        score = scores.get(kind)
        if score is None:
            raise ApplicationError(MESSAGE_SCORE_MISSING, field=kind)
        if not isinstance(score, int) or isinstance(score, bool) or not low <= score <= high:
            raise ApplicationError(MESSAGE_SCORE_OUT_OF_RANGE % {"low": low, "high": high}, field=kind)
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise ApplicationError(MESSAGE_COMMENT_TOO_LONG % {"max": COMMENT_MAX}, field="comment")
    if "\x00" in comment:  # PostgreSQL cannot store it in text
        raise ApplicationError(MESSAGE_COMMENT_UNSTORABLE, field="comment")
    if channel not in Event.Channel.values:
        raise ValueError(f"unknown channel: {channel!r}")

    first = questions[0]
    now = clock.now()
    with transaction.atomic():
        # The claim: one statement answers every question of the send, and
        # only the first of two racing answers finds them open (and, checked
        # again here, not expired in the meantime).
        claimed = Survey.objects.filter(
            token_hash=first.token_hash, answered_at__isnull=True, expires_at__gt=now
        ).update(
            answered_at=now,
            score=Case(*(When(kind=kind, then=Value(scores[kind])) for kind in kinds)),
            comment=Case(When(position=0, then=Value(comment)), default=Value("")),
        )
        if claimed != len(questions):
            if claimed:  # pragma: no cover - the rows of a send are answered together
                raise RuntimeError(f"survey {first.key!r} was answered in part")
            survey_check(token=token)  # says why: answered or expired
            raise ApplicationError(MESSAGE_SURVEY_ANSWERED, field="token")
        event_record(
            case_id=first.case_id,
            activity="survey.answered",
            actor=first.customer.user,
            channel=channel,
            layer=Event.Layer.DIGITAL,
            occurred_at=now,
            attributes={
                "survey": first.pk,
                # The first question's kind and score, as before several
                # kinds could be asked together; conditions in a journey
                # definition should name the kind (`csat`, `nps`, …).
                "kind": first.kind,
                "score": scores[first.kind],
                "kinds": kinds,
                **{kind: scores[kind] for kind in kinds},
                "comment_given": bool(comment),
                "touchpoint": first.touchpoint,
            },
        )
    for question in questions:
        question.answered_at, question.score = now, scores[question.kind]
    first.comment = comment
    return questions
