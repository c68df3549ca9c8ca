"""The process page and its analysis runs on a hand-built log: the
directly-follows steps, sentiment, conformance run as a real task with its
drill-down, and the XES / OCEL downloads."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils.html import escape

from klantreis.accounts.tests.factories import UserFactory
from klantreis.core.clock import FixedClock, use_clock
from klantreis.insights.models import AnalysisRun
from klantreis.insights.runs import analysis_run_execute
from klantreis.insights.services import insights_refresh
from klantreis.insights.tests.test_mining import definition, journey  # noqa: F401 - a fixture
from klantreis.journeys.models import JourneyDefinition

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PROCESS = reverse("insights:process")
# Ten days after the planted journeys (9–11 March 2026): all in the default period.
LATER = datetime(2026, 3, 20, 12, tzinfo=AMSTERDAM)
PERIOD = {"start": "2026-03-01", "end": "2026-03-20"}


@pytest.fixture
def planted(definition: JourneyDefinition) -> JourneyDefinition:  # noqa: F811
    journey("case-fits")
    journey("case-skips", skip="reminder")
    with use_clock(FixedClock(LATER)):
        insights_refresh()
    return definition


@pytest.fixture
def later():
    with use_clock(FixedClock(LATER)) as fixed:
        yield fixed


@pytest.fixture
def designer(client):
    user = UserFactory(role="designer", language="en")
    client.force_login(user)
    return user


def start(client, kind: str) -> AnalysisRun:
    response = client.post(reverse("insights:run_start"), {"kind": kind, **PERIOD})
    run = AnalysisRun.objects.order_by("-pk").first()
    assert run is not None
    assert response["Location"] == reverse("insights:run", kwargs={"run_id": run.pk})
    return run


@pytest.mark.django_db
def test_process_page_shows_what_followed_what_and_the_sentiment(client, designer, planted, later):
    response = client.get(PROCESS, PERIOD)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<td>request.reported</td><td>→ journey.started</td><td>2</td>" in content
    assert "Designed and measured sentiment per touchpoint" in content
    assert 'role="img"' in content
    assert "peak" in content
    assert escape(f"active journey “repair”, version {planted.version}") in content


@pytest.mark.django_db
def test_process_page_with_a_bad_filter_still_renders(client, designer, planted, later):
    response = client.get(PROCESS, {"start": "2026-03-20", "end": "2026-03-01"})

    assert response.status_code == 200
    assert "The end of the period is before its start." in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_conformance_runs_as_a_task_and_drills_down_to_the_deviating_case(
    client, designer, planted, later, run_tasks
):
    run = start(client, AnalysisRun.Kind.CONFORMANCE)
    assert run.status == AnalysisRun.Status.QUEUED
    assert run.params["definition"] == {"key": "repair", "version": planted.version}

    run_tasks()

    run.refresh_from_db()
    assert (run.status, run.progress, run.error) == ("done", 100, "")
    assert run.result["cases"] == 2
    assert run.result["fitting"] == 1
    page = client.get(reverse("insights:run", kwargs={"run_id": run.pk})).content.decode()
    assert "1 of 2 cases (50 %) followed the designed journey without a deviation." in page
    assert "<td>skipped</td><td>Reminder the day before</td>" in page
    assert 'hx-trigger="every 2s"' not in page

    cases = client.get(
        reverse("insights:run_cases", kwargs={"run_id": run.pk}),
        {"kind": "skipped", "touchpoint": "reminder"},
    ).content.decode()
    assert ">case-skips</a>" in cases
    assert "case-fits" not in cases
    # The process page links to the latest check of these filters.
    assert reverse("insights:run", kwargs={"run_id": run.pk}) in client.get(PROCESS, PERIOD).content.decode()


@pytest.mark.django_db
def test_xes_export_is_prepared_then_downloaded(
    client, designer, planted, later, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        run = start(client, AnalysisRun.Kind.EXPORT_XES)

    finished = analysis_run_execute(run_id=run.pk)

    assert finished is not None
    assert finished.status == AnalysisRun.Status.DONE
    page = client.get(reverse("insights:run", kwargs={"run_id": run.pk})).content.decode()
    assert f"Download ({finished.result['events']} events)" in page
    response = client.get(reverse("insights:run_file", kwargs={"run_id": run.pk}))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="export_xes-')
    body = b"".join(response.streaming_content)
    assert b"<log" in body
    assert b"case-skips" in body


@pytest.mark.django_db
def test_ocel_export_is_json(client, designer, planted, later, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = start(client, AnalysisRun.Kind.EXPORT_OCEL)

    finished = analysis_run_execute(run_id=run.pk)

    assert finished is not None
    assert finished.status == AnalysisRun.Status.DONE, finished.error
    body = b"".join(client.get(reverse("insights:run_file", kwargs={"run_id": run.pk})).streaming_content)
    assert json.loads(body)
