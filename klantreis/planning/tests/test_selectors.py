from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from klantreis.planning.calendar import Interval
from klantreis.planning.models import Absence, WorkingHours
from klantreis.planning.selectors import technician_shifts
from klantreis.planning.tests.factories import TechnicianFactory

pytestmark = pytest.mark.django_db
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_shifts_follow_working_hours_per_weekday_across_dst_and_skip_free_days():
    jan = TechnicianFactory()
    for weekday in (0, 1, 2, 3, 4):  # Monday to Friday
        WorkingHours.objects.create(technician=jan, weekday=weekday, start=time(7, 30), end=time(16))
    friday, saturday, monday = date(2026, 3, 27), date(2026, 3, 28), date(2026, 3, 30)

    shifts = technician_shifts(technicians=[jan], days=[friday, saturday, monday], zone=AMSTERDAM)

    assert shifts == {
        (jan.pk, friday): [Interval(utc(2026, 3, 27, 6, 30), utc(2026, 3, 27, 15))],
        (jan.pk, monday): [Interval(utc(2026, 3, 30, 5, 30), utc(2026, 3, 30, 14))],
    }


def test_an_absence_cuts_the_shift_and_a_day_off_removes_it():
    piet = TechnicianFactory()
    for weekday in (0, 1):
        WorkingHours.objects.create(technician=piet, weekday=weekday, start=time(8), end=time(16))
    monday, tuesday = date(2026, 3, 9), date(2026, 3, 10)
    Absence.objects.create(
        technician=piet, start=utc(2026, 3, 9, 10), end=utc(2026, 3, 9, 11), reason="other"
    )
    Absence.objects.create(
        technician=piet, start=utc(2026, 3, 9, 23), end=utc(2026, 3, 11, 0), reason="illness"
    )

    shifts = technician_shifts(technicians=[piet], days=[monday, tuesday], zone=AMSTERDAM)

    assert shifts == {
        (piet.pk, monday): [
            Interval(utc(2026, 3, 9, 7), utc(2026, 3, 9, 10)),
            Interval(utc(2026, 3, 9, 11), utc(2026, 3, 9, 15)),
        ]
    }


def test_no_technicians_means_no_queries(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert technician_shifts(technicians=[], days=[date(2026, 3, 9)], zone=AMSTERDAM) == {}
