"""The technician app's writes: an update applies once per key, also when
two copies of it arrive at the same moment."""

import threading
import uuid

import pytest
from django.db import connection, connections, transaction

from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.errors import ApplicationError
from klantreis.events.models import Event
from klantreis.field import services
from klantreis.field.models import FieldUpdate
from klantreis.field.tests.days import field_day_make
from klantreis.planning.models import Job, Technician
from klantreis.planning.tests.days import at


def arrivals(job):
    return Event.objects.filter(case_id=job.request.case_id, activity="visit.arrived").count()


@pytest.mark.django_db
def test_a_refused_update_leaves_its_key_unused(field_day):
    job = field_day.jobs["east-1"]
    key = uuid.uuid4()

    with pytest.raises(ApplicationError):
        services.visit_complete(job=job, user=field_day.west_user, key=key, status="not_fixed")

    assert not FieldUpdate.objects.filter(key=key).exists()
    applied = services.visit_complete(
        job=job, user=field_day.west_user, key=key, status="not_fixed", not_fixed_reason="expertise"
    )
    assert (applied.replayed, applied.job.status, applied.job.not_fixed_reason) == (
        False,
        Job.Status.NOT_FIXED,
        "expertise",
    )


@pytest.mark.django_db
def test_on_the_way_without_a_position_uses_the_last_known_one(field_day):
    job = field_day.jobs["east-1"]
    Technician.objects.filter(pk=field_day.west.pk).update(last_latitude=52.2, last_longitude=5.3)
    field_day.west.refresh_from_db()
    job.refresh_from_db()

    applied = services.visit_on_the_way(job=job, user=field_day.west_user, key=uuid.uuid4())

    assert applied.job.on_the_way_at == at(7)
    assert applied.job.expected_arrival is not None
    west = Technician.objects.get(pk=field_day.west.pk)
    assert (west.last_latitude, west.last_longitude) == (52.2, 5.3)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL; .ci/run runs this suite on PostgreSQL too",
)
def test_two_copies_of_one_update_at_the_same_moment_apply_once_on_postgresql(vera):
    """The phone sent the update, lost the connection and sent it again while
    the first was still being written: the second waits on the key and then
    answers as if it succeeded."""
    with use_clock(FixedClock(at(7))):
        day = field_day_make()
    job, user, key = day.jobs["east-1"], day.west_user, uuid.uuid4()
    first_applied, commit_first = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def attempt(name: str, hold: bool = False) -> None:
        try:
            with use_clock(FixedClock(at(7))), transaction.atomic():
                applied = services.visit_arrive(job=Job.objects.get(pk=job.pk), user=user, key=key)
                if hold:
                    first_applied.set()
                    commit_first.wait(timeout=20)
            outcomes[name] = "replayed" if applied.replayed else "applied"
        except ApplicationError as error:
            outcomes[name] = str(error.message)
        finally:
            first_applied.set()
            connections.close_all()

    one = threading.Thread(target=attempt, args=("first", True))
    one.start()
    assert first_applied.wait(timeout=20)
    two = threading.Thread(target=attempt, args=("second",))
    two.start()
    two.join(timeout=2)  # waiting on the key's unique index
    commit_first.set()
    one.join(timeout=20)
    two.join(timeout=20)

    assert outcomes == {"first": "applied", "second": "replayed"}
    assert arrivals(job) == 1
    assert FieldUpdate.objects.filter(key=key).count() == 1
