import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, connections, transaction

from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.errors import ApplicationError
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.feedback import services
from klantreis.feedback.models import Survey
from klantreis.feedback.selectors import survey_get_by_token
from klantreis.feedback.services import survey_answer, survey_check
from klantreis.feedback.tests.factories import issued

pytestmark = pytest.mark.django_db


def answered_events() -> list[Event]:
    return list(Event.objects.filter(activity="survey.answered"))


# Issuing


def test_the_same_key_gives_the_same_token_and_one_survey(fixed_clock):
    customer = CustomerFactory()

    first = issued(key="tp-41", customer=customer)
    fixed_clock.advance(timedelta(minutes=5))  # a retry of the same send, later
    second = issued(key="tp-41", customer=customer)

    assert second == first
    assert len(first) == 43  # 32 bytes of HMAC, URL-safe base64 without padding
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    survey = Survey.objects.get()
    assert survey.key == "tp-41"
    assert survey.token_hash == hashlib.sha256(first.encode()).hexdigest()
    assert survey.created_at == fixed_clock.now() - timedelta(minutes=5)
    assert (survey.kind, survey.case_id, survey.customer, survey.language, survey.touchpoint) == (
        "csat",
        "R-2026-0001",
        customer,
        "nl",
        "survey",
    )
    assert (survey.answered_at, survey.score, survey.comment) == (None, None, "")
    # The token itself is stored nowhere.
    assert first not in json.dumps(list(Survey.objects.values()), default=str)
    assert Event.objects.count() == 0  # the send is recorded by messaging, not here


def test_other_keys_give_other_tokens(fixed_clock):
    customer = CustomerFactory()

    tokens = {issued(key=f"tp-{n}", customer=customer) for n in range(5)}

    assert len(tokens) == 5
    assert Survey.objects.count() == 5


def test_the_token_depends_on_the_secret_key(fixed_clock, settings):
    token = issued(key="tp-1")
    settings.SECRET_KEY = "another secret key, of at least fifty characters, for the test"

    assert services._token("tp-1") != token


def test_a_key_reused_for_another_case_or_customer_is_refused(fixed_clock):
    customer = CustomerFactory()
    issued(key="tp-7", customer=customer)

    with pytest.raises(ApplicationError) as other_case:
        issued(key="tp-7", customer=customer, case_id="R-2026-0002")
    with pytest.raises(ApplicationError) as other_customer:
        issued(key="tp-7", customer=CustomerFactory())

    assert other_case.value.message is services.MESSAGE_SURVEY_KEY_REUSED
    assert other_customer.value.message is services.MESSAGE_SURVEY_KEY_REUSED
    assert Survey.objects.count() == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"key": ""},
        {"key": "k" * 81},
        {"kind": "sms"},
        {"case_id": ""},
        {"case_id": "c" * 65},
        {"language": "de"},
        {"touchpoint": "t" * 41},
        {"expires_at": datetime(2026, 3, 17, 9, 30)},  # noqa: DTZ001 (naive on purpose)
        {"expires_at": datetime(2026, 3, 10, 8, 0, tzinfo=UTC)},  # the clock says 08:30 UTC
    ],
    ids=["empty key", "long key", "kind", "no case", "long case", "language", "touchpoint", "naive", "past"],
)
def test_bad_arguments_create_no_survey(fixed_clock, overrides):
    with pytest.raises(ValueError, match=r"."):
        issued(**overrides)

    assert Survey.objects.count() == 0


def test_an_80_character_key_is_fine(fixed_clock):
    token = issued(key="k" * 80)

    assert survey_get_by_token(token=token).key == "k" * 80


def test_a_retry_after_the_secret_key_was_rotated_finds_the_old_link(fixed_clock, settings):
    customer = CustomerFactory()
    old_secret = settings.SECRET_KEY
    token = issued(key="tp-9", customer=customer)

    settings.SECRET_KEY = "the new secret key, of at least fifty characters, for the test"
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert issued(key="tp-9", customer=customer) == token

    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(RuntimeError, match="SECRET_KEY_FALLBACKS"):
        issued(key="tp-9", customer=customer)
    # Answering needs only the hash: the link sent before still works.
    assert survey_answer(token=token, scores={"csat": 4}, comment="")[0].score == 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs a second connection blocking on the unique index; the suite also runs on PostgreSQL",
)
def test_two_workers_issuing_the_same_key_at_once_share_one_survey_on_postgresql():
    """The first worker has created the survey but not committed; the second
    finds nothing, blocks on the unique key, gets the IntegrityError when the
    first commits, and answers with the first one's survey. Both run inside a
    transaction of their own (as a send does), which the savepoint keeps usable."""
    at = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    with use_clock(FixedClock(at)):
        customer = CustomerFactory()
    created, commit_first = threading.Event(), threading.Event()
    tokens: dict[str, str] = {}

    def send(name: str, hold: bool = False) -> None:
        try:
            with use_clock(FixedClock(at)), transaction.atomic():
                tokens[name] = issued(key="tp-race", customer=customer)
                if hold:
                    created.set()
                    commit_first.wait(timeout=20)
        finally:
            created.set()
            connections.close_all()

    first = threading.Thread(target=send, args=("first", True))
    first.start()
    assert created.wait(timeout=20)
    second = threading.Thread(target=send, args=("second",))
    second.start()
    second.join(timeout=1)
    assert second.is_alive()  # waiting on the first one's uncommitted row
    commit_first.set()
    first.join(timeout=20)
    second.join(timeout=20)

    assert tokens["first"] == tokens["second"]
    assert Survey.objects.filter(key="tp-race").count() == 1


# Answering


def test_an_answer_is_stored_once_with_its_event(fixed_clock):
    customer = CustomerFactory(user__language="en")
    token = issued(key="tp-5", customer=customer, case_id="R-2026-0042", touchpoint="survey")
    fixed_clock.advance(timedelta(hours=3))

    (survey,) = survey_answer(token=token, scores={"csat": 4}, comment="  Netjes gewerkt, wel laat.  ")

    stored = Survey.objects.get()
    assert stored.pk == survey.pk
    assert (stored.answered_at, stored.score, stored.comment) == (
        fixed_clock.now(),
        4,
        "Netjes gewerkt, wel laat.",
    )
    assert (survey.answered_at, survey.score, survey.comment) == (
        stored.answered_at,
        stored.score,
        stored.comment,
    )
    [event] = answered_events()
    assert event.case_id == "R-2026-0042"
    assert event.actor == customer.user
    assert event.role == "customer"
    assert event.channel == Event.Channel.PORTAL
    assert event.layer == Event.Layer.DIGITAL
    assert event.occurred_at == fixed_clock.now()
    assert event.attributes == {
        "survey": stored.pk,
        "kind": "csat",
        "score": 4,
        "kinds": ["csat"],
        "csat": 4,
        "comment_given": True,
        "touchpoint": "survey",
    }
    assert "Netjes" not in json.dumps(event.attributes)


def test_an_answer_without_comment_says_so_in_the_event(fixed_clock):
    token = issued()

    survey_answer(token=token, scores={"csat": 1}, comment="   ")

    [event] = answered_events()
    assert event.attributes["comment_given"] is False
    assert event.attributes["score"] == 1
    assert Survey.objects.get().comment == ""


def test_the_channel_is_recorded_and_must_be_a_known_one(fixed_clock):
    first, second = issued(key="tp-1"), issued(key="tp-2")

    with pytest.raises(ValueError, match="channel"):
        survey_answer(token=first, scores={"csat": 3}, comment="", channel="pigeon")
    survey_answer(token=second, scores={"csat": 3}, comment="", channel=Event.Channel.PHONE)

    assert [e.channel for e in answered_events()] == ["phone"]
    assert Survey.objects.get(key="tp-1").answered_at is None


def test_a_second_answer_is_refused_and_the_first_one_stays(fixed_clock):
    token = issued()
    survey_answer(token=token, scores={"csat": 5}, comment="Top")
    fixed_clock.advance(timedelta(minutes=1))

    with pytest.raises(ApplicationError) as refused:
        survey_answer(token=token, scores={"csat": 1}, comment="Changed my mind")

    assert refused.value.message is services.MESSAGE_SURVEY_ANSWERED
    assert refused.value.field == "token"
    survey = Survey.objects.get()
    assert (survey.score, survey.comment) == (5, "Top")
    assert len(answered_events()) == 1


def test_the_survey_closes_at_the_moment_it_expires(fixed_clock):
    customer = CustomerFactory()
    closes = fixed_clock.now() + timedelta(days=7)
    just_in_time = issued(key="tp-1", customer=customer, expires_at=closes)
    too_late = issued(key="tp-2", customer=customer, expires_at=closes)

    fixed_clock.set(closes - timedelta(microseconds=1))
    survey_answer(token=just_in_time, scores={"csat": 3}, comment="")
    fixed_clock.set(closes)
    with pytest.raises(ApplicationError) as refused:
        survey_answer(token=too_late, scores={"csat": 3}, comment="")
    with pytest.raises(ApplicationError) as checked:
        survey_check(token=too_late)

    assert refused.value.message is services.MESSAGE_SURVEY_EXPIRED
    assert checked.value.message is services.MESSAGE_SURVEY_EXPIRED
    assert Survey.objects.get(key="tp-1").score == 3
    assert Survey.objects.get(key="tp-2").answered_at is None
    assert len(answered_events()) == 1


@pytest.mark.parametrize("score", [0, 6, -1, 100, "3", 3.0, 4.5, True])
def test_a_score_outside_the_scale_or_not_a_whole_number_is_refused(fixed_clock, score):
    token = issued()

    with pytest.raises(ApplicationError) as refused:
        survey_answer(token=token, scores={"csat": score}, comment="")

    assert refused.value.field == "csat"
    assert refused.value.message == str(services.MESSAGE_SCORE_OUT_OF_RANGE) % {"low": 1, "high": 5}
    assert Survey.objects.get().answered_at is None
    assert answered_events() == []


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_every_score_on_the_scale_is_taken(fixed_clock, score):
    token = issued()

    assert survey_answer(token=token, scores={"csat": score}, comment="")[0].score == score


def test_a_comment_over_2000_characters_is_refused_and_2000_is_fine(fixed_clock):
    too_long, just_right = issued(key="tp-1"), issued(key="tp-2")

    with pytest.raises(ApplicationError) as refused:
        survey_answer(token=too_long, scores={"csat": 2}, comment="x" * 2001)
    survey_answer(token=just_right, scores={"csat": 2}, comment="x" * 2000)

    assert refused.value.field == "comment"
    assert refused.value.message == str(services.MESSAGE_COMMENT_TOO_LONG) % {"max": 2000}
    assert Survey.objects.get(key="tp-1").answered_at is None
    assert len(Survey.objects.get(key="tp-2").comment) == 2000
    assert len(answered_events()) == 1


def test_a_comment_with_a_null_character_is_refused(fixed_clock):
    token = issued()

    with pytest.raises(ApplicationError) as refused:
        survey_answer(token=token, scores={"csat": 2}, comment="ok\x00")

    assert refused.value.message is services.MESSAGE_COMMENT_UNSTORABLE
    assert Survey.objects.get().answered_at is None


def test_a_comment_with_html_is_stored_as_the_text_typed(fixed_clock):
    hostile = "<script>alert('x')</script> <img src=x onerror=alert(1)> & \"quotes\" 🙂"
    token = issued()

    survey_answer(token=token, scores={"csat": 1}, comment=hostile)

    assert Survey.objects.get().comment == hostile


def test_the_token_of_one_survey_cannot_answer_another(fixed_clock):
    customer = CustomerFactory()
    mine = issued(key="tp-1", customer=customer)
    issued(key="tp-2", customer=customer)

    survey_answer(token=mine, scores={"csat": 5}, comment="")

    assert Survey.objects.get(key="tp-1").score == 5
    assert Survey.objects.get(key="tp-2").answered_at is None
    [event] = answered_events()
    assert event.attributes["survey"] == Survey.objects.get(key="tp-1").pk


@pytest.mark.parametrize(
    "token",
    ["", "nonsense", "x" * 43, "x" * 10_000, "tp-1", "0" * 64],
    ids=["empty", "nonsense", "token-shaped", "huge", "the key", "a hash"],
)
def test_an_unknown_token_is_refused(fixed_clock, token):
    real = issued(key="tp-1")
    stored_hash = Survey.objects.get().token_hash

    for guess in [token, real[:-1], real + "A", real.upper(), stored_hash]:
        with pytest.raises(ApplicationError) as refused:
            survey_answer(token=guess, scores={"csat": 3}, comment="")
        assert refused.value.message is services.MESSAGE_SURVEY_UNKNOWN
        assert survey_get_by_token(token=guess) is None
    assert Survey.objects.get().answered_at is None
    assert answered_events() == []


# The database's own guards, for writes that bypass the service


@pytest.mark.parametrize(
    "changes",
    [
        {"score": 6},
        {"score": 0},
        {"score": None},  # answered without a score
        {"comment": "x" * 2001},
    ],
    ids=["6", "0", "no score", "long comment"],
)
def test_the_database_refuses_impossible_answers(fixed_clock, changes):
    issued()

    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.update(**{"answered_at": fixed_clock.now(), "score": 3} | changes)


def test_the_database_refuses_a_score_without_an_answer(fixed_clock):
    issued()

    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.update(score=3)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs a second connection blocking on the row; the suite also runs on PostgreSQL",
)
def test_two_answers_racing_count_once_on_postgresql():
    at = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    with use_clock(FixedClock(at)):
        token = issued()
    first_answered, commit_first = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def answer(name: str, score: int, hold: bool = False) -> None:
        try:
            with use_clock(FixedClock(at)), transaction.atomic():
                survey_answer(token=token, scores={"csat": score}, comment=name)
                if hold:
                    first_answered.set()
                    commit_first.wait(timeout=20)
            outcomes[name] = "answered"
        except ApplicationError as error:
            outcomes[name] = str(error.message)
        finally:
            first_answered.set()
            connections.close_all()

    first = threading.Thread(target=answer, args=("first", 5, True))
    first.start()
    assert first_answered.wait(timeout=20)
    second = threading.Thread(target=answer, args=("second", 1))
    second.start()
    second.join(timeout=1)
    assert second.is_alive()  # its claim waits for the first one's row lock
    commit_first.set()
    first.join(timeout=20)
    second.join(timeout=20)

    assert outcomes == {"first": "answered", "second": str(services.MESSAGE_SURVEY_ANSWERED)}
    survey = Survey.objects.get()
    assert (survey.score, survey.comment) == (5, "first")
    assert len(answered_events()) == 1
