"""The survey page for several kinds and for the moment question: one
fieldset per question with its legend, the scale's ends spelled out, in the
survey's language; bad input gets an error at its question and keeps
everything typed and chosen."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from klantreis.core.models import Organisation
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.feedback.models import Survey
from klantreis.feedback.tests.factories import issued

pytestmark = pytest.mark.django_db

THREE = ["csat", "nps", "ces"]
HOSTILE = "<script>alert('x')</script><b onmouseover=alert(1)>vet</b> & co"


@pytest.fixture(autouse=True)
def organisation(db):
    return Organisation.objects.create(name="Woonstede", emergency_phone="112", service_phone="030 123 45 67")


def url(token: str) -> str:
    return reverse("feedback:answer", kwargs={"token": token})


def html(response) -> str:
    return response.content.decode()


def radios(page: str, name: str) -> list[tuple[str, str]]:
    return re.findall(rf'<input type="radio" name="{name}" value="(\d+)"[^>]*> <span>([^<]+)</span>', page)


def checked(page: str, name: str) -> list[str]:
    return re.findall(rf'<input type="radio" name="{name}" value="(\d+)"[^>]*checked', page)


def test_three_questions_each_in_its_fieldset_with_the_ends_of_the_scale_in_english(client, fixed_clock):
    token = issued(kind=THREE, language="en")

    response = client.get(url(token))

    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    page = html(response)
    assert page.count("<fieldset") == 3
    assert re.findall(r'<fieldset id="id_(\w+)"', page) == THREE
    assert "<legend>How satisfied are you with the repair?</legend>" in page
    assert (
        "<legend>How likely are you to recommend our repair service to a friend or neighbour?</legend>"
        in page
    )
    assert "<legend>How easy was it to get your repair done?</legend>" in page
    assert radios(page, "nps") == [
        ("0", "0 – Not at all likely"),
        *[(str(n), str(n)) for n in range(1, 10)],
        ("10", "10 – Extremely likely"),
    ]
    assert radios(page, "ces") == [
        ("1", "1 – Very difficult"),
        *[(str(n), str(n)) for n in range(2, 7)],
        ("7", "7 – Very easy"),
    ]
    # The hint that says what the numbers mean belongs to the group.
    assert re.search(r'<fieldset id="id_nps" class="survey-question" aria-describedby="nps-hint">', page)
    assert '<p class="helptext" id="nps-hint">0 means not at all likely, 10 extremely likely.</p>' in page
    assert '<ul class="choices scale">' in page
    assert page.count('<textarea name="comment"') == 1
    assert "<script src" not in page.split("<main", 1)[1]  # the page needs no script of its own


def test_the_page_is_in_dutch_for_a_dutch_survey(client, fixed_clock):
    token = issued(kind=THREE, language="nl")

    page = html(client.get(url(token)))

    assert '<html lang="nl">' in page
    assert "<legend>Hoe tevreden bent u over de reparatie?</legend>" in page


def test_all_three_answered_are_stored_and_thanked_for(client, fixed_clock):
    token = issued(kind=THREE)

    response = client.post(url(token), {"csat": "5", "nps": "10", "ces": "6", "comment": "Top"})

    assert response.status_code == 302
    assert response["Location"] == reverse("feedback:thanks", kwargs={"token": token})
    assert list(Survey.objects.order_by("position").values_list("score", "comment")) == [
        (5, "Top"),
        (10, ""),
        (6, ""),
    ]
    assert Event.objects.filter(activity="survey.answered").count() == 1


def test_a_missing_answer_is_shown_at_its_question_and_the_rest_is_kept(client, fixed_clock):
    token = issued(kind=THREE, language="en")

    response = client.post(url(token), {"csat": "2", "ces": "7", "comment": HOSTILE})

    assert response.status_code == 422
    page = html(response)
    assert re.search(
        r'<fieldset id="id_nps" class="survey-question field-error" aria-describedby="nps-hint nps-error">\s*'
        r"<legend>[^<]+</legend>\s*<p[^>]*>[^<]+</p>\s*"
        r'<ul class="errorlist" id="nps-error"><li>Please choose a score.</li></ul>',
        page,
    )
    assert '<li><a href="#id_nps">Please choose a score.</a></li>' in page
    assert (checked(page, "csat"), checked(page, "nps"), checked(page, "ces")) == (["2"], [], ["7"])
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert set(Survey.objects.values_list("answered_at", flat=True)) == {None}


@pytest.mark.parametrize("nps", ["11", "-1", "9.5", "tien", "1" * 300])
def test_a_score_off_the_scale_is_refused_at_its_question(client, fixed_clock, nps):
    token = issued(kind=THREE, language="en")

    response = client.post(url(token), {"csat": "4", "nps": nps, "ces": "3", "comment": "Kept"})

    assert response.status_code == 422
    page = html(response)
    assert '<ul class="errorlist" id="nps-error"><li>Please choose one of the scores shown.</li></ul>' in page
    assert (checked(page, "csat"), checked(page, "ces")) == (["4"], ["3"])
    assert ">Kept</textarea>" in page
    assert not Event.objects.exists()


def test_an_oversized_comment_is_refused_and_the_scores_kept(client, fixed_clock):
    token = issued(kind=THREE, language="en")

    response = client.post(url(token), {"csat": "1", "nps": "0", "ces": "1", "comment": "x" * 2001})

    assert response.status_code == 422
    page = html(response)
    assert "Please keep your comment to at most 2000 characters; it now has 2001." in page
    assert (checked(page, "csat"), checked(page, "nps"), checked(page, "ces")) == (["1"], ["0"], ["1"])
    assert ">" + "x" * 2001 + "</textarea>" in page
    assert set(Survey.objects.values_list("answered_at", flat=True)) == {None}


def test_an_answered_or_expired_send_gets_the_friendly_page(client, fixed_clock):
    answered = issued(key="tp-1", kind=THREE, language="en")
    expired = issued(key="tp-2", kind=THREE, language="en")
    client.post(url(answered), {"csat": "4", "nps": "8", "ces": "5"})
    Survey.objects.filter(key="tp-2").update(expires_at=fixed_clock.now() + timedelta(seconds=1))
    fixed_clock.advance(timedelta(seconds=1))

    again = client.post(url(answered), {"csat": "1", "nps": "0", "ces": "1"})
    closed = client.get(url(expired))

    assert (again.status_code, closed.status_code) == (410, 410)
    assert "<h1>Already answered</h1>" in html(again)
    assert "<h1>Survey closed</h1>" in html(closed)
    assert list(Survey.objects.filter(key="tp-1").order_by("position").values_list("score", flat=True)) == [
        4,
        8,
        5,
    ]


def test_the_moment_question_names_the_moment_in_the_readers_language(client, fixed_clock):
    topic = {"nl": "Monteur onderweg", "en": "Technician on the way"}
    token = issued(
        kind="moment", touchpoint="on_the_way", topic=topic, customer=CustomerFactory(), language="nl"
    )

    dutch = html(client.get(url(token)))
    client.cookies["django_language"] = "en"
    english = html(client.get(url(token)))

    assert english.count("<fieldset") == 1
    assert "<legend>How was this moment: “Technician on the way”?</legend>" in english
    assert radios(english, "moment") == [
        ("1", "1 – Very bad"),
        ("2", "2 – Bad"),
        ("3", "3 – Okay"),
        ("4", "4 – Good"),
        ("5", "5 – Very good"),
    ]
    assert "Monteur onderweg" in dutch
    response = client.post(url(token), {"moment": "4"})
    assert response.status_code == 302
    assert Survey.objects.get().score == 4
