"""A survey link opened again, after it was answered or after it closed, gets
a friendly page with a way on (the phone, the tenant's requests), never an error."""

from datetime import timedelta

import pytest
from django.urls import reverse

from klantreis.core.models import Organisation
from klantreis.events.models import Event
from klantreis.feedback.models import Survey
from klantreis.feedback.services import survey_answer
from klantreis.feedback.tests.factories import issued

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def organisation(db):
    return Organisation.objects.create(name="Woonstede", emergency_phone="112", service_phone="030 123 45 67")


def answer_url(token):
    return reverse("feedback:answer", kwargs={"token": token})


def test_an_answered_survey_opened_again_leads_on_to_the_portal(client, fixed_clock):
    token = issued(language="en")
    survey_answer(token=token, scores={"csat": 4}, comment="Goed")
    fixed_clock.advance(timedelta(days=3))

    shown = client.get(answer_url(token))
    thanks = client.get(reverse("feedback:thanks", kwargs={"token": token}))

    assert shown.status_code == 410
    html = shown.content.decode()
    assert "<h1>Already answered</h1>" in html
    assert f'<a href="{reverse("portal:home")}">See your requests</a>' in html
    assert '<form method="post" action="/survey/' not in html
    assert thanks.status_code == 200  # the thank-you page stays reachable
    assert Survey.objects.get().score == 4
    assert Event.objects.filter(activity="survey.answered").count() == 1


def test_an_expired_survey_opened_again_after_weeks_is_friendly(client, fixed_clock):
    token = issued(language="en")
    fixed_clock.advance(timedelta(days=40))

    response = client.get(answer_url(token))

    assert response.status_code == 410
    html = response.content.decode()
    assert "<h1>Survey closed</h1>" in html
    assert f'<a href="{reverse("portal:home")}">See your requests</a>' in html
    assert Survey.objects.get().answered_at is None
