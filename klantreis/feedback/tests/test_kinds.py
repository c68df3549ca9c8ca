"""Several kinds on one page (one row per kind, sharing the link) and the
moment question: issued once, answered together once, refused when a score
is missing or off its scale, nothing stored then."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from klantreis.core.errors import ApplicationError
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.feedback import services
from klantreis.feedback.models import Survey
from klantreis.feedback.selectors import survey_send_get
from klantreis.feedback.services import survey_answer, survey_check
from klantreis.feedback.tests.factories import issued, later

pytestmark = pytest.mark.django_db

THREE = ["csat", "nps", "ces"]


def test_a_send_of_three_kinds_is_three_rows_behind_one_link(fixed_clock):
    customer = CustomerFactory()

    token = issued(key="tp-3", kind=THREE, customer=customer)

    rows = list(Survey.objects.order_by("position").values_list("kind", "position", "key", "touchpoint"))
    assert rows == [("csat", 0, "tp-3", "survey"), ("nps", 1, "tp-3", "survey"), ("ces", 2, "tp-3", "survey")]
    assert len(set(Survey.objects.values_list("token_hash", flat=True))) == 1
    assert [q.kind for q in survey_send_get(token=token)] == THREE
    assert issued(key="tp-3", kind=THREE, customer=customer) == token  # a retry
    assert Survey.objects.count() == 3


def test_a_retry_asking_other_kinds_is_refused(fixed_clock):
    customer = CustomerFactory()
    issued(key="tp-3", kind=THREE, customer=customer)

    for kinds in (["csat", "nps"], ["nps", "csat", "ces"], "csat"):
        with pytest.raises(ApplicationError) as refused:
            issued(key="tp-3", kind=kinds, customer=customer)
        assert refused.value.message is services.MESSAGE_SURVEY_KEY_REUSED
    assert Survey.objects.count() == 3


@pytest.mark.parametrize(
    "kinds",
    [[], ["csat", "csat"], ["moment", "csat"], ["csat", "sms"]],
    ids=["none", "twice", "moment with others", "unknown"],
)
def test_a_send_must_ask_known_kinds_once_and_the_moment_alone(fixed_clock, kinds):
    with pytest.raises(ValueError, match=r"."):
        issued(kind=kinds)

    assert Survey.objects.count() == 0


def test_the_answer_to_all_three_is_stored_once_with_one_event(fixed_clock):
    token = issued(kind=THREE, case_id="R-2026-0042")

    questions = survey_answer(token=token, scores={"csat": 2, "nps": 0, "ces": 7}, comment="  Drie keer  ")

    stored = list(Survey.objects.order_by("position").values_list("kind", "score", "comment", "answered_at"))
    now = fixed_clock.now()
    assert stored == [("csat", 2, "Drie keer", now), ("nps", 0, "", now), ("ces", 7, "", now)]
    assert [(q.kind, q.score) for q in questions] == [("csat", 2), ("nps", 0), ("ces", 7)]
    [event] = Event.objects.filter(activity="survey.answered")
    assert event.case_id == "R-2026-0042"
    assert event.attributes == {
        "survey": questions[0].pk,
        "kind": "csat",
        "score": 2,
        "kinds": THREE,
        "csat": 2,
        "nps": 0,
        "ces": 7,
        "comment_given": True,
        "touchpoint": "survey",
    }
    with pytest.raises(ApplicationError) as again:
        survey_answer(token=token, scores={"csat": 5, "nps": 10, "ces": 7})
    assert again.value.message is services.MESSAGE_SURVEY_ANSWERED
    assert Event.objects.filter(activity="survey.answered").count() == 1


@pytest.mark.parametrize(
    ("scores", "field", "message"),
    [
        ({"csat": 4, "ces": 5}, "nps", services.MESSAGE_SCORE_MISSING),
        (
            {"csat": 4, "nps": 11, "ces": 5},
            "nps",
            str(services.MESSAGE_SCORE_OUT_OF_RANGE) % {"low": 0, "high": 10},
        ),
        (
            {"csat": 4, "nps": -1, "ces": 5},
            "nps",
            str(services.MESSAGE_SCORE_OUT_OF_RANGE) % {"low": 0, "high": 10},
        ),
        (
            {"csat": 4, "nps": 5, "ces": 0},
            "ces",
            str(services.MESSAGE_SCORE_OUT_OF_RANGE) % {"low": 1, "high": 7},
        ),
        (
            {"csat": 4, "nps": 5, "ces": 8},
            "ces",
            str(services.MESSAGE_SCORE_OUT_OF_RANGE) % {"low": 1, "high": 7},
        ),
        (
            {"csat": 0, "nps": 5, "ces": 5},
            "csat",
            str(services.MESSAGE_SCORE_OUT_OF_RANGE) % {"low": 1, "high": 5},
        ),
        (
            {"csat": 4, "nps": True, "ces": 5},
            "nps",
            str(services.MESSAGE_SCORE_OUT_OF_RANGE) % {"low": 0, "high": 10},
        ),
    ],
    ids=["nps missing", "nps 11", "nps -1", "ces 0", "ces 8", "csat 0", "nps bool"],
)
def test_a_missing_or_off_scale_score_names_its_question_and_stores_nothing(
    fixed_clock, scores, field, message
):
    token = issued(kind=THREE)

    with pytest.raises(ApplicationError) as refused:
        survey_answer(token=token, scores=scores, comment="Kept by the page")

    assert refused.value.field == field
    assert str(refused.value.message) == str(message)
    assert set(Survey.objects.values_list("answered_at", "score", "comment")) == {(None, None, "")}
    assert not Event.objects.filter(activity="survey.answered").exists()


def test_a_score_for_a_kind_not_asked_is_a_programming_error(fixed_clock):
    token = issued(kind="csat")

    with pytest.raises(ValueError, match="nps"):
        survey_answer(token=token, scores={"csat": 4, "nps": 9})

    assert Survey.objects.get().answered_at is None


def test_the_moment_question_names_its_moment_and_scores_one_to_five(fixed_clock):
    topic = {"nl": "Monteur onderweg", "en": "Technician on the way"}
    token = issued(kind="moment", touchpoint="on_the_way", topic=topic)

    with pytest.raises(ApplicationError):
        survey_answer(token=token, scores={"moment": 6})
    (question,) = survey_answer(token=token, scores={"moment": 1})

    assert (question.kind, question.score, question.topic) == ("moment", 1, topic)
    [event] = Event.objects.filter(activity="survey.answered")
    assert (event.attributes["moment"], event.attributes["touchpoint"]) == (1, "on_the_way")
    assert "csat" not in event.attributes


def test_an_expired_send_of_three_is_closed_for_all(fixed_clock):
    token = issued(kind=THREE, expires_at=later(1))
    fixed_clock.advance(timedelta(days=1))

    with pytest.raises(ApplicationError) as closed:
        survey_check(token=token)

    assert closed.value.message is services.MESSAGE_SURVEY_EXPIRED


@pytest.mark.parametrize(
    ("kind", "score"),
    [("nps", 11), ("nps", -1), ("ces", 0), ("ces", 8), ("moment", 0), ("moment", 6)],
)
def test_the_database_refuses_a_score_off_its_kinds_scale(fixed_clock, kind, score):
    issued(kind=kind)

    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.update(answered_at=fixed_clock.now(), score=score)


def test_the_database_keeps_the_comment_on_the_first_question_only(fixed_clock):
    issued(kind=THREE)

    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.update(answered_at=fixed_clock.now(), score=5, comment="twice")
