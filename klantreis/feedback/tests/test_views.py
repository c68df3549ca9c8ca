import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from klantreis.core.models import Organisation
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.feedback.models import Survey
from klantreis.feedback.services import survey_answer
from klantreis.feedback.tests.factories import issued

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert('x')</script><b onmouseover=alert(1)>vet</b> & co"


@pytest.fixture(autouse=True)
def organisation(db):
    return Organisation.objects.create(name="Woonstede", emergency_phone="112", service_phone="030 123 45 67")


def answer_url(token: str) -> str:
    return reverse("feedback:answer", kwargs={"token": token})


def thanks_url(token: str) -> str:
    return reverse("feedback:thanks", kwargs={"token": token})


def page(response) -> str:
    return response.content.decode()


def assert_private(response) -> None:
    """The token is in the URL: nothing may cache the page or pass the path on."""
    assert response["Referrer-Policy"] == "strict-origin"
    assert "no-store" in response["Cache-Control"].split(", ")
    assert "private" in response["Cache-Control"].split(", ")


def csrf_token_of(response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page(response))
    assert match, page(response)
    return match.group(1)


# Showing the question


def test_the_page_asks_the_question_in_the_surveys_language_dutch(client, fixed_clock):
    token = issued(language="nl")

    response = client.get(answer_url(token))

    assert response.status_code == 200
    assert_private(response)
    assert response["Content-Language"] == "nl"
    html = page(response)
    assert '<html lang="nl">' in html
    assert "<legend>Hoe tevreden bent u over de reparatie?</legend>" in html
    labels = re.findall(r'<input type="radio" name="csat" value="(\d)"[^>]*> <span>([^<]+)</span>', html)
    assert labels == [
        ("1", "1 – Zeer ontevreden"),
        ("2", "2 – Ontevreden"),
        ("3", "3 – Niet tevreden, niet ontevreden"),
        ("4", "4 – Tevreden"),
        ("5", "5 – Zeer tevreden"),
    ]
    assert re.search(r"<fieldset id=\"id_csat\" class=\"survey-question\">\s*<legend>", html)
    assert '<label for="id_comment">Wilt u ons nog iets vertellen? (niet verplicht)</label>' in html
    assert '<textarea name="comment" id="id_comment" rows="5" aria-describedby="comment-help">' in html
    assert 'id="comment-help">Maximaal 2000 tekens.</span>' in html
    assert "Verstuur mijn antwoord" in html
    assert f'action="{answer_url(token)}"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_the_page_asks_the_question_in_the_surveys_language_english(client, fixed_clock):
    token = issued(language="en", customer=CustomerFactory(user__language="nl"))

    response = client.get(answer_url(token), headers={"accept-language": "nl"})

    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    html = page(response)
    assert '<html lang="en">' in html
    assert "<legend>How satisfied are you with the repair?</legend>" in html
    assert "1 – Very dissatisfied" in html
    assert "5 – Very satisfied" in html
    assert "Hoe tevreden" not in html


def test_a_language_chosen_with_the_switch_wins_over_the_surveys(client, fixed_clock, settings):
    token = issued(language="nl")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get(answer_url(token))

    assert response["Content-Language"] == "en"
    assert "How satisfied are you with the repair?" in page(response)


def test_a_nonsense_language_cookie_is_ignored(client, fixed_clock, settings):
    token = issued(language="en")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "xx"

    response = client.get(answer_url(token))

    assert response["Content-Language"] == "en"


def test_the_page_has_no_inline_script_or_style(client, fixed_clock):
    token = issued()

    html = page(client.get(answer_url(token)))

    assert "style=" not in html
    assert "<style" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []


def test_other_methods_are_not_allowed(client, fixed_clock):
    token = issued()

    assert client.put(answer_url(token)).status_code == 405
    assert client.post(thanks_url(token)).status_code == 405
    assert Survey.objects.get().answered_at is None


# Answering


def test_an_answer_with_the_csrf_token_is_stored_and_thanked_for(fixed_clock):
    client = Client(enforce_csrf_checks=True)
    customer = CustomerFactory()
    token = issued(customer=customer, case_id="R-2026-0007")
    form = client.get(answer_url(token))

    response = client.post(
        answer_url(token),
        {"csrfmiddlewaretoken": csrf_token_of(form), "csat": "4", "comment": "Vriendelijke monteur."},
    )

    assert response.status_code == 302
    assert response["Location"] == thanks_url(token)
    assert_private(response)
    survey = Survey.objects.get()
    assert (survey.score, survey.comment) == (4, "Vriendelijke monteur.")
    assert survey.answered_at == fixed_clock.now()
    [event] = Event.objects.filter(activity="survey.answered")
    assert (event.case_id, event.actor, event.channel) == ("R-2026-0007", customer.user, "portal")
    assert event.attributes["score"] == 4

    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert_private(thanks)
    assert thanks["Content-Language"] == "nl"
    assert "<h1>Bedankt voor uw antwoord</h1>" in page(thanks)


def test_a_post_without_the_csrf_token_is_refused_and_stores_nothing(fixed_clock):
    client = Client(enforce_csrf_checks=True)
    token = issued()

    response = client.post(answer_url(token), {"csat": "4", "comment": ""})

    assert response.status_code == 403
    assert Survey.objects.get().answered_at is None
    assert not Event.objects.exists()


def test_no_score_shows_the_error_at_the_question_and_keeps_the_comment_escaped(client, fixed_clock):
    token = issued(language="nl")

    response = client.post(answer_url(token), {"comment": HOSTILE})

    assert response.status_code == 422
    assert_private(response)
    html = page(response)
    assert re.search(
        r'<fieldset id="id_csat" class="survey-question field-error" aria-describedby="csat-error">\s*'
        r"<legend>Hoe tevreden bent u over de reparatie\?</legend>\s*"
        r'<ul class="errorlist" id="csat-error"><li>Kies een cijfer.</li></ul>',
        html,
    )
    assert '<li><a href="#id_csat">Kies een cijfer.</a></li>' in html  # the summary links to it
    assert (
        ">&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
        "&lt;b onmouseover=alert(1)&gt;vet&lt;/b&gt; &amp; co</textarea>"
    ) in html
    assert "<script>alert" not in html
    assert "<b onmouseover" not in html
    assert Survey.objects.get().answered_at is None
    assert not Event.objects.exists()


def test_errors_are_in_english_on_an_english_survey(client, fixed_clock):
    token = issued(language="en")

    response = client.post(answer_url(token), {"csat": "9"})

    assert response.status_code == 422
    error = "Please choose one of the scores shown."
    assert f'<ul class="errorlist" id="csat-error"><li>{error}</li></ul>' in page(response)


@pytest.mark.parametrize("score", ["0", "6", "-1", "3.0", "drie", "4; DROP TABLE", "1" * 400])
def test_a_score_not_on_the_scale_is_refused_at_the_question(client, fixed_clock, score):
    token = issued()

    response = client.post(answer_url(token), {"csat": score, "comment": "Prima"})

    assert response.status_code == 422
    assert '<ul class="errorlist" id="csat-error"><li>Kies een van de getoonde cijfers.</li></ul>' in page(
        response
    )
    assert Survey.objects.get().answered_at is None


def test_a_comment_too_long_is_refused_next_to_it_and_nothing_typed_is_lost(client, fixed_clock):
    token = issued()
    comment = "Het lekt weer. " * 133 + "Einde!"  # 2001 characters

    response = client.post(answer_url(token), {"csat": "2", "comment": comment})

    assert len(comment) == 2001
    assert response.status_code == 422
    html = page(response)
    assert (
        '<ul class="errorlist" id="comment-error"><li>Houd uw toelichting op maximaal 2000 tekens; '
        "nu zijn het er 2001.</li></ul>"
    ) in html
    assert 'aria-describedby="comment-help comment-error" aria-invalid="true">' in html
    assert f">{comment}</textarea>" in html
    assert re.search(r'<input type="radio" name="csat" value="2"[^>]*checked', html)
    assert Survey.objects.get().answered_at is None


def test_a_comment_of_2000_characters_is_taken(client, fixed_clock):
    token = issued()

    response = client.post(answer_url(token), {"csat": "3", "comment": "a" * 2000})

    assert response.status_code == 302
    assert Survey.objects.get().comment == "a" * 2000


def test_a_comment_with_a_null_character_is_refused_next_to_it(client, fixed_clock):
    token = issued()

    response = client.post(answer_url(token), {"csat": "3", "comment": "ok\x00"})

    assert response.status_code == 422
    assert 'id="comment-error"' in page(response)
    assert Survey.objects.get().answered_at is None


def test_the_comment_is_stored_as_typed_not_as_html(client, fixed_clock):
    token = issued()

    client.post(answer_url(token), {"csat": "1", "comment": HOSTILE})

    assert Survey.objects.get().comment == HOSTILE


def test_a_link_answers_only_its_own_survey(client, fixed_clock):
    customer = CustomerFactory()
    mine, other = issued(key="tp-1", customer=customer), issued(key="tp-2", customer=customer)

    client.post(answer_url(mine), {"csat": "5"})

    assert Survey.objects.get(key="tp-1").score == 5
    assert Survey.objects.get(key="tp-2").answered_at is None
    assert client.get(answer_url(other)).status_code == 200


# Links that no longer work


def test_an_answered_survey_gets_a_friendly_410_with_the_phone(client, fixed_clock):
    token = issued()
    survey_answer(token=token, scores={"csat": 5}, comment="")

    shown = client.get(answer_url(token))
    posted = client.post(answer_url(token), {"csat": "1", "comment": "again"})

    for response in (shown, posted):
        assert response.status_code == 410
        assert_private(response)
        html = page(response)
        assert "<h1>Al ingevuld</h1>" in html
        assert "Deze enquête is al ingevuld. Bedankt!" in html
        assert '<a href="tel:0301234567">030 123 45 67</a>' in html
        assert '<form method="post" action="/survey/' not in html
    assert Survey.objects.get().score == 5
    assert Event.objects.filter(activity="survey.answered").count() == 1


def test_an_expired_survey_gets_a_friendly_410_in_its_language(client, fixed_clock):
    token = issued(language="en", expires_at=fixed_clock.now() + timedelta(days=7))
    fixed_clock.advance(timedelta(days=7))

    shown = client.get(answer_url(token))
    posted = client.post(answer_url(token), {"csat": "4"})

    for response in (shown, posted):
        assert response.status_code == 410
        assert response["Content-Language"] == "en"
        html = page(response)
        assert "<h1>Survey closed</h1>" in html
        assert "This survey has closed; answers can no longer be given." in html
        assert '<a href="tel:0301234567">030 123 45 67</a>' in html
    assert Survey.objects.get().answered_at is None


def test_a_survey_that_closes_while_the_page_is_open_refuses_the_answer(client, fixed_clock):
    token = issued(expires_at=fixed_clock.now() + timedelta(minutes=10))
    assert client.get(answer_url(token)).status_code == 200
    fixed_clock.advance(timedelta(minutes=10))

    response = client.post(answer_url(token), {"csat": "4", "comment": "Net te laat"})

    assert response.status_code == 410
    assert "Deze enquête is gesloten" in page(response)
    assert Survey.objects.get().answered_at is None


@pytest.mark.parametrize("token", ["nonsense", "x" * 43, "A" * 2000, "%3Cscript%3E"])
def test_an_unknown_link_gets_a_friendly_404(client, fixed_clock, token):
    issued()

    for response in (client.get(answer_url(token)), client.post(answer_url(token), {"csat": "3"})):
        assert response.status_code == 404
        assert_private(response)
        html = page(response)
        assert "<h1>Enquête niet gevonden</h1>" in html
        assert "We kunnen deze enquête niet vinden. Controleer of de link volledig is." in html
        assert '<a href="tel:0301234567">030 123 45 67</a>' in html
    assert client.get(thanks_url(token)).status_code == 404
    assert Survey.objects.get().answered_at is None


def test_the_unknown_link_page_speaks_the_visitors_language(client, fixed_clock):
    response = client.get(answer_url("nonsense"), headers={"accept-language": "en"})

    assert response.status_code == 404
    assert "<h1>Survey not found</h1>" in page(response)


def test_without_a_service_phone_the_page_still_explains(client, fixed_clock, organisation):
    Organisation.objects.update(service_phone="")
    response = client.get(answer_url("nonsense"))

    assert response.status_code == 404
    assert "Controleer of de link volledig is." in page(response)
    assert "tel:" not in page(response)


def test_thanks_before_answering_goes_to_the_question(client, fixed_clock):
    token = issued()

    response = client.get(thanks_url(token))

    assert response.status_code == 302
    assert response["Location"] == answer_url(token)
    assert_private(response)
