"""How a visit ended: the reason it was not fixed and the material used are
kept on the job and told in the visit's event."""

import pytest

from klantreis.core.errors import ApplicationError
from klantreis.events.models import Event
from klantreis.planning import services
from klantreis.planning.models import Job
from klantreis.planning.tests.days import crossed_day

pytestmark = pytest.mark.django_db


def test_not_fixed_keeps_reason_and_materials(vera, fixed_clock):
    job = crossed_day().jobs["west-1"]

    services.job_complete(
        job=job, status=Job.Status.NOT_FIXED, actor=None, not_fixed_reason="material", materials="Sifon 32 mm"
    )

    job.refresh_from_db()
    assert (job.status, job.not_fixed_reason, job.materials) == ("not_fixed", "material", "Sifon 32 mm")
    event = Event.objects.get(case_id=job.request.case_id, activity="visit.not_fixed")
    assert (event.attributes["reason"], event.attributes["materials"]) == ("material", "Sifon 32 mm")


def test_fixed_has_no_reason_in_its_event(vera, fixed_clock):
    job = crossed_day().jobs["west-1"]

    services.job_complete(job=job, status=Job.Status.FIXED, actor=None, materials="Kraanleertje")

    event = Event.objects.get(case_id=job.request.case_id, activity="visit.fixed")
    assert "reason" not in event.attributes
    assert event.attributes["materials"] == "Kraanleertje"


@pytest.mark.parametrize(
    ("status", "reason"), [(Job.Status.FIXED, "material"), (Job.Status.NOT_FIXED, "weather")]
)
def test_a_reason_that_does_not_fit_is_refused(vera, fixed_clock, status, reason):
    job = crossed_day().jobs["west-1"]

    with pytest.raises(ApplicationError):
        services.job_complete(job=job, status=status, actor=None, not_fixed_reason=reason)

    job.refresh_from_db()
    assert job.status == Job.Status.OPEN
    assert not Event.objects.filter(case_id=job.request.case_id, activity__startswith="visit.").exists()
