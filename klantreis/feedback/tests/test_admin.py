import pytest
from django.urls import reverse

from klantreis.accounts.tests.factories import UserFactory
from klantreis.feedback.models import Survey
from klantreis.feedback.services import survey_answer
from klantreis.feedback.tests.factories import issued

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="beheer", role="admin", is_staff=True, is_superuser=True))
    return client


def test_staff_see_surveys_but_cannot_add_or_change_them(admin_client, fixed_clock):
    token = issued(case_id="R-2026-0099")
    survey_answer(token=token, scores={"csat": 2}, comment=HOSTILE)
    survey = Survey.objects.get()

    listing = admin_client.get(reverse("admin:feedback_survey_changelist"))
    shown = admin_client.get(reverse("admin:feedback_survey_change", args=[survey.pk]))
    added = admin_client.get(reverse("admin:feedback_survey_add"))
    changed = admin_client.post(reverse("admin:feedback_survey_change", args=[survey.pk]), {"score": "5"})

    assert listing.status_code == 200
    assert "R-2026-0099" in listing.content.decode()
    assert shown.status_code == 200
    html = shown.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE not in html
    assert 'name="score"' not in html
    assert survey.token_hash not in html
    assert added.status_code == 403
    assert changed.status_code == 403
    assert Survey.objects.get().score == 2


def test_a_customer_cannot_open_the_survey_admin(client, fixed_clock):
    issued()
    client.force_login(UserFactory(username="huurder", role="customer"))

    response = client.get(reverse("admin:feedback_survey_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
