"""Writes of the demo: moving the demo clock. Web and worker processes read
the offset from the database, so both see the same, moved, time."""

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from klantreis.core.errors import ApplicationError
from klantreis.core.models import DemoClockOffset

# Far enough for any journey to run its course, near enough to stay believable.
MAX_OFFSET = timedelta(days=366)

MESSAGE_STEP_NOT_FORWARD = _("The demo clock only moves forward.")
MESSAGE_OFFSET_TOO_LARGE = _("The demo clock cannot run more than a year ahead.")


@transaction.atomic
def demo_clock_advance(*, by: timedelta) -> timedelta:
    """Move the demo clock forward by `by`; returns the new offset."""
    if by <= timedelta():
        raise ApplicationError(MESSAGE_STEP_NOT_FORWARD, field="by")
    DemoClockOffset.objects.get_or_create(pk=1)
    locked = DemoClockOffset.objects.select_for_update().get(pk=1)
    if locked.offset + by > MAX_OFFSET:
        raise ApplicationError(MESSAGE_OFFSET_TOO_LARGE, field="by")
    DemoClockOffset.objects.filter(pk=1).update(offset=F("offset") + by)
    return locked.offset + by


@transaction.atomic
def demo_clock_reset() -> None:
    DemoClockOffset.objects.update_or_create(pk=1, defaults={"offset": timedelta()})
