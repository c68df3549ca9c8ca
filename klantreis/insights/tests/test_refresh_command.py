"""The refresh command and the read-only admin of the summaries."""

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from klantreis.accounts.models import User
from klantreis.accounts.tests.factories import UserFactory
from klantreis.insights.models import CaseSummary
from klantreis.insights.tests.logs import Log, at

pytestmark = pytest.mark.django_db


def test_refresh_insights_once_folds_the_new_events() -> None:
    Log("c1", "R-1").reported(at(2)).visit("fixed", at(3))
    out = StringIO()

    call_command("refresh_insights", "--once", stdout=out)
    call_command("refresh_insights", "--once", "--batch", "1", stdout=out)

    assert out.getvalue().splitlines() == ["Folded 2 events.", "Folded 0 events."]
    assert CaseSummary.objects.get().first_time_fix is True


@pytest.fixture
def admin_client(client: Any) -> Any:
    client.force_login(
        UserFactory(username="beheer", role=User.Role.ADMIN, is_staff=True, is_superuser=True, language="en")
    )
    return client


def test_the_admin_shows_a_summary_and_changes_nothing(admin_client: Any) -> None:
    Log("c1", "R-1").reported(at(2)).message(at(2), "sms", delivered=True)
    call_command("refresh_insights", "--once", stdout=StringIO())
    case = CaseSummary.objects.get()

    listing = admin_client.get(reverse("admin:insights_casesummary_changelist"))
    page = admin_client.get(reverse("admin:insights_casesummary_change", args=[case.pk]))
    posted = admin_client.post(
        reverse("admin:insights_casesummary_change", args=[case.pk]), {"reference": "X"}
    )

    assert listing.status_code == 200
    assert "R-1" in listing.content.decode()
    assert page.status_code == 200
    assert "sms" in page.content.decode()
    assert posted.status_code == 403
    assert CaseSummary.objects.get().reference == "R-1"
    assert admin_client.get(reverse("admin:insights_casesummary_add")).status_code == 403
    assert admin_client.get(reverse("admin:insights_analysisrun_changelist")).status_code == 200
