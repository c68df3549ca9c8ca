import hashlib
from dataclasses import dataclass

from django.db.models import Avg, Count, Q, QuerySet

from klantreis.feedback.models import Survey

# Longer than any token we hand out (43 characters); longer input is not
# hashed at all.
TOKEN_MAX_LENGTH = 128


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def survey_send_get(*, token: str) -> list[Survey]:
    """The questions of the send a link's token belongs to, in the order the
    page asks them; answered or not, expired or not; [] for no such send.

    Found by the token's hash, so no secret is compared character by
    character and the response time says nothing about a guessed token.
    """
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return []
    return list(
        Survey.objects.select_related("customer__user")
        .filter(token_hash=token_hash(token))
        .order_by("position")
    )


def survey_get_by_token(*, token: str) -> Survey | None:
    """The first question of the send a link's token belongs to (it holds the comment)."""
    questions = survey_send_get(token=token)
    return questions[0] if questions else None


def survey_keys_for_case(*, case_id: str) -> set[str]:
    """The send keys of the case's surveys: the message with that key carried the link."""
    return set(Survey.objects.filter(case_id=case_id).values_list("key", flat=True))


@dataclass(frozen=True)
class SurveyScores:
    """The survey metrics over a set of surveys, unrounded; None where nobody answered."""

    csat: float | None  # % of the CSAT answers that are 4 or 5
    nps: float | None  # % promoters (9–10) minus % detractors (0–6), over all NPS answers
    ces: float | None  # the mean CES answer, 1–7
    answered: dict[str, int]  # per kind
    sent: dict[str, int]  # per kind


def survey_scores(*, surveys: QuerySet[Survey]) -> SurveyScores:
    """CSAT, NPS and CES as the issue defines them, in one query."""
    answered = Q(answered_at__isnull=False)
    rows = (
        surveys.order_by()
        .values("kind")
        .annotate(
            sent=Count("pk"),
            answered=Count("pk", filter=answered),
            satisfied=Count("pk", filter=answered & Q(score__gte=4)),
            promoters=Count("pk", filter=answered & Q(score__gte=9)),
            detractors=Count("pk", filter=answered & Q(score__lte=6)),
            mean=Avg("score", filter=answered),
        )
    )
    by_kind = {row["kind"]: row for row in rows}
    kinds = Survey.Kind.values

    def metric(kind: str) -> float | None:
        row = by_kind.get(kind)
        if row is None or not row["answered"]:
            return None
        count: int = row["answered"]
        if kind == Survey.Kind.CSAT:
            return 100 * int(row["satisfied"]) / count
        if kind == Survey.Kind.NPS:
            return 100 * (int(row["promoters"]) - int(row["detractors"])) / count
        return float(row["mean"])

    return SurveyScores(
        csat=metric(Survey.Kind.CSAT),
        nps=metric(Survey.Kind.NPS),
        ces=metric(Survey.Kind.CES),
        answered={kind: by_kind[kind]["answered"] if kind in by_kind else 0 for kind in kinds},
        sent={kind: by_kind[kind]["sent"] if kind in by_kind else 0 for kind in kinds},
    )


@dataclass(frozen=True)
class MomentScore:
    touchpoint: str
    mean: float  # 1–5
    answers: int


def survey_moment_scores(*, surveys: QuerySet[Survey]) -> dict[str, MomentScore]:
    """The mean answer to "how was this moment?" per touchpoint id, for the
    touchpoints someone answered it for."""
    rows = (
        surveys.filter(kind=Survey.Kind.MOMENT, answered_at__isnull=False)
        .order_by()
        .values("touchpoint")
        .annotate(mean=Avg("score"), answers=Count("pk"))
    )
    return {
        row["touchpoint"]: MomentScore(
            touchpoint=row["touchpoint"], mean=float(row["mean"]), answers=row["answers"]
        )
        for row in rows
    }
