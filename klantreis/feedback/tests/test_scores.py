"""survey_scores matches the issue's definitions exactly: CSAT is the % of
answers 4 or 5; NPS the % promoters (9–10) minus the % detractors (0–6) over
everyone who answered, passives (7–8) included; CES the mean of 1–7; None
when nobody answered. Nothing is rounded."""

import itertools

import pytest

from klantreis.customers.tests.factories import CustomerFactory
from klantreis.feedback.models import Survey
from klantreis.feedback.selectors import MomentScore, SurveyScores, survey_moment_scores, survey_scores
from klantreis.feedback.services import survey_answer
from klantreis.feedback.tests.factories import issued

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)
NONE = {"csat": 0, "nps": 0, "ces": 0, "moment": 0}


@pytest.fixture
def customer(db):
    return CustomerFactory()


def send(customer, kinds, scores=None, *, case_id="R-2026-0001", touchpoint="survey"):
    token = issued(
        key=f"tp-{next(_keys)}", kind=kinds, customer=customer, case_id=case_id, touchpoint=touchpoint
    )
    if scores is not None:
        survey_answer(token=token, scores=scores)


def answers(customer, kind, values):
    for value in values:
        send(customer, kind, {kind: value})


def scores() -> SurveyScores:
    return survey_scores(surveys=Survey.objects.all())


def test_nobody_asked_gives_no_numbers(fixed_clock):
    assert scores() == SurveyScores(csat=None, nps=None, ces=None, answered=NONE, sent=NONE)


def test_sent_but_not_answered_gives_no_numbers_and_counts_the_sends(fixed_clock, customer):
    send(customer, ["csat", "nps", "ces"])
    send(customer, "nps")

    assert scores() == SurveyScores(
        csat=None,
        nps=None,
        ces=None,
        answered=NONE,
        sent={"csat": 1, "nps": 2, "ces": 1, "moment": 0},
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, 3, 4, 5], 40.0),
        ([4, 5], 100.0),
        ([3], 0.0),
        ([1, 4, 3], 100 / 3),  # 33.333…, not rounded
    ],
)
def test_csat_is_the_share_of_fours_and_fives(fixed_clock, customer, values, expected):
    answers(customer, "csat", values)

    result = scores()

    assert result.csat == expected
    assert result.answered["csat"] == len(values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([10, 9, 8, 7, 6, 0], 0.0),  # 2 promoters, 2 passives, 2 detractors
        ([7, 8, 7], 0.0),  # all passives: zero, not None
        ([9, 10], 100.0),
        ([0, 6], -100.0),
        ([9, 9, 7], 200 / 3),  # passives count in the denominator: 66.666…
        ([6], -100.0),  # 6 is a detractor
        ([7], 0.0),  # 7 is passive
        ([8], 0.0),  # 8 is passive
        ([9], 100.0),  # 9 is a promoter
        ([10, 5, 8, 8], 0.0),
        ([10, 9, 1, 7, 7, 7, 7], 100 / 7),
    ],
)
def test_nps_is_promoters_minus_detractors_over_all_who_answered(fixed_clock, customer, values, expected):
    answers(customer, "nps", values)

    assert scores().nps == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1, 7, 6], 14 / 3), ([7], 7.0), ([1, 1], 1.0), ([2, 3, 3, 4], 3.0)],
)
def test_ces_is_the_mean_answer(fixed_clock, customer, values, expected):
    answers(customer, "ces", values)

    assert scores().ces == pytest.approx(expected, rel=1e-12)


def test_unanswered_sends_are_not_in_the_denominator(fixed_clock, customer):
    answers(customer, "csat", [5])
    answers(customer, "nps", [10, 0])
    send(customer, "csat")
    send(customer, "nps")

    result = scores()

    assert (result.csat, result.nps) == (100.0, 0.0)
    assert result.answered == {"csat": 1, "nps": 2, "ces": 0, "moment": 0}
    assert result.sent == {"csat": 2, "nps": 3, "ces": 0, "moment": 0}


def test_a_combined_send_counts_each_kind_and_moments_count_as_none_of_them(fixed_clock, customer):
    send(customer, ["csat", "nps", "ces"], {"csat": 2, "nps": 9, "ces": 5})
    send(customer, "moment", {"moment": 5}, touchpoint="on_the_way")

    result = scores()

    assert (result.csat, result.nps, result.ces) == (0.0, 100.0, 5.0)
    assert result.answered == {"csat": 1, "nps": 1, "ces": 1, "moment": 1}


def test_only_the_surveys_given_count(fixed_clock, customer):
    answers(customer, "csat", [5])
    send(customer, "csat", {"csat": 1}, case_id="R-2026-0002")

    result = survey_scores(surveys=Survey.objects.filter(case_id="R-2026-0002"))

    assert result.csat == 0.0
    assert result.sent["csat"] == 1


def test_the_moment_means_per_touchpoint(fixed_clock, customer):
    for value in (5, 4, 4):
        send(customer, "moment", {"moment": value}, touchpoint="on_the_way")
    send(customer, "moment", {"moment": 1}, touchpoint="not_fixed")
    send(customer, "moment", touchpoint="not_home")  # asked, not answered
    send(customer, "csat", {"csat": 1}, touchpoint="on_the_way")  # not a moment

    assert survey_moment_scores(surveys=Survey.objects.all()) == {
        "on_the_way": MomentScore(touchpoint="on_the_way", mean=13 / 3, answers=3),
        "not_fixed": MomentScore(touchpoint="not_fixed", mean=1.0, answers=1),
    }
